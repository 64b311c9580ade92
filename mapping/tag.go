package mapping

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The placeholders of a tag format.
const (
	phInstance  = "instance"
	phWorkspace = "workspace"
	phID        = "id"
)

// template is a parsed format: literal text and placeholders in order.
type template struct {
	parts []tplPart
}

type tplPart struct {
	lit string // literal text, when name is ""
	ph  string // placeholder name
}

// parseTemplate splits a format into literals and {placeholders}. Every
// placeholder must be one of allowed; a '{' or '}' that does not belong to
// a placeholder is an error.
func parseTemplate(format string, allowed ...string) (template, error) {
	var t template
	rest := format
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			t.parts = append(t.parts, tplPart{lit: rest})
			break
		}
		if rest[i] == '}' {
			return template{}, fmt.Errorf("a '}' at byte %d closes no placeholder", len(format)-len(rest)+i)
		}
		if i > 0 {
			t.parts = append(t.parts, tplPart{lit: rest[:i]})
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return template{}, fmt.Errorf("the '{' at byte %d is never closed", len(format)-len(rest)+i)
		}
		name := rest[i+1 : i+end]
		ok := false
		for _, a := range allowed {
			if name == a {
				ok = true
				break
			}
		}
		if !ok {
			return template{}, fmt.Errorf("unknown placeholder {%s} (want %s)", name, placeholderList(allowed))
		}
		t.parts = append(t.parts, tplPart{ph: name})
		rest = rest[i+end+1:]
	}
	return t, nil
}

func placeholderList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = "{" + n + "}"
	}
	return strings.Join(q, ", ")
}

func (t template) count(ph string) int {
	n := 0
	for _, p := range t.parts {
		if p.ph == ph {
			n++
		}
	}
	return n
}

// render writes t with values looked up by placeholder name.
func (t template) render(b *strings.Builder, value func(string) string) {
	for _, p := range t.parts {
		if p.ph == "" {
			b.WriteString(p.lit)
		} else {
			b.WriteString(value(p.ph))
		}
	}
}

// Characters that may occur in the values of tag placeholders. Faraday
// workspace names are lower-case letters, digits and _ $ ( ) + -; upper
// case is allowed here too, to be safe. Instance labels are validated
// against instanceChars. Ids are decimal digits.
const (
	workspacePunct = "_$()+-"
	instancePunct  = "._-"
)

func isWorkspaceRune(r rune) bool {
	return isAlnumRune(r) || strings.ContainsRune(workspacePunct, r)
}

func isInstanceRune(r rune) bool {
	return isAlnumRune(r) || strings.ContainsRune(instancePunct, r)
}

func isIDRune(r rune) bool { return r >= '0' && r <= '9' }

func isAlnumRune(r rune) bool {
	return (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
}

func isASCIIAlnum(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z')
}

func placeholderRune(ph string) func(rune) bool {
	switch ph {
	case phWorkspace:
		return isWorkspaceRune
	case phInstance:
		return isInstanceRune
	default:
		return isIDRune
	}
}

// validWorkspace reports whether name could be a Faraday workspace name.
func validWorkspace(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if !isWorkspaceRune(r) {
			return false
		}
	}
	return true
}

// validInstanceLabel reports whether label is a usable instance label
// (empty included).
func validInstanceLabel(label string) bool {
	for _, r := range label {
		if !isInstanceRune(r) {
			return false
		}
	}
	return true
}

// tagFormat is a validated subject-tag format.
type tagFormat struct{ template }

// ValidateTagFormat checks a subject-tag format and returns every problem
// with it. A valid format
//
//   - uses only {instance}, {workspace} and {id}, each at most once, and
//     {workspace} and {id} exactly once ({instance} is required when an
//     instance label is configured);
//   - has literal text right after {id} that starts with a delimiter: a
//     character that is not a letter, digit or space, such as ']', so the
//     tag of vuln 1 is never a prefix of the tag of vuln 12;
//   - has literal text before its first placeholder, and between any two
//     placeholders, and the characters touching each placeholder cannot
//     occur in that placeholder's values, so a tag reads back one way only
//     and never ends inside another tag;
//   - neither starts nor ends with white space, and is one line.
func ValidateTagFormat(format string, instanceLabel bool) []string {
	_, problems := parseTagFormat(format, instanceLabel)
	return problems
}

