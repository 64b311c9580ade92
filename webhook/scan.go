package webhook

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Template keys, spelled as the seed's payload spells them.
const (
	keyStatus        = "status"
	keyDesc          = "desc"
	keyID            = "id"
	keyAuthorization = "Authorization"
)

// maxTailFields bounds how many fields the backward scan of the tail reads.
const maxTailFields = 8

// fields is what the positional scanner takes out of a delivery body. desc
// points into the body and is converted (and unescaped) only when asked
// for; the short fields are copies.
type fields struct {
	status    string // "" when there is none
	statusErr string // why the status cannot be read; "" when it can
	desc      []byte // the description's raw text (see description)
	hasDesc   bool
	id        string // the raw id text (quotes removed)
	hasID     bool
	token     string // the body's Authorization value
	hasToken  bool
}

// scan reads a delivery body the way the template is laid out:
//
//	{"status": "<status>", "desc": "<description>", ["id": "<id>",] "Authorization": "<token>"}
//
// SDP substitutes placeholders raw, so the description may hold quotes,
// backslashes and line breaks that make the body invalid JSON, and text
// that looks like other fields. status is taken from its first occurrence,
// which precedes the description; id and Authorization from their last
// occurrence, read backwards from the end of the body, since the
// description always sits before them. Whatever sits inside the
// description therefore never decides them.
func scan(body []byte) fields {
	var f fields
	tailStart := scanTail(body, &f)
	statusKey := findKey(body, keyStatus, 0)
	descKey := findKey(body, keyDesc, 0)
	switch {
	case statusKey < 0:
		f.statusErr = "no \"status\" field"
	case descKey >= 0 && descKey < statusKey:
		// The first "status" follows the description: it may be text of
		// the description, so it cannot be trusted.
		f.statusErr = "the \"status\" field must come before \"desc\""
	case tailStart >= 0 && statusKey >= tailStart:
		// Defensive: the tail holds no quotes, so this needs a layout the
		// template never has.
		f.statusErr = "the \"status\" field must come before \"id\" and \"Authorization\""
	default:
		f.status, f.statusErr = readStatus(body, statusKey+len(keyStatus)+2)
	}
	if descKey >= 0 && (statusKey < 0 || descKey > statusKey) {
		end := len(body)
		if tailStart >= 0 {
			end = tailStart
		}
		f.desc, f.hasDesc = readDesc(body, descKey+len(keyDesc)+2, end)
	}
	return f
}

// findKey returns the index of the first `"key"` at or after from that is
// followed by optional white space and a colon, or -1.
func findKey(body []byte, key string, from int) int {
	for from <= len(body) {
		i := indexQuoted(body[from:], key)
		if i < 0 {
			return -1
		}
		i += from
		j := skipSpace(body, i+len(key)+2)
		if j < len(body) && body[j] == ':' {
			return i
		}
		from = i + 1
	}
	return -1
}

