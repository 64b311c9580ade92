package mapping

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"unicode"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/servicedesk"
)

// Validate checks the configuration on its own (Check compares it with an
// instance) and returns every problem at once as Problems, or nil. It
// reports: a severity without priority or an outgoing status without
// ServiceDesk status (the seed: all must be mapped), an incoming value that
// is neither a Faraday status nor "ignore", two entries for one status, a
// requester missing or given twice, a template without name or id, a
// mandatory field without value, an unknown field type, a field the
// mapping sets itself or that the request has no place for, raw JSON that
// does not parse, a template rule naming no configured template, a tag
// format that breaks ValidateTagFormat's rules, a subject format that does
// not start with {tag} (the tag must open the subject: HasTag and
// servicedesk's CreateOnce only find a tag there), and layout values out
// of range. A Search value needs no minimum length: the seed's "3+ characters"
// is its UI search box's rule, and "IT" is a valid group.
func (c *Config) Validate() error {
	_, ps := c.compile()
	return ps.errOrNil()
}

// New validates cfg and returns the Mapper that applies it, with opts
// applied (WithReferenceKey). A validation failure is a Problems value.
// Without WithReferenceKey the Mapper's footer references carry only a
// checksum, which anyone can forge: a webhook that finds vulns by their
// footer reference needs the key.
func New(cfg *Config, opts ...Option) (*Mapper, error) {
	var o options
	for _, opt := range opts {
		if opt == nil {
			return nil, errors.New("mapping: nil Option")
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if cfg == nil {
		return nil, errors.New("mapping: nil Config")
	}
	m, ps := cfg.compile()
	if len(ps) > 0 {
		return nil, ps
	}
	if o.refKey != nil {
		m.macs = newMACPool(o.refKey)
	}
	return m, nil
}

// NewChecked validates cfg, checks it against the instance's catalogue,
// and returns the Mapper only when both pass: no configuration reaches
// ServiceDesk unchecked. Unlike Check, it also fails when the catalogue
// lacks a list the configuration needs (priorities, statuses, templates,
// users, and the categories, options, groups and technicians its fields
// use). A failure is one Problems value (Check runs only on a
// configuration that validates). opts are New's.
func NewChecked(cfg *Config, cat *Catalog, opts ...Option) (*Mapper, error) {
	m, err := New(cfg, opts...)
	if err != nil {
		return nil, err
	}
	if cat == nil {
		return nil, errors.New("mapping: NewChecked needs the instance's catalogue")
	}
	ps := cfg.unfetched(cat)
	var checked Problems
	if errors.As(cfg.Check(cat), &checked) {
		ps = append(ps, checked...)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return m, nil
}

// unfetched reports the parts of the catalogue that cfg needs checked but
// that were not fetched (nil), for NewChecked's strict check.
func (c *Config) unfetched(cat *Catalog) Problems {
	var ps problems
	need := func(path, what string, missing bool) {
		if missing {
			ps.add(path, "cannot be checked: the catalogue has no "+what+" (fetch them from the instance)")
		}
	}
	need("priorities", "priorities", cat.Priorities == nil)
	need("outgoing", "statuses", cat.Statuses == nil)
	need("templates", "templates", cat.Templates == nil)
	need("requester", "users", cat.Users == nil)
	for i := range c.Templates {
		for j, f := range c.Templates[i].Fields {
			path := indexPath(indexPath("templates", i)+".fields", j)
			key := strings.TrimSpace(f.Field)
			switch {
			case f.Type == Dropdown && key == "category":
				need(path, "categories", cat.Categories == nil)
			case f.Type == Dropdown:
				_, ok := cat.Options[key]
				need(path, "options for "+key, !ok)
			case f.Type == Search:
				kind := f.Search
				if kind == "" {
					kind = SearchKind(key)
				}
				switch kind {
				case SearchGroup:
					need(path, "groups", cat.Groups == nil)
				case SearchTechnician:
					need(path, "technicians", cat.Technicians == nil)
				case SearchUser:
					need(path, "users", cat.Users == nil)
				}
			}
		}
	}
	return ps.list
}

// Keys of the request that the mapping sets itself.
var mappingOwned = map[string]string{
	"subject":     "the subject is built from subject.format",
	"description": "the description is built from the description layout",
	"requester":   "the requester comes from requester",
	"priority":    "the priority comes from priorities",
	"status":      "the status comes from outgoing",
	"template":    "the template is the one this field belongs to",
}

// Lookup fields a Dropdown may set, besides category and udf_fields.*.
var dropdownFields = map[string]func(*servicedesk.RequestInput, *servicedesk.Ref){
	"urgency":          func(r *servicedesk.RequestInput, v *servicedesk.Ref) { r.Urgency = v },
	"impact":           func(r *servicedesk.RequestInput, v *servicedesk.Ref) { r.Impact = v },
	"mode":             func(r *servicedesk.RequestInput, v *servicedesk.Ref) { r.Mode = v },
	"level":            func(r *servicedesk.RequestInput, v *servicedesk.Ref) { r.Level = v },
	"request_type":     func(r *servicedesk.RequestInput, v *servicedesk.Ref) { r.RequestType = v },
	"site":             func(r *servicedesk.RequestInput, v *servicedesk.Ref) { r.Site = v },
	"service_category": func(r *servicedesk.RequestInput, v *servicedesk.Ref) { r.ServiceCategory = v },
}

// Section names of the description layout.
const (
	SectionSummary     = "summary"
	SectionDescription = "description"
	SectionResolution  = "resolution"
	SectionData        = "data"
	SectionReferences  = "references"
	SectionWeb         = "web"
)

// DefaultSections is the description layout used when none is configured.
var DefaultSections = []string{SectionSummary, SectionDescription, SectionResolution, SectionData, SectionReferences, SectionWeb}

func knownSection(s string) bool {
	for _, k := range DefaultSections {
		if s == k {
			return true
		}
	}
	return false
}

// parseSeverityKey reads a severity as a config key: the Faraday names and
// API short forms in any case.
func parseSeverityKey(s string) (faraday.Severity, bool) {
	v, err := faraday.ParseSeverity(s)
	return v, err == nil
}

// parseStatusKey reads a Faraday status as the seed's screens write it
// ("Re-Opened", "Risk Accepted") or as Faraday stores it ("re-opened",
// "risk-accepted"): case, surrounding space, and space or '_' for '-'.
func parseStatusKey(s string) (faraday.Status, bool) {
	v := strings.ToLower(strings.TrimSpace(s))
	v = strings.NewReplacer(" ", "-", "_", "-").Replace(v)
	st, err := faraday.ParseStatus(v)
	return st, err == nil
}

// normName is how ServiceDesk names are compared: without case and
// surrounding white space.
func normName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func (c *Config) compile() (*Mapper, Problems) {
	var ps problems
	m := &Mapper{label: c.InstanceLabel, defaultTpl: -1}
	for i := range m.bySeverity {
		m.bySeverity[i] = -1
	}

	if !validInstanceLabel(c.InstanceLabel) {
		ps.add("instance_label", "use letters, digits, '.', '_' and '-' only")
	}
	c.compileURLs(m, &ps)
	c.compileRequester(m, &ps)
	c.compilePriorities(m, &ps)
	c.compileOutgoing(m, &ps)
	c.compileIncoming(m, &ps)
	c.compileTemplates(m, &ps)
	c.compileTemplateRule(m, &ps)
	c.compileLayout(m, &ps)
	return m, ps.list
}

func (c *Config) compileURLs(m *Mapper, ps *problems) {
	base := strings.TrimSpace(c.FaradayURL)
	if base == "" {
		ps.add("faraday_url", "missing (Faraday's base URL, such as https://faraday.example.com, for the link back to each vuln)")
	} else if u, err := url.Parse(base); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		ps.add("faraday_url", "want an absolute http or https URL such as https://faraday.example.com")
	} else if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		ps.add("faraday_url", "want scheme, host and optional path only (no user, query or fragment)")
	}
	m.faradayURL = strings.TrimRight(base, "/")
	baseOK := len(ps.list) == 0 || ps.list[len(ps.list)-1].Path != "faraday_url"

	link := c.VulnLink
	if link == "" {
		link = DefaultVulnLink
	}
	t, err := parseTemplate(link, "faraday_url", phWorkspace, phID)
	switch {
	case err != nil:
		ps.add("vuln_link", err.Error())
	case t.count(phID) != 1:
		ps.add("vuln_link", "must contain {id} once")
	default:
		var b strings.Builder
		t.render(&b, func(ph string) string {
			switch ph {
			case "faraday_url":
				if !baseOK {
					return "https://faraday.example.com"
				}
				return m.faradayURL
			case phWorkspace:
				return "ws"
			default:
				return "1"
			}
		})
		if u, err := url.Parse(b.String()); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			ps.add("vuln_link", "does not give an absolute http or https URL")
		}
		m.vulnLink = t
	}
}

