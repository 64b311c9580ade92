package faraday

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Faraday's CSV export writes list and dictionary columns (refs, hostnames,
// cve, cwe, tags, policyviolations, …) with Python's repr(): single-quoted
// strings (double-quoted when the text holds a single quote), backslash
// escapes, None/True/False. This file holds a small parser for that subset.
// It never evaluates anything: it only recognises literals.

// pyKind is the kind of a parsed Python literal.
type pyKind uint8

const (
	pyNone pyKind = iota
	pyBool
	pyInt
	pyStr
	pyList
	pyDict
)

// pyValue is one parsed Python literal. Dictionaries keep their keys in the
// order written; keys are strings (the only kind the export writes).
type pyValue struct {
	kind  pyKind
	b     bool
	i     int64
	s     string
	items []pyValue
	keys  []string
}

// maxPyDepth bounds nesting so hostile input cannot exhaust the stack.
const maxPyDepth = 32

// errPyLiteral is wrapped by every error of the Python-literal parser.
var errPyLiteral = errors.New("invalid Python literal")

type pyParser struct {
	src string
	pos int
}

// parsePyLiteral parses s as one Python literal (surrounding space allowed).
func parsePyLiteral(s string) (pyValue, error) {
	p := pyParser{src: s}
	v, err := p.value(0)
	if err != nil {
		return pyValue{}, err
	}
	p.space()
	if p.pos != len(p.src) {
		return pyValue{}, p.errf("unexpected %q after the value", p.rest())
	}
	return v, nil
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

func (p *pyParser) value(depth int) (pyValue, error) {
	if depth > maxPyDepth {
		return pyValue{}, p.errf("nested deeper than %d levels", maxPyDepth)
	}
	p.space()
	if p.pos >= len(p.src) {
		return pyValue{}, p.errf("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '[':
		return p.list(depth)
	case c == '{':
		return p.dict(depth)
	case c == '\'' || c == '"':
		s, err := p.str()
		return pyValue{kind: pyStr, s: s}, err
	case c == '-' || c >= '0' && c <= '9':
		return p.integer()
	default:
		for _, w := range [...]struct {
			word string
			v    pyValue
		}{
			{"None", pyValue{kind: pyNone}},
			{"True", pyValue{kind: pyBool, b: true}},
			{"False", pyValue{kind: pyBool}},
		} {
			if strings.HasPrefix(p.src[p.pos:], w.word) {
				p.pos += len(w.word)
				return w.v, nil
			}
		}
		return pyValue{}, p.errf("unexpected %q", p.rest())
	}
}

func (p *pyParser) integer() (pyValue, error) {
	start := p.pos
	if p.src[p.pos] == '-' {
		p.pos++
	}
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	n, err := strconv.ParseInt(p.src[start:p.pos], 10, 64)
	if err != nil {
		p.pos = start
		return pyValue{}, p.errf("bad integer %q", p.rest())
	}
	return pyValue{kind: pyInt, i: n}, nil
}

// items parses comma-separated elements up to the closing byte, allowing a
// trailing comma as Python does.
func (p *pyParser) items(closer byte, elem func() error) error {
	p.pos++ // opening bracket
	for {
		p.space()
		if p.pos >= len(p.src) {
			return p.errf("missing %q", closer)
		}
		if p.src[p.pos] == closer {
			p.pos++
			return nil
		}
		if err := elem(); err != nil {
			return err
		}
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
	}
}

func (p *pyParser) list(depth int) (pyValue, error) {
	v := pyValue{kind: pyList}
	err := p.items(']', func() error {
		e, err := p.value(depth + 1)
		v.items = append(v.items, e)
		return err
	})
	return v, err
}

func (p *pyParser) dict(depth int) (pyValue, error) {
	v := pyValue{kind: pyDict}
	err := p.items('}', func() error {
		if c := p.src[p.pos]; c != '\'' && c != '"' {
			return p.errf("dictionary key must be a string, found %q", p.rest())
		}
		k, err := p.str()
		if err != nil {
			return err
		}
		p.space()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.errf("expected ':' after key %q", k)
		}
		p.pos++
		e, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		v.keys = append(v.keys, k)
		v.items = append(v.items, e)
		return nil
	})
	return v, err
}

// str parses a quoted string with Python's escapes (\\ \' \" \n \r \t \a \b
// \f \v \0-style octal, \xNN, \uNNNN, \UNNNNNNNN). Adjacent literals are not
// concatenated: repr never writes them.
func (p *pyParser) str() (string, error) {
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
			if e == 'u' {
				n = 4
			} else if e == 'U' {
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
			// Python keeps unknown escapes as written.
			b.WriteByte('\\')
			b.WriteByte(e)
		}
	}
	return "", p.errf("unterminated string")
}

// parsePyStrings parses a list of strings such as ['a', 'b'] (or the empty
// text, meaning no list). Non-string elements are an error.
func parsePyStrings(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "[]" {
		return nil, nil
	}
	v, err := parsePyLiteral(s)
	if err != nil {
		return nil, err
	}
	if v.kind != pyList {
		return nil, fmt.Errorf("%w: want a list of strings", errPyLiteral)
	}
	out := make([]string, 0, len(v.items))
	for i, e := range v.items {
		if e.kind != pyStr {
			return nil, fmt.Errorf("%w: element %d is not a string", errPyLiteral, i)
		}
		out = append(out, e.s)
	}
	return out, nil
}

// parsePyDicts parses a list of dictionaries whose values are strings or
// None (None becomes ""), as Faraday writes the refs column.
func parsePyDicts(s string) ([]map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "[]" {
		return nil, nil
	}
	v, err := parsePyLiteral(s)
	if err != nil {
		return nil, err
	}
	if v.kind != pyList {
		return nil, fmt.Errorf("%w: want a list of dictionaries", errPyLiteral)
	}
	out := make([]map[string]string, 0, len(v.items))
	for i, e := range v.items {
		if e.kind != pyDict {
			return nil, fmt.Errorf("%w: element %d is not a dictionary", errPyLiteral, i)
		}
		m := make(map[string]string, len(e.keys))
		for j, k := range e.keys {
			switch ev := e.items[j]; ev.kind {
			case pyStr:
				m[k] = ev.s
			case pyNone:
				m[k] = ""
			default:
				return nil, fmt.Errorf("%w: element %d key %q is not a string", errPyLiteral, i, k)
			}
		}
		out = append(out, m)
	}
	return out, nil
}
