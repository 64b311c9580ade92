package faraday

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Faraday's CSV export writes its list columns (hostnames, cve, cwe, tags,
// policyviolations, refs, …) with Python's repr(): single-quoted strings
// (double-quoted when the text holds a single quote), backslash escapes,
// None for a missing value. This file parses the two shapes the export
// uses, a list of strings and the refs column's list of dictionaries with
// string values. It never evaluates anything.

// errPyLiteral is wrapped by every error of the Python-literal parser.
var errPyLiteral = errors.New("invalid Python literal")

type pyParser struct {
	src string
	pos int
}

func (p *pyParser) errf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errPyLiteral, p.pos, fmt.Sprintf(format, args...))
}

// rest returns a short excerpt of the unread input for error messages.
func (p *pyParser) rest() string {
	r := p.src[p.pos:]
	if len(r) > 16 {
		cut := 16
		for cut > 0 && !utf8.RuneStart(r[cut]) {
			cut--
		}
		r = r[:cut] + "…"
	}
	return r
}

func (p *pyParser) space() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// end checks that only space is left.
func (p *pyParser) end() error {
	p.space()
	if p.pos != len(p.src) {
		return p.errf("unexpected %q after the list", p.rest())
	}
	return nil
}

// open consumes the opening bracket of a list or dictionary.
func (p *pyParser) open(opener byte) error {
	p.space()
	if p.pos >= len(p.src) || p.src[p.pos] != opener {
		return p.errf("expected %q, found %q", opener, p.rest())
	}
	p.pos++
	return nil
}

// closed reports (and consumes) the closing bracket where the next element
// would start.
func (p *pyParser) closed(closer byte) (bool, error) {
	p.space()
	if p.pos >= len(p.src) {
		return false, p.errf("missing %q", closer)
	}
	if p.src[p.pos] == closer {
		p.pos++
		return true, nil
	}
	return false, nil
}

// separator consumes the comma after an element, or leaves the closing
// bracket for closed (a trailing comma is allowed, as in Python).
func (p *pyParser) separator(closer byte) error {
	p.space()
	if p.pos >= len(p.src) {
		return p.errf("missing %q", closer)
	}
	switch p.src[p.pos] {
	case ',':
		p.pos++
	case closer:
	default:
		return p.errf("expected ',' or %q, found %q", closer, p.rest())
	}
	return nil
}

// strOrNone parses a quoted string, or None (as ""; ok false).
func (p *pyParser) strOrNone() (s string, ok bool, err error) {
	if strings.HasPrefix(p.src[p.pos:], "None") {
		p.pos += len("None")
		return "", false, nil
	}
	s, err = p.str()
	return s, true, err
}

// str parses a quoted string with Python's escapes (\\ \' \" \n \r \t \a
// \b \f \v, octal \NNN, \xNN, \uNNNN, \UNNNNNNNN; unknown escapes are kept
// as written, as Python does). Adjacent literals are not concatenated: repr
// never writes them.
func (p *pyParser) str() (string, error) {
	if p.pos >= len(p.src) || (p.src[p.pos] != '\'' && p.src[p.pos] != '"') {
		return "", p.errf("expected a quoted string, found %q", p.rest())
	}
	q := p.src[p.pos]
	p.pos++
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == q {
			s := p.src[start:p.pos]
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c == '\n' {
			return "", p.errf("line break inside a string")
		}
		p.pos++
	}
	var b strings.Builder
	b.WriteString(p.src[start:p.pos])
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == q:
			p.pos++
			return b.String(), nil
		case c == '\n':
			return "", p.errf("line break inside a string")
		case c != '\\':
			b.WriteByte(c)
			p.pos++
			continue
		}
		p.pos++ // backslash
		if p.pos >= len(p.src) {
			break
		}
		e := p.src[p.pos]
		p.pos++
		switch e {
		case '\\', '\'', '"':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'v':
			b.WriteByte('\v')
		case '\n':
			// line continuation: nothing
		case 'x', 'u', 'U':
			n := 2
			switch e {
			case 'u':
				n = 4
			case 'U':
				n = 8
			}
			if p.pos+n > len(p.src) {
				return "", p.errf("short \\%c escape", e)
			}
			r, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
			if err != nil || r > utf8.MaxRune {
				return "", p.errf("bad \\%c escape %q", e, p.src[p.pos:p.pos+n])
			}
			p.pos += n
			b.WriteRune(rune(r))
		case '0', '1', '2', '3', '4', '5', '6', '7':
			r := rune(e - '0')
			for k := 0; k < 2 && p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '7'; k++ {
				r = r*8 + rune(p.src[p.pos]-'0')
				p.pos++
			}
			b.WriteRune(r)
		default:
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return "", p.errf("unterminated string")
}

// isEmptyList reports the empty text and "[]", which mean no list.
func isEmptyList(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s == "[]"
}

// parsePyStrings parses a list of strings such as ['a', "b'c"] (the empty
// text and [] give nil).
func parsePyStrings(s string) ([]string, error) {
	if isEmptyList(s) {
		return nil, nil
	}
	p := pyParser{src: s}
	if err := p.open('['); err != nil {
		return nil, err
	}
	// One allocation: a list has at most one element more than commas.
	out := make([]string, 0, strings.Count(s, ",")+1)
	for {
		done, err := p.closed(']')
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		v, err := p.str()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if err := p.separator(']'); err != nil {
			return nil, err
		}
	}
	return out, p.end()
}

// parsePyRefs parses the refs column: a list of dictionaries with the keys
// "name" and "type" and string (or None) values.
func parsePyRefs(s string) ([]Ref, error) {
	if isEmptyList(s) {
		return nil, nil
	}
	p := pyParser{src: s}
	if err := p.open('['); err != nil {
		return nil, err
	}
	out := make([]Ref, 0, strings.Count(s, "{"))
	for {
		done, err := p.closed(']')
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
		ref, err := p.ref(len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, ref)
		if err := p.separator(']'); err != nil {
			return nil, err
		}
	}
	return out, p.end()
}

// ref parses one {'type': …, 'name': …} dictionary.
func (p *pyParser) ref(index int) (Ref, error) {
	var ref Ref
	if err := p.open('{'); err != nil {
		return ref, err
	}
	seen := 0
	for {
		done, err := p.closed('}')
		if err != nil {
			return ref, err
		}
		if done {
			break
		}
		k, err := p.str()
		if err != nil {
			return ref, err
		}
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return ref, p.errf("expected ':' after key %q", k)
		}
		p.pos++
		p.space()
		v, _, err := p.strOrNone()
		if err != nil {
			return ref, err
		}
		switch k {
		case "name":
			ref.Name = v
			seen |= 1
		case "type":
			ref.Type = RefType(v)
			seen |= 2
		default:
			return ref, p.errf("unknown reference key %q", k)
		}
		if err := p.separator('}'); err != nil {
			return ref, err
		}
	}
	if seen != 3 {
		return ref, p.errf("reference %d lacks a name or a type", index)
	}
	return ref, nil
}
