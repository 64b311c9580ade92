package mapping

import (
	"errors"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration: where (a JSON path such
// as "templates[0].fields[2].value" or "priorities.critical") and what.
// Suggestion is the closest existing name, when Check found one.
type Problem struct {
	Path       string `json:"path"`
	Message    string `json:"message"`
	Suggestion string `json:"suggestion,omitempty"`
}

// String returns "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Problems is every problem found in a configuration. As an error it lists
// them all, one per line. Validate and Check return it; errors.As finds it
// in LoadConfig's and New's errors.
type Problems []Problem

// Error lists the problems.
func (ps Problems) Error() string {
	var b strings.Builder
	b.WriteString("mapping: config has ")
	b.WriteString(strconv.Itoa(len(ps)))
	if len(ps) == 1 {
		b.WriteString(" problem")
	} else {
		b.WriteString(" problems")
	}
	for _, p := range ps {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidConfig) true for Problems.
func (ps Problems) Is(target error) bool { return target == ErrInvalidConfig }

// ErrInvalidConfig matches (errors.Is) every Problems error.
var ErrInvalidConfig = errors.New("mapping: invalid config")

// At returns the problems whose path is path or lies under it.
func (ps Problems) At(path string) Problems {
	var out Problems
	for _, p := range ps {
		if p.Path == path || strings.HasPrefix(p.Path, path+".") || strings.HasPrefix(p.Path, path+"[") {
			out = append(out, p)
		}
	}
	return out
}

// errOrNil returns ps as an error, or nil when it is empty.
func (ps Problems) errOrNil() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// problems collects Problems.
type problems struct{ list Problems }

func (c *problems) add(path, msg string) {
	c.list = append(c.list, Problem{Path: path, Message: msg})
}

func (c *problems) suggest(path, msg, suggestion string) {
	c.list = append(c.list, Problem{Path: path, Message: msg, Suggestion: suggestion})
}

// mapKeyPath renders obj.key, quoting keys that are not plain identifiers
// (obj["On Hold"]).
func mapKeyPath(obj, key string) string {
	plain := key != ""
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !isASCIIAlnum(c) && c != '_' && c != '-' {
			plain = false
			break
		}
	}
	if plain {
		return obj + "." + key
	}
	return obj + "[" + strconv.Quote(key) + "]"
}

func indexPath(obj string, i int) string { return obj + "[" + strconv.Itoa(i) + "]" }