// indexQuoted finds `"key"` in b.
func indexQuoted(b []byte, key string) int {
	for off := 0; ; {
		i := bytes.Index(b[off:], []byte(key))
		if i < 0 {
			return -1
		}
		i += off
		if i > 0 && i+len(key) < len(b) && b[i-1] == '"' && b[i+len(key)] == '"' {
			return i - 1
		}
		off = i + 1
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

func skipSpaceBack(b []byte, i int) int {
	for i > 0 && isSpace(b[i-1]) {
		i--
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// readStatus reads the status value that starts after the key's closing
// quote at i (colon and white space still to skip). The value must be a
// string; it ends at the first quote followed by a comma or the closing
// brace, so a status name holding a quote is still read whole.
func readStatus(body []byte, i int) (string, string) {
	i = skipSpace(body, i)
	if i >= len(body) || body[i] != ':' {
		return "", "no \"status\" field"
	}
	i = skipSpace(body, i+1)
	if i >= len(body) {
		return "", "\"status\" has no value"
	}
	if body[i] != '"' {
		if body[i] == 'n' {
			return "", "\"status\" is null"
		}
		return "", "\"status\" is not a string"
	}
	start := i + 1
	for j := start; j < len(body); j++ {
		if body[j] != '"' || escaped(body, start, j) {
			continue
		}
		k := skipSpace(body, j+1)
		if k < len(body) && (body[k] == ',' || body[k] == '}') {
			return finishStatus(body[start:j])
		}
	}
	return "", "\"status\" is not a terminated string"
}

// escaped reports whether the quote at j is preceded by an odd number of
// backslashes (counting no further back than start).
func escaped(b []byte, start, j int) bool {
	n := 0
	for k := j - 1; k >= start && b[k] == '\\'; k-- {
		n++
	}
	return n%2 == 1
}

func finishStatus(raw []byte) (string, string) {
	s := unescape(raw)
	if !utf8.ValidString(s) {
		return "", "\"status\" is not valid UTF-8"
	}
	blank := true
	for i := 0; i < len(s); i++ {
		if !isSpace(s[i]) {
			blank = false
			break
		}
	}
	if blank {
		return "", "\"status\" is empty"
	}
	if len(s) > maxStatusLen {
		return "", "\"status\" is longer than " + strconv.Itoa(maxStatusLen) + " bytes"
	}
	return s, ""
}

// maxStatusLen bounds a status name; SDP's are short.
const maxStatusLen = 256

// unescape returns raw decoded as the content of a JSON string when it is
// one, and raw as it is otherwise (a raw substitution).
func unescape(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw)
	}
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(quoted, '"')
	quoted = append(quoted, raw...)
	quoted = append(quoted, '"')
	var s string
	if json.Unmarshal(quoted, &s) == nil {
		return s
	}
	return string(raw)
}

// description returns the description, unescaped when it is a valid JSON
// string's content and as it was substituted otherwise.
func (f *fields) description() string { return unescape(f.desc) }

// readDesc reads the description that starts after the key at i and ends
// before end (the start of the tail fields, or the end of the body). Its
// value runs from the opening quote to the last quote before end.
func readDesc(body []byte, i, end int) ([]byte, bool) {
	i = skipSpace(body, i)
	if i >= end || body[i] != ':' {
		return nil, false
	}
	i = skipSpace(body, i+1)
	if i >= end || body[i] != '"' {
		return nil, false
	}
	j := bytes.LastIndexByte(body[i+1:end], '"')
	if j < 0 {
		return nil, false
	}
	return body[i+1 : i+1+j], true
}

// scanTail reads the fields at the end of the body backwards, from the
// closing brace, and fills f's id and token. It reads only the fields a
// template puts after the description, "id" and "Authorization", each
// once: the first one read backwards is the last occurrence, and a second
// occurrence, or any other key, is text of the description. It returns
// the index where the tail fields begin (the comma before the first of
// them), or -1 when none was read.
func scanTail(body []byte, f *fields) int {
	i := skipSpaceBack(body, len(body))
	if i == 0 || body[i-1] != '}' {
		return -1
	}
	i--
	start := -1
	for range maxTailFields {
		key, val, quoted, at, ok := fieldBack(body, i)
		if !ok {
			break
		}
		switch {
		case string(key) == keyID && !f.hasID:
			f.id, f.hasID = string(val), true
		case string(key) == keyAuthorization && !f.hasToken && quoted:
			f.token, f.hasToken = string(val), true
		default:
			return start
		}
		j := skipSpaceBack(body, at)
		if j == 0 || body[j-1] != ',' {
			return at
		}
		i = j - 1
		start = i
	}
	return start
}

// fieldBack reads one `"key": value` pair ending just before i (white
// space allowed), where value is a string without quotes or backslashes,
// a number, true, false or null. It returns the key, the value's text,
// whether it was a string, and the index of the key's opening quote.
func fieldBack(body []byte, i int) (key, val []byte, quoted bool, at int, ok bool) {
	i = skipSpaceBack(body, i)
	if i == 0 {
		return
	}
	var vs int
	if body[i-1] == '"' {
		j := bytes.LastIndexByte(body[:i-1], '"')
		if j < 0 {
			return
		}
		v := body[j+1 : i-1]
		if bytes.IndexByte(v, '\\') >= 0 || bytes.IndexByte(v, '\n') >= 0 {
			return
		}
		val, quoted, vs = v, true, j
	} else {
		j := i
		for j > 0 && isBareValueByte(body[j-1]) {
			j--
		}
		if j == i {
			return
		}
		val, vs = body[j:i], j
	}
	k := skipSpaceBack(body, vs)
	if k == 0 || body[k-1] != ':' {
		return
	}
	k = skipSpaceBack(body, k-1)
	if k == 0 || body[k-1] != '"' {
		return
	}
	ks := bytes.LastIndexByte(body[:k-1], '"')
	if ks < 0 {
		return
	}
	return body[ks+1 : k-1], val, quoted, ks, true
}

func isBareValueByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E'
}