func (c *Config) compileRequester(m *Mapper, ps *problems) {
	r := c.Requester
	login, id := strings.TrimSpace(r.LoginName), strings.TrimSpace(r.ID)
	switch {
	case login == "" && id == "":
		ps.add("requester", "missing: give the requester's login_name (the seed's advice) or id")
	case login != "" && id != "":
		ps.add("requester", "give login_name or id, not both")
	case id != "" && !isDigits(id):
		ps.add("requester.id", "a ServiceDesk id is a string of digits")
	}
	m.requester = Requester{LoginName: login, ID: id}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (c *Config) compilePriorities(m *Mapper, ps *problems) {
	compileTotalMap(ps, "priorities", c.Priorities, parseSeverityKey, faraday.Severities(),
		func(k faraday.Severity, v string) { m.priority[k] = v }, totalMapText{
			badKey:  "not a Faraday severity (want critical, high, medium, low, informational, unclassified)",
			kind:    "severity",
			value:   "priority name",
			missing: "severity not mapped: all six severities must have a priority",
		})
}

func (c *Config) compileOutgoing(m *Mapper, ps *problems) {
	compileTotalMap(ps, "outgoing", c.Outgoing, parseStatusKey, faraday.Statuses(),
		func(k faraday.Status, v string) { m.outgoing[k] = v }, totalMapText{
			badKey:  "not a Faraday status (want open, closed, re-opened, risk-accepted)",
			kind:    "status",
			value:   "ServiceDesk status name",
			missing: "status not mapped: all four Faraday statuses must have a ServiceDesk status",
		})
}

// totalMapText words the problems of one total map.
type totalMapText struct {
	badKey  string // a key that does not parse
	kind    string // what a key names ("severity")
	value   string // what a value names ("priority name")
	missing string // a key of all that the map lacks
}

// compileTotalMap reads a map from Faraday values (severities, statuses)
// to ServiceDesk names that must cover every one of all: each key parsed
// once (two spellings of one value are a problem), each name trimmed and
// non-empty, and every value of all present. Names are handed to set.
func compileTotalMap[K interface {
	comparable
	String() string
}](ps *problems, section string, in map[string]string, parse func(string) (K, bool), all []K, set func(K, string), text totalMapText) {
	seen := map[K]string{}
	for _, k := range sortedKeys(in) {
		path := mapKeyPath(section, k)
		key, ok := parse(k)
		if !ok {
			ps.add(path, text.badKey)
			continue
		}
		if prev, dup := seen[key]; dup {
			ps.add(path, fmt.Sprintf("%s %s is already mapped by key %q", text.kind, key, prev))
			continue
		}
		seen[key] = k
		v := strings.TrimSpace(in[k])
		if v == "" {
			ps.add(path, "empty "+text.value)
			continue
		}
		set(key, v)
	}
	for _, key := range all {
		if _, ok := seen[key]; !ok {
			ps.add(section+"."+key.String(), text.missing)
		}
	}
}

func (c *Config) compileIncoming(m *Mapper, ps *problems) {
	m.incoming = make(map[string]Incoming, len(c.Incoming))
	seen := map[string]string{}
	for _, k := range sortedKeys(c.Incoming) {
		v := c.Incoming[k]
		path := mapKeyPath("incoming", k)
		n := normName(k)
		if n == "" {
			ps.add(path, "empty ServiceDesk status name")
			continue
		}
		if prev, dup := seen[n]; dup {
			ps.add(path, fmt.Sprintf("same ServiceDesk status as key %q (names are compared without case and surrounding space)", prev))
			continue
		}
		seen[n] = k
		if normName(v) == Ignore {
			m.incoming[n] = Incoming{Action: Ignored}
			continue
		}
		st, ok := parseStatusKey(v)
		if !ok {
			ps.add(path, fmt.Sprintf("%q is not a Faraday status or ignore (want open, closed, re-opened, risk-accepted or ignore)", truncateRunes(v, 64)))
			continue
		}
		m.incoming[n] = Incoming{Action: Apply, Status: st}
	}
}

func (c *Config) compileTemplates(m *Mapper, ps *problems) {
	if len(c.Templates) == 0 {
		ps.add("templates", "no template: configure at least one request template")
	}
	names := map[string]int{}
	ids := map[string]int{}
	for i := range c.Templates {
		t := &c.Templates[i]
		path := indexPath("templates", i)
		ct := compiledTemplate{label: t.Label()}
		name, id := strings.TrimSpace(t.Name), strings.TrimSpace(t.ID)
		switch {
		case name == "" && id == "":
			ps.add(path, "template without name or id")
		case id != "" && !isDigits(id):
			ps.add(path+".id", "a ServiceDesk id is a string of digits")
		}
		if name != "" {
			if j, dup := names[normName(name)]; dup {
				ps.add(path+".name", fmt.Sprintf("same name as templates[%d]", j))
			}
			names[normName(name)] = i
		}
		if id != "" {
			if j, dup := ids[id]; dup {
				ps.add(path+".id", fmt.Sprintf("same id as templates[%d]", j))
			}
			ids[id] = i
		}
		ct.ref = servicedesk.TemplateRef{ID: servicedesk.ID(id), Name: name}
		seenField := map[string]int{}
		for j := range t.Fields {
			fpath := indexPath(path+".fields", j)
			key := strings.TrimSpace(t.Fields[j].Field)
			if k, dup := seenField[key]; dup && key != "" {
				ps.add(fpath+".field", fmt.Sprintf("field %q is already set by fields[%d]", key, k))
				continue
			}
			seenField[key] = j
			compileField(&ct.base, &t.Fields[j], fpath, ps)
		}
		m.templates = append(m.templates, ct)
	}
}

// compileField checks one field and applies its value to base.
func compileField(base *servicedesk.RequestInput, f *Field, path string, ps *problems) {
	key := strings.TrimSpace(f.Field)
	if key == "" {
		ps.add(path+".field", "missing: name the request field, such as \"category\" or \"udf_fields.udf_pick_5\"")
		return
	}
	if why, owned := mappingOwned[key]; owned {
		ps.add(path+".field", fmt.Sprintf("%q cannot be a template field: %s", key, why))
		return
	}
	udf, isUDF := strings.CutPrefix(key, "udf_fields.")
	if isUDF && (udf == "" || strings.ContainsAny(udf, ". ")) {
		ps.add(path+".field", "a user-defined field is written udf_fields.<key>, such as udf_fields.udf_pick_5")
		return
	}
	if f.Search != "" && f.Type != Search {
		ps.add(path+".search", "only Search fields take a search kind")
	}
	if f.JSON != "" && f.Type != Raw {
		ps.add(path+".json", "only Raw fields take JSON text")
	}
	switch f.Type {
	case Dropdown:
		compileDropdown(base, f, key, udf, isUDF, path, ps)
	case Search:
		compileSearch(base, f, key, udf, isUDF, path, ps)
	case Raw:
		compileRaw(base, f, key, udf, isUDF, path, ps)
	case "":
		ps.add(path+".type", "missing: want dropdown, search or raw")
	default:
		ps.add(path+".type", fmt.Sprintf("unknown field type %q (want dropdown, search or raw)", truncateRunes(string(f.Type), 32)))
	}
}

// stringValue reads a Dropdown or Search value. present is false when the
// value is missing, null or "".
func stringValue(f *Field, path string, ps *problems) (v string, present, ok bool) {
	raw := bytes.TrimSpace(f.Value)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", false, true
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		ps.add(path+".value", "want a JSON string (the option's or the name's text)")
		return "", false, false
	}
	v = strings.TrimSpace(v)
	return v, v != "", true
}