func parseTagFormat(format string, instanceLabel bool) (tagFormat, []string) {
	var problems []string
	add := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	if strings.TrimSpace(format) == "" {
		return tagFormat{}, []string{"the tag format is empty"}
	}
	if strings.ContainsFunc(format, unicode.IsControl) {
		add("the tag format must be one line, without tabs or other control characters")
	}
	if r, _ := utf8.DecodeRuneInString(format); unicode.IsSpace(r) {
		add("the tag format must not start with white space")
	}
	if r, _ := utf8.DecodeLastRuneInString(format); unicode.IsSpace(r) {
		add("the tag format must not end with white space")
	}
	t, err := parseTemplate(format, phInstance, phWorkspace, phID)
	if err != nil {
		return tagFormat{}, append(problems, err.Error())
	}
	for _, ph := range []string{phWorkspace, phID} {
		switch n := t.count(ph); {
		case n == 0:
			add("the tag format must contain {%s}", ph)
		case n > 1:
			add("the tag format contains {%s} %d times (want once)", ph, n)
		}
	}
	if n := t.count(phInstance); n > 1 {
		add("the tag format contains {instance} %d times (want at most once)", n)
	} else if n == 0 && instanceLabel {
		add("instance_label is set, so the tag format must contain {instance} (tags of two instances would collide)")
	}
	for i, p := range t.parts {
		if p.ph == "" {
			continue
		}
		inValue := placeholderRune(p.ph)
		// Text before the placeholder.
		if i == 0 || t.parts[i-1].ph != "" {
			if i == 0 {
				add("the tag format must start with literal text such as \"[FRD \" before {%s}", p.ph)
			} else {
				add("{%s} and {%s} need literal text between them", t.parts[i-1].ph, p.ph)
			}
		} else if r, _ := utf8.DecodeLastRuneInString(t.parts[i-1].lit); inValue(r) {
			add("the character %q right before {%s} can occur in a %s, so the tag would not read back one way", r, p.ph, p.ph)
		}
		// Text after the placeholder.
		if i == len(t.parts)-1 {
			if p.ph == phID {
				add("{id} must be followed by a delimiter such as ']' (otherwise the tag of vuln 1 is a prefix of the tag of vuln 12)")
			} else {
				add("{%s} must be followed by literal text such as ']'", p.ph)
			}
			continue
		}
		next := t.parts[i+1]
		if next.ph != "" {
			continue // reported as "need literal text between them"
		}
		r, _ := utf8.DecodeRuneInString(next.lit)
		switch {
		case p.ph == phID && (inValue(r) || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r)):
			add("{id} must be followed by a delimiter such as ']', not %q (otherwise one tag can be a prefix of another)", r)
		case inValue(r):
			add("the character %q right after {%s} can occur in a %s, so the tag would not read back one way", r, p.ph, p.ph)
		}
	}
	if len(problems) > 0 {
		return tagFormat{}, problems
	}
	return tagFormat{t}, nil
}

// errBadKey is wrapped by errors about a workspace or id that cannot be
// put into a tag or reference.
var errBadKey = errors.New("mapping: invalid vuln key")

func checkKey(workspace string, id int64) error {
	if !validWorkspace(workspace) {
		return fmt.Errorf("%w: workspace %s is not a Faraday workspace name (letters, digits and _ $ ( ) + -)", errBadKey, strconv.Quote(truncateRunes(workspace, 64)))
	}
	if id <= 0 {
		return fmt.Errorf("%w: vuln id %d is not positive", errBadKey, id)
	}
	return nil
}

// render returns the tag of a vuln.
func (f tagFormat) render(instance, workspace string, id int64) string {
	var b strings.Builder
	idText := strconv.FormatInt(id, 10)
	f.template.render(&b, func(ph string) string {
		switch ph {
		case phInstance:
			return instance
		case phWorkspace:
			return workspace
		default:
			return idText
		}
	})
	return b.String()
}

func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j] + "…"
		}
		i++
	}
	return s
}
