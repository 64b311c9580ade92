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
// description's footer as one token, in one of two versions:
//
//	FRDREF:2:<instance>:<workspace>:<id>:<mac>    keyed (WithReferenceKey)
//	FRDREF:1:<instance>:<workspace>:<id>:<check>  unkeyed
//
// where <mac> is the first 16 bytes (128 bits), as 32 lower-case hex
// digits, of the HMAC-SHA256 under the Mapper's reference key of
// "2:<instance>:<workspace>:<id>", and <check> is eight lower-case hex
// digits of the CRC-32 (IEEE) of "1:<instance>:<workspace>:<id>". The token
// holds no space and no character HTML escapes, so SDP's HTML handling
// leaves it readable; the fixed field order and character sets make it read
// back one way only.
//
// Only the keyed version proves anything: anyone who can write a
// description can compute a CRC-32, so an unkeyed reference only guards
// against typos and look-alikes, while a keyed one can be made only by
// holders of the key. Mapper.VerifyReference checks a parsed reference.
type Reference struct {
	Instance  string // instance label, "" for a single instance
	Workspace string
	VulnID    int64
	// MAC is the token's check as written: 32 hex digits for a keyed
	// reference, 8 for an unkeyed one. ParseReference sets it; String
	// writes it. When it has neither length (empty, say), String writes
	// an unkeyed reference with its checksum.
	MAC string
}

// Keyed reports whether r carries a keyed MAC (version 2), as opposed to
// an unkeyed checksum. It says nothing about whether the MAC is right:
// that is Mapper.VerifyReference's job.
func (r Reference) Keyed() bool { return len(r.MAC) == keyedMACHex }

// String returns the reference token.
func (r Reference) String() string {
	var b strings.Builder
	r.writeTo(&b)
	return b.String()
}

const (
	refPrefix        = "FRDREF:"
	refVersion       = "1"
	refVersionKeyed  = "2"
	unkeyedMACHex    = 8
	keyedMACHex      = 32 // 128 bits of HMAC-SHA256
	referenceKeySize = 32 // bytes NewReferenceKey returns
)

// MinReferenceKeyBytes is the length of the shortest reference key
// WithReferenceKey accepts.
const MinReferenceKeyBytes = 16

func (r Reference) payload(version string) string {
	return version + ":" + r.Instance + ":" + r.Workspace + ":" + strconv.FormatInt(r.VulnID, 10)
}

// appendPayload appends what the check covers: "<version>:<instance>:
// <workspace>:<id>".
func (r Reference) appendPayload(b []byte, version string) []byte {
	b = append(b, version...)
	b = append(b, ':')
	b = append(b, r.Instance...)
	b = append(b, ':')
	b = append(b, r.Workspace...)
	b = append(b, ':')
	return strconv.AppendInt(b, r.VulnID, 10)
}

// crcSum returns the unkeyed check of r, as hex.
func (r Reference) crcSum() [unkeyedMACHex]byte {
	var buf [128]byte
	var sum [unkeyedMACHex]byte
	hexSum(&sum, crc32.ChecksumIEEE(r.appendPayload(buf[:0], refVersion)))
	return sum
}

// crcCheck returns the unkeyed check of r.
func (r Reference) crcCheck() string {
	sum := r.crcSum()
	return string(sum[:])
}

// crcMatches reports whether r.MAC is r's unkeyed check.
func (r Reference) crcMatches() bool {
	sum := r.crcSum()
	return len(r.MAC) == unkeyedMACHex && string(sum[:]) == r.MAC
}

func (r Reference) writeTo(b *strings.Builder) {
	version, mac := refVersion, r.MAC
	switch {
	case r.Keyed():
		version = refVersionKeyed
	case mac == "" || len(mac) != unkeyedMACHex:
		mac = r.crcCheck()
	}
	b.WriteString(refPrefix)
	b.WriteString(r.payload(version))
	b.WriteByte(':')
	b.WriteString(mac)
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
// white space treated alike) and returns the last well-formed reference:
// an unkeyed one whose checksum matches, or a keyed one with a MAC of the
// right form (Reference.MAC holds it). The last one wins because vuln text
// earlier in the description can contain a look-alike; the footer always
// ends the description. ok is false when there is none.
//
// ParseReference needs no key and proves nothing about who wrote the
// reference: pass the result to Mapper.VerifyReference before trusting
// it. It runs in time linear in the length of description.
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
	macLen := 0
	switch fields[0] {
	case refVersion:
		macLen = unkeyedMACHex
	case refVersionKeyed:
		macLen = keyedMACHex
	default:
		return Reference{}, false
	}
	if len(s) < macLen {
		return Reference{}, false
	}
	fields[4] = s[:macLen]
	if len(s) > macLen {
		// The token must end here.
		r, _ := utf8.DecodeRuneInString(s[macLen:])
		if isAlnumRune(r) || r == '_' || r == ':' {
			return Reference{}, false
		}
	}
	for k := 0; k < macLen; k++ {
		if c := fields[4][k]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return Reference{}, false
		}
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
	ref.MAC = fields[4]
	if macLen == unkeyedMACHex && !ref.crcMatches() {
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
	// gt is the offset in src of the first '>' at or after pos (len(src)
	// when there is none). It only moves forward, so finding it costs one
	// pass over src in all: every '<' asks for the next '>', and a lone
	// '<' (such as "<1") must not rescan the rest of the text each time.
	src, pos, gt := s, 0, -1
	nextGT := func() int {
		if gt < pos {
			if i := strings.IndexByte(src[pos:], '>'); i >= 0 {
				gt = pos + i
			} else {
				gt = len(src)
			}
		}
		return gt
	}
	for pos < len(src) {
		i := strings.IndexByte(src[pos:], '<')
		if i < 0 {
			b.WriteString(src[pos:])
			break
		}
		b.WriteString(src[pos : pos+i])
		pos += i
		rest := src[pos:]
		if strings.HasPrefix(rest, "<!--") {
			end := -1
			if !unclosed {
				end = strings.Index(rest[4:], "-->")
				unclosed = end < 0 // then no later comment closes either
			}
			if end < 0 {
				// Unclosed: not a comment SDP would keep; read it as text
				// so it cannot hide the footer.
				b.WriteString("<!--")
				pos += 4
				continue
			}
			pos += 4 + end + 3
			continue
		}
		g := nextGT()
		if g == len(src) {
			// No tag can follow: the rest is text.
			b.WriteString(rest)
			break
		}
		if !startsTag(rest) {
			// Not a tag: a lone '<' is text.
			b.WriteByte('<')
			pos++
			continue
		}
		// A tag ends at the first '>': SDP writes '>' in attribute
		// values as an entity.
		if breaksLine(src[pos : g+1]) {
			b.WriteByte(' ')
		}
		pos = g + 1
	}
	return collapseSpace(html.UnescapeString(b.String()))
}

// startsTag reports whether s ("<…") starts a tag: '<' followed by a
// letter, '/', '!' or '?'.
func startsTag(s string) bool {
	if len(s) < 2 {
		return false
	}
	c := s[1]
	return c == '/' || c == '!' || c == '?' || (c|0x20 >= 'a' && c|0x20 <= 'z')
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