func missingMandatory(f *Field, path string, ps *problems) {
	if f.Mandatory {
		ps.add(path+".value", "mandatory field without value")
	}
}

func compileDropdown(base *servicedesk.RequestInput, f *Field, key, udf string, isUDF bool, path string, ps *problems) {
	if key == "category" {
		compileCategory(base, f, path, ps)
		return
	}
	if key == "subcategory" || key == "item" {
		ps.add(path+".field", fmt.Sprintf("set %s inside the category dropdown's value: {\"category\": …, \"subcategory\": …, \"item\": …}", key))
		return
	}
	set, known := dropdownFields[key]
	if !known && !isUDF {
		ps.add(path+".field", fmt.Sprintf("%q is not a dropdown field (want category, %s, or udf_fields.<key>; use raw for other fields)", key, strings.Join(sortedKeys(dropdownFields), ", ")))
		return
	}
	v, present, ok := stringValue(f, path, ps)
	if !ok {
		return
	}
	if !present {
		missingMandatory(f, path, ps)
		return
	}
	if isUDF {
		setUDF(base, udf, v)
		return
	}
	set(base, &servicedesk.Ref{Name: v})
}

func compileCategory(base *servicedesk.RequestInput, f *Field, path string, ps *problems) {
	raw := bytes.TrimSpace(f.Value)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		missingMandatory(f, path, ps)
		return
	}
	var cv CategoryValue
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &cv.Category); err != nil {
			ps.add(path+".value", "want a category name or {\"category\": …, \"subcategory\": …, \"item\": …}")
			return
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cv); err != nil {
			ps.add(path+".value", "want a category name or {\"category\": …, \"subcategory\": …, \"item\": …}: "+trimJSONPrefix(err.Error()))
			return
		}
		if key, _, bad := inexactKey(raw, reflect.TypeFor[CategoryValue]()); bad {
			ps.add(mapKeyPath(path+".value", key), "unknown key (keys are case-sensitive: want category, subcategory, item)")
			return
		}
		if key, _, dup := duplicateKey(raw); dup {
			ps.add(mapKeyPath(path+".value", key), "given twice (JSON would keep only the last)")
			return
		}
	}
	cv.Category, cv.Subcategory, cv.Item = strings.TrimSpace(cv.Category), strings.TrimSpace(cv.Subcategory), strings.TrimSpace(cv.Item)
	switch {
	case cv.Category == "" && (cv.Subcategory != "" || cv.Item != ""):
		ps.add(path+".value.category", "a subcategory or item needs its category")
		return
	case cv.Category == "":
		missingMandatory(f, path, ps)
		return
	case cv.Item != "" && cv.Subcategory == "":
		ps.add(path+".value.subcategory", "an item needs its subcategory")
		return
	}
	base.Category = &servicedesk.Ref{Name: cv.Category}
	if cv.Subcategory != "" {
		base.Subcategory = &servicedesk.Ref{Name: cv.Subcategory}
	}
	if cv.Item != "" {
		base.Item = &servicedesk.Ref{Name: cv.Item}
	}
}

