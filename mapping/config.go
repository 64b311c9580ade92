package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// Config is the user's configuration of the integration, as the seed's
// "Basic Setup" and "Templates" screens describe it. It is read from JSON
// with ParseConfig (unknown keys rejected) and checked with Validate (every
// problem at once) and Check (against the instance's catalogue). Map keys
// and values are kept as the user wrote them; New compiles a validated
// Config into a Mapper.
//
// A sample lives in testdata/config.json.
type Config struct {
	// InstanceLabel names this Faraday instance when several feed one
	// ServiceDesk; it goes into the subject tag and the footer reference.
	// Letters, digits, '.', '_' and '-' only; empty for a single instance.
	InstanceLabel string `json:"instance_label,omitempty"`
	// FaradayURL is Faraday's base URL (scheme and host, optional path
	// prefix), used for the link back to each vuln. Required.
	FaradayURL string `json:"faraday_url"`
	// VulnLink is the link to one vuln, with the placeholders {faraday_url},
	// {workspace} and {id}. The Faraday web UI's route for one vuln is not
	// established by the references, so the default is the REST API's URL
	// of the vuln, DefaultVulnLink; set your UI's route here.
	VulnLink string `json:"vuln_link,omitempty"`
	// Requester is the ServiceDesk user requests are raised for.
	Requester Requester `json:"requester"`
	// Priorities maps each of the six Faraday severities (critical, high,
	// medium or med, low, informational or info, unclassified) to a
	// ServiceDesk priority name. All six are required.
	Priorities map[string]string `json:"priorities"`
	// Incoming maps ServiceDesk status names (compared without case and
	// surrounding space) to a Faraday status (open, closed, re-opened,
	// risk-accepted) or "ignore". Statuses not listed are not mapped: a
	// change to them is reported and never applied.
	Incoming map[string]string `json:"incoming"`
	// Outgoing maps each of the four Faraday statuses to the ServiceDesk
	// status name pushed when a vuln reaches it. All four are required.
	Outgoing map[string]string `json:"outgoing"`
	// Templates are the request templates requests are made from, with the
	// fields each one sets. At least one.
	Templates []Template `json:"templates"`
	// TemplateRule chooses the template of each vuln. It may be left out
	// when there is one template.
	TemplateRule TemplateRule `json:"template_rule,omitzero"`
	// Subject is the subject's layout and idempotency tag.
	Subject SubjectLayout `json:"subject,omitzero"`
	// Description is the description's layout and size limit.
	Description DescriptionLayout `json:"description,omitzero"`
}

// Requester names the ServiceDesk user requests are raised for: a login
// name (the seed's advice, since display names can repeat) or an id, not
// both. The caller resolves it to an id before mapping.
type Requester struct {
	LoginName string `json:"login_name,omitempty"`
	ID        string `json:"id,omitempty"`
}

// Template is a request template and the fields it sets. Name or ID (or
// both) must be given; ServiceDesk prefers the id when both are sent.
type Template struct {
	ID     string  `json:"id,omitempty"`
	Name   string  `json:"name,omitempty"`
	Fields []Field `json:"fields,omitempty"`
}

// Label returns the template's name, or its id when it has no name.
func (t *Template) Label() string {
	if t.Name != "" {
		return t.Name
	}
	return t.ID
}

// FieldType is the kind of a template field, as the seed's "Field Types"
// table lists them.
type FieldType string

// The three field types.
const (
	// Dropdown takes one of the instance's options by name. For the
	// "category" field the value is an object {"category", "subcategory",
	// "item"} (subcategory and item optional) or a plain category name.
	Dropdown FieldType = "dropdown"
	// Search takes a user, technician or group by name.
	Search FieldType = "search"
	// Raw takes any JSON, sent as it is: for fields the SDK does not know,
	// such as a user-defined field under "udf_fields.<key>".
	Raw FieldType = "raw"
)

// SearchKind is what a Search field looks up.
type SearchKind string

// The kinds of Search fields.
const (
	SearchUser       SearchKind = "user"
	SearchTechnician SearchKind = "technician"
	SearchGroup      SearchKind = "group"
)

