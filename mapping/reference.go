package mapping

import (
	"fmt"
	"hash/crc32"
	"html"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Reference names the vuln a ticket was made from. It is written into the
// description's footer as one token,
//
//	FRDREF:1:<instance>:<workspace>:<id>:<check>
//
// where <check> is eight lower-case hex digits of the CRC-32 (IEEE) of
// "1:<instance>:<workspace>:<id>". The token holds no space and no
// character HTML escapes, so SDP's HTML handling leaves it readable; the
// check makes text that merely looks like a reference (a scanner's output
// quoting one, a typo) fail to parse, and the fixed field order and
// character sets make it read back one way only.
type Reference struct {
	Instance  string // instance label, "" for a single instance
	Workspace string
	VulnID    int64
}

// String returns the reference token.
func (r Reference) String() string {
	var b strings.Builder
	r.writeTo(&b)
	return b.String()
}

const refPrefix = "FRDREF:"
const refVersion = "1"

func (r Reference) payload() string {
	return refVersion + ":" + r.Instance + ":" + r.Workspace + ":" + strconv.FormatInt(r.VulnID, 10)
}

func (r Reference) writeTo(b *strings.Builder) {
	p := r.payload()
	b.WriteString("FRDREF:")
	b.WriteString(p)
	b.WriteByte(':')
	var sum [8]byte
	hexSum(&sum, crc32.ChecksumIEEE([]byte(p)))
	b.Write(sum[:])
}

func hexSum(dst *[8]byte, v uint32) {
	const digits = "0123456789abcdef"
	for i := 7; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

// Validate checks that r can be written: a Faraday workspace name, a
// positive id and a valid instance label.
func (r Reference) Validate() error {
	if !validInstanceLabel(r.Instance) {
		return fmt.Errorf("%w: instance label %s has characters other than letters, digits, '.', '_' and '-'", errBadKey, strconv.Quote(truncateRunes(r.Instance, 64)))
	}
	return checkKey(r.Workspace, r.VulnID)
}

// ParseReference finds the footer reference in a request description as
// ServiceDesk returns it or a webhook delivers it: HTML whose tags,
// entities, <br>s and white space may have been changed. It turns the
// description into text (tags removed, entities decoded, every kind of
// white space treated alike) and returns the last well-formed reference
// whose check matches. The last one wins because vuln text earlier in the
// description can contain a look-alike; the footer always ends the
// description. ok is false when there is none.
func ParseReference(description string) (ref Reference, ok bool) {
	text := htmlToText(description)
	end := len(text)
	for end > 0 {
		i := strings.LastIndex(text[:end], refPrefix)
		if i < 0 {
			break
		}
		if r, good := parseRefAt(text, i); good {
			return r, true
		}
		end = i
	}
	return Reference{}, false
}

// parseRefAt reads a reference token starting at text[i:].
func parseRefAt(text string, i int) (Reference, bool) {
	if i > 0 {
		// The token must not be glued to a preceding word.
		r, _ := utf8.DecodeLastRuneInString(text[:i])
		if isAlnumRune(r) || r == '_' || r == ':' {
			return Reference{}, false
		}
	}
	s := text[i+len(refPrefix):]
	fields := [5]string{}
	for k := range 4 {
		j := strings.IndexByte(s, ':')
		if j < 0 || j > 256 {
			return Reference{}, false
		}
		fields[k] = s[:j]
		s = s[j+1:]
	}
	if len(s) < 8 {
		return Reference{}, false
	}
	fields[4] = s[:8]
	if len(s) > 8 {
		// The token must end here.
		r, _ := utf8.DecodeRuneInString(s[8:])
		if isAlnumRune(r) || r == '_' || r == ':' {
			return Reference{}, false
		}
	}
	if fields[0] != refVersion {
		return Reference{}, false
	}
	ref := Reference{Instance: fields[1], Workspace: fields[2]}
	if !validInstanceLabel(ref.Instance) || !validWorkspace(ref.Workspace) {
		return Reference{}, false
	}
	idText := fields[3]
	if idText == "" || idText[0] == '0' || len(idText) > 18 {
		return Reference{}, false
	}
	for k := 0; k < len(idText); k++ {
		if !isIDRune(rune(idText[k])) {
			return Reference{}, false
		}
	}
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		return Reference{}, false
	}
	ref.VulnID = id
	var want [8]byte
	hexSum(&want, crc32.ChecksumIEEE([]byte(ref.payload())))
	if string(want[:]) != fields[4] {
		return Reference{}, false
	}
	return ref, true
}

// htmlToText turns HTML into text for finding references: tags become a
// space when they break lines (br, p, div, li, tr, td, headings, …) and
// nothing otherwise (an inline tag such as <span> or <wbr> inserted into a
// word keeps the word whole); comments are dropped; entities are decoded;
// every run of white space (no-break spaces included) becomes one space.
func htmlToText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return collapseSpace(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	unclosed := false
	for len(s) > 0 {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		if strings.HasPrefix(s, "<!--") {
			end := -1
			if !unclosed {
				end = strings.Index(s[4:], "-->")
				unclosed = end < 0 // then no later comment closes either
			}
			if end < 0 {
				// Unclosed: not a comment SDP would keep; read it as text
				// so it cannot hide the footer.
				b.WriteString("<!--")
				s = s[4:]
				continue
			}
			s = s[4+end+3:]
			continue
		}
		end := tagEnd(s)
		if end < 0 {
			if strings.IndexByte(s, '>') < 0 {
				// No tag can follow: the rest is text.
				b.WriteString(s)
				break
			}
			// Not a tag: a lone '<' is text.
			b.WriteByte('<')
			s = s[1:]
			continue
		}
		if breaksLine(s[:end]) {
			b.WriteByte(' ')
		}
		s = s[end:]
	}
	return collapseSpace(html.UnescapeString(b.String()))
}

// tagEnd returns the length of the tag at the start of s ("<…>"), or -1
// when s does not start with a tag. A tag ends at the first '>': SDP writes
// '>' in attribute values as an entity.
func tagEnd(s string) int {
	if len(s) < 2 {
		return -1
	}
	c := s[1]
	if c != '/' && c != '!' && c != '?' && (c|0x20 < 'a' || c|0x20 > 'z') {
		return -1
	}
	i := strings.IndexByte(s, '>')
	if i < 0 {
		return -1
	}
	return i + 1
}

var lineBreakTags = map[string]bool{
	"br": true, "p": true, "div": true, "li": true, "ul": true, "ol": true,
	"tr": true, "td": true, "th": true, "table": true, "tbody": true, "thead": true,
	"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"pre": true, "blockquote": true, "hr": true, "section": true, "article": true,
	"header": true, "footer": true, "dl": true, "dt": true, "dd": true,
}

func breaksLine(tag string) bool {
	name := strings.TrimLeft(tag[1:], "/!?")
	n := 0
	for n < len(name) && isASCIIAlnum(name[n]) {
		n++
	}
	return lineBreakTags[strings.ToLower(name[:n])]
}

// collapseSpace replaces every run of white space, no-break spaces
// included, with one space.
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if isSpaceLike(r) {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

func isSpaceLike(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\f', '\v', 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF, 0x200B:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}