func compileSearch(base *servicedesk.RequestInput, f *Field, key, udf string, isUDF bool, path string, ps *problems) {
	kind := f.Search
	switch key {
	case "technician", "group":
		if kind == "" {
			kind = SearchKind(key)
		}
		if string(kind) != key {
			ps.add(path+".search", fmt.Sprintf("the %s field looks up a %s, not a %q", key, key, truncateRunes(string(kind), 32)))
			return
		}
	default:
		if !isUDF {
			ps.add(path+".field", fmt.Sprintf("%q is not a search field (want technician, group, or udf_fields.<key> with a search kind)", key))
			return
		}
		switch kind {
		case SearchUser, SearchTechnician, SearchGroup:
		case "":
			ps.add(path+".search", "missing: say what the field looks up (user, technician or group)")
			return
		default:
			ps.add(path+".search", fmt.Sprintf("unknown search kind %q (want user, technician or group)", truncateRunes(string(kind), 32)))
			return
		}
	}
	v, present, ok := stringValue(f, path, ps)
	if !ok {
		return
	}
	if !present {
		missingMandatory(f, path, ps)
		return
	}
	switch {
	case isUDF:
		setUDF(base, udf, map[string]any{"name": v})
	case key == "technician":
		base.Technician = &servicedesk.UserRef{Name: v}
	default:
		base.Group = &servicedesk.Ref{Name: v}
	}
}