// Field is one template field and its value.
//
// Field names the request field: a top-level key of the request
// ("category", "urgency", "group", "technician", "impact_details",
// "due_by_time", …) or a user-defined field as "udf_fields.<key>". The
// mapping itself sets subject, description, requester, priority, status and
// template; a field may not set them.
type Field struct {
	Field string    `json:"field"`
	Type  FieldType `json:"type"`
	// Search is the kind of a Search field: user, technician or group.
	// It defaults to the field's own kind for "technician" and "group".
	Search SearchKind `json:"search,omitempty"`
	// Mandatory marks a field the template requires; it must have a value.
	Mandatory bool `json:"mandatory,omitempty"`
	// Value is the field's value: a JSON string for Dropdown and Search
	// (an object for the category dropdown), any JSON for Raw.
	Value json.RawMessage `json:"value,omitempty"`
	// JSON is a Raw field's value as JSON text, as typed into a text box;
	// give Value or JSON, not both. Text that does not parse is reported.
	JSON string `json:"json,omitempty"`
}

// CategoryValue is the value of the category dropdown: a category, and
// optionally one of its subcategories and one of the subcategory's items.
type CategoryValue struct {
	Category    string `json:"category"`
	Subcategory string `json:"subcategory,omitempty"`
	Item        string `json:"item,omitempty"`
}

// TemplateRule chooses a template per vuln: BySeverity first, then Default.
// Both name a configured template by its name (without case) or id.
type TemplateRule struct {
	Default    string            `json:"default,omitempty"`
	BySeverity map[string]string `json:"by_severity,omitempty"`
}

// SubjectLayout is the subject's layout.
type SubjectLayout struct {
	// Tag is the idempotency tag's format, with the placeholders
	// {instance}, {workspace} and {id}. Default DefaultTag, or
	// DefaultInstanceTag when InstanceLabel is set. See ValidateTagFormat
	// for the rules.
	Tag string `json:"tag,omitempty"`
	// Format is the subject's format, with {tag} (required) and {name},
	// {severity}, {target}, {workspace}, {id}. Default DefaultSubject.
	Format string `json:"format,omitempty"`
}

// DescriptionLayout is the description's layout.
type DescriptionLayout struct {
	// Sections lists, in order, the sections of the description: summary,
	// description, resolution, data, references, web. Default: all, in
	// that order. The link back and the reference footer always end it.
	Sections []string `json:"sections,omitempty"`
	// Intro is plain text shown first (escaped like vuln text).
	Intro string `json:"intro,omitempty"`
	// MaxBytes is the largest description sent, in bytes of UTF-8 HTML,
	// footer included. Default DefaultMaxDescriptionBytes; at least
	// MinMaxDescriptionBytes.
	MaxBytes int `json:"max_bytes,omitempty"`
}

// Defaults of the layout.
const (
	DefaultTag                 = "[FRD {workspace}/{id}]"
	DefaultInstanceTag         = "[FRD {instance}:{workspace}/{id}]"
	DefaultSubject             = "{tag} {name}"
	DefaultVulnLink            = "{faraday_url}/_api/v3/ws/{workspace}/vulns/{id}"
	DefaultMaxDescriptionBytes = 32000
	MinMaxDescriptionBytes     = 2048
	// MaxSubjectRunes is ServiceDesk's subject limit.
	MaxSubjectRunes = 250
)

// Ignore is the incoming value that discards a status change.
const Ignore = "ignore"

// ParseConfig reads a Config from JSON. Unknown keys and anything after the
// JSON object are errors that say where they were found. It does not
// validate the values: call Validate, or use LoadConfig.
func ParseConfig(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, decodeError(data, dec, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		off := dec.InputOffset()
		return nil, fmt.Errorf("mapping: config: %s: trailing data after the JSON object", position(data, off))
	}
	if path, off, dup := duplicateKey(data); dup {
		return nil, fmt.Errorf("mapping: config: %s: %s is given twice (JSON would keep only the last)", position(data, off), path)
	}
	if path, off, bad := inexactKey(data, reflect.TypeFor[Config]()); bad {
		return nil, fmt.Errorf("mapping: config: %s: unknown key %s (keys are case-sensitive: encoding/json would take it for another)", position(data, off), path)
	}
	return &c, nil
}