func compileRaw(base *servicedesk.RequestInput, f *Field, key, udf string, isUDF bool, path string, ps *problems) {
	raw := bytes.TrimSpace(f.Value)
	vpath := path + ".value"
	if f.JSON != "" {
		if len(raw) > 0 {
			ps.add(path, "give value or json, not both")
			return
		}
		raw = bytes.TrimSpace([]byte(f.JSON))
		vpath = path + ".json"
		if !json.Valid(raw) {
			ps.add(vpath, "raw JSON does not parse: "+jsonSyntaxText(raw))
			return
		}
	} else if len(raw) > 0 && !json.Valid(raw) {
		ps.add(vpath, "raw JSON does not parse: "+jsonSyntaxText(raw))
		return
	}
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) || bytes.Equal(raw, []byte(`""`)) {
		missingMandatory(f, path, ps)
		return
	}
	if isUDF {
		setUDF(base, udf, json.RawMessage(bytes.Clone(raw)))
		return
	}
	// A top-level field: it must be one the request has, with a value of
	// the right shape. Try it on a scratch copy first.
	quoted, _ := json.Marshal(key) // a string always marshals
	obj := make([]byte, 0, len(quoted)+len(raw)+3)
	obj = append(append(obj, '{'), quoted...)
	obj = append(append(append(obj, ':'), raw...), '}')
	var scratch servicedesk.RequestInput
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&scratch); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			ps.add(vpath, fmt.Sprintf("wrong shape for %q: want %s, found JSON %s", key, te.Type, te.Value))
		} else {
			ps.add(path+".field", fmt.Sprintf("%q is not a request field this SDK sends; a user-defined field is written udf_fields.<key>", key))
		}
		return
	}
	if key == "udf_fields" {
		for k, v := range scratch.UDFFields {
			setUDF(base, k, v)
		}
		return
	}
	_ = json.Unmarshal(obj, base) // cannot fail: the same text decoded above
}

func jsonSyntaxText(raw []byte) string {
	var v any
	err := json.Unmarshal(raw, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", trimJSONPrefix(se.Error()), se.Offset)
	}
	if err != nil {
		return trimJSONPrefix(err.Error())
	}
	return "invalid JSON"
}

func setUDF(base *servicedesk.RequestInput, key string, v any) {
	if base.UDFFields == nil {
		base.UDFFields = map[string]any{}
	}
	base.UDFFields[key] = v
}

// templateIndex finds a configured template by name (without case) or id.
func (m *Mapper) templateIndex(ref string) int {
	n := normName(ref)
	for i, t := range m.templates {
		if t.ref.ID != "" && string(t.ref.ID) == strings.TrimSpace(ref) {
			return i
		}
		if t.ref.Name != "" && normName(t.ref.Name) == n {
			return i
		}
	}
	return -1
}

func (c *Config) compileTemplateRule(m *Mapper, ps *problems) {
	r := c.TemplateRule
	if strings.TrimSpace(r.Default) != "" {
		if i := m.templateIndex(r.Default); i >= 0 {
			m.defaultTpl = i
		} else {
			ps.add("template_rule.default", fmt.Sprintf("%q names no configured template (by name or id)", truncateRunes(r.Default, 64)))
		}
	} else if len(m.templates) == 1 {
		m.defaultTpl = 0
	}
	seen := map[faraday.Severity]string{}
	for _, k := range sortedKeys(r.BySeverity) {
		path := mapKeyPath("template_rule.by_severity", k)
		sev, ok := parseSeverityKey(k)
		if !ok {
			ps.add(path, "not a Faraday severity (want critical, high, medium, low, informational, unclassified)")
			continue
		}
		if prev, dup := seen[sev]; dup {
			ps.add(path, fmt.Sprintf("severity %s is already given by key %q", sev, prev))
			continue
		}
		seen[sev] = k
		i := m.templateIndex(r.BySeverity[k])
		if i < 0 {
			ps.add(path, fmt.Sprintf("%q names no configured template (by name or id)", truncateRunes(r.BySeverity[k], 64)))
			continue
		}
		m.bySeverity[sev] = i
	}
	if m.defaultTpl < 0 && len(m.templates) > 1 {
		var missing []string
		for _, sev := range faraday.Severities() {
			if _, ok := seen[sev]; !ok {
				missing = append(missing, sev.String())
			}
		}
		if len(missing) > 0 {
			ps.add("template_rule.default", "missing: with several templates, name a default or a template for every severity (none for "+strings.Join(missing, ", ")+")")
		}
	}
}