// inexactKey finds the first object key of data (a valid JSON value
// decoded into t) that names no field of its struct exactly, with case:
// encoding/json matches keys without case, so "FARADAY_URL" would set
// faraday_url, and a second key differing only in case would override the
// first unseen. Keys of maps and values of other types (json.RawMessage)
// are not checked. It returns the key's path and the offset just after it.
func inexactKey(data []byte, t reflect.Type) (path string, off int64, bad bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	path, bad, err := walkExact(dec, t, "")
	if err != nil || !bad {
		return "", 0, false
	}
	return path, dec.InputOffset(), true
}

// walkExact reads one JSON value from dec, checking its keys against t
// (nil: anything goes).
func walkExact(dec *json.Decoder, t reflect.Type, path string) (string, bool, error) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return "", false, err
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		var elem reflect.Type
		switch {
		case t != nil && t.Kind() == reflect.Struct:
			fields = jsonFields(t)
		case t != nil && t.Kind() == reflect.Map:
			elem = t.Elem()
		}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", false, err
			}
			key, _ := kt.(string)
			child := key
			if path != "" {
				child = mapKeyPath(path, key)
			}
			vt := elem
			if fields != nil {
				ft, ok := fields[key]
				if !ok {
					return child, true, nil
				}
				vt = ft
			}
			if p, bad, err := walkExact(dec, vt, child); err != nil || bad {
				return p, bad, err
			}
		}
		_, err = dec.Token() // '}'
		return "", false, err
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() != reflect.Uint8 {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if p, bad, err := walkExact(dec, elem, indexPath(path, i)); err != nil || bad {
				return p, bad, err
			}
		}
		_, err = dec.Token() // ']'
		return "", false, err
	}
	return "", false, nil
}

// jsonFields returns the JSON names of t's exported fields and their
// types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		m[name] = f.Type
	}
	return m
}

// duplicateKey finds the first object key that appears twice in the same
// object of data (a valid JSON value), and returns its path and the offset
// just after it.
func duplicateKey(data []byte) (path string, off int64, dup bool) {
	type frame struct {
		obj     bool
		wantKey bool
		keys    map[string]bool
		path    string
		key     string
		idx     int
	}
	var stack []frame
	child := func() string {
		if len(stack) == 0 {
			return ""
		}
		top := &stack[len(stack)-1]
		if top.obj {
			if top.path == "" {
				return top.key
			}
			return mapKeyPath(top.path, top.key)
		}
		return indexPath(top.path, top.idx)
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		top := &stack[len(stack)-1]
		if top.obj {
			top.wantKey = true
		} else {
			top.idx++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", 0, false
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			key, isKey := tok.(string)
			if !isKey { // the object's closing '}'
				stack = stack[:n-1]
				valueDone()
				if len(stack) == 0 {
					return "", 0, false
				}
				continue
			}
			top := &stack[n-1]
			if top.keys[key] {
				top.key = key
				return child(), dec.InputOffset(), true
			}
			top.keys[key] = true
			top.key, top.wantKey = key, false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{obj: true, wantKey: true, keys: map[string]bool{}, path: child()})
		case json.Delim('['):
			stack = append(stack, frame{path: child()})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
		if len(stack) == 0 {
			return "", 0, false
		}
	}
}

// LoadConfig reads a Config from JSON with ParseConfig and validates it.
// A validation failure is a Problems value listing every problem.
func LoadConfig(data []byte) (*Config, error) {
	c, err := ParseConfig(data)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeError turns a decoding error into one that says where the problem
// is, without quoting the input.
func decodeError(data []byte, dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("mapping: config: %s: malformed JSON: %s", position(data, se.Offset-1), se.Error())
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		path := te.Field
		if path == "" {
			path = "(top level)"
		}
		return fmt.Errorf("mapping: config: %s: %s: want %s, found JSON %s", position(data, te.Offset), path, te.Type, te.Value)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("mapping: config: empty input (want a JSON object)")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("mapping: config: JSON ends early")
	}
	// Unknown fields: encoding/json names the key but not its path.
	return fmt.Errorf("mapping: config: %s: %s", position(data, dec.InputOffset()), trimJSONPrefix(err.Error()))
}

func trimJSONPrefix(s string) string {
	const p = "json: "
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// position gives the line and column of byte offset off of data.
func position(data []byte, off int64) string {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	if off < 0 {
		off = 0
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col)
}