func (c *Config) compileLayout(m *Mapper, ps *problems) {
	tag := c.Subject.Tag
	if tag == "" {
		tag = DefaultTag
		if c.InstanceLabel != "" {
			tag = DefaultInstanceTag
		}
	}
	tf, tps := parseTagFormat(tag, c.InstanceLabel != "")
	for _, p := range tps {
		ps.add("subject.tag", p)
	}
	m.tag = tf

	format := c.Subject.Format
	if format == "" {
		format = DefaultSubject
	}
	st, err := parseTemplate(format, "tag", "name", "severity", "target", phWorkspace, phID)
	switch {
	case err != nil:
		ps.add("subject.format", err.Error())
	case st.count("tag") != 1:
		ps.add("subject.format", "must contain {tag} once (the tag finds the ticket again after a crash)")
	case st.parts[0].ph != "tag":
		ps.add("subject.format", "must start with {tag} (the tag opens the subject, so a tag quoted in a vuln's name is never taken for the ticket's own)")
	case strings.ContainsFunc(format, unicode.IsControl):
		ps.add("subject.format", "the subject is one line: no line breaks, tabs or other control characters")
	default:
		m.subject = st
	}

	sections := c.Description.Sections
	if len(sections) == 0 {
		sections = DefaultSections
	}
	seen := map[string]int{}
	for i, s := range sections {
		path := indexPath("description.sections", i)
		if !knownSection(s) {
			ps.add(path, fmt.Sprintf("unknown section %q (want %s)", truncateRunes(s, 32), strings.Join(DefaultSections, ", ")))
			continue
		}
		if j, dup := seen[s]; dup {
			ps.add(path, fmt.Sprintf("section %q already at description.sections[%d]", s, j))
			continue
		}
		seen[s] = i
		m.sections = append(m.sections, s)
	}
	m.intro = c.Description.Intro
	switch mb := c.Description.MaxBytes; {
	case mb == 0:
		m.maxBytes = DefaultMaxDescriptionBytes
	case mb < MinMaxDescriptionBytes:
		ps.add("description.max_bytes", fmt.Sprintf("%d is below the minimum %d (the footer and a useful part of the text must fit)", mb, MinMaxDescriptionBytes))
	default:
		m.maxBytes = mb
	}
}
