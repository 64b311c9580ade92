package faraday

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
)

// VulnType is the class of a vulnerability, as the API's "type" field names
// it.
type VulnType string

// The two vulnerability classes the API loads.
const (
	TypeVulnerability    VulnType = "Vulnerability"
	TypeVulnerabilityWeb VulnType = "VulnerabilityWeb"
)

// ParentType says whether a vulnerability hangs off a host or a service.
type ParentType string

// The two parent kinds.
const (
	ParentHost    ParentType = "Host"
	ParentService ParentType = "Service"
)

// RefType is the kind of a reference.
type RefType string

// The reference kinds Faraday knows.
const (
	RefExploit RefType = "exploit"
	RefPatch   RefType = "patch"
	RefOther   RefType = "other"
)

// Ref is one entry of a vulnerability's "refs" list.
type Ref struct {
	Name string  `json:"name"`
	Type RefType `json:"type"`
}

// Service is the service a service-parented vulnerability belongs to, as the
// API embeds it under "service".
type Service struct {
	ID       int64  `json:"_id"`
	Port     int    `json:"ports"` // a single port number despite the key's name
	Status   string `json:"status"`
	Protocol string `json:"protocol"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Summary  string `json:"summary"` // such as "(443/tcp) https"
}

// Risk is the "risk" object: a score from 0 to 100 and its band (low,
// medium, high, critical; "" when the API writes null). The band uses full
// words, unlike Severity.
type Risk struct {
	Score    int    `json:"score"`
	Severity string `json:"severity"`
}

// MarshalJSON writes the band "" as null, as the API does.
func (r Risk) MarshalJSON() ([]byte, error) {
	var sev any
	if r.Severity != "" {
		sev = r.Severity
	}
	return json.Marshal(struct {
		Score    int `json:"score"`
		Severity any `json:"severity"`
	}{r.Score, sev})
}

// Impact is the "impact" object.
type Impact struct {
	Accountability  bool `json:"accountability"`
	Availability    bool `json:"availability"`
	Confidentiality bool `json:"confidentiality"`
	Integrity       bool `json:"integrity"`
}

// CVSS is one of the "cvss2", "cvss3", "cvss4" objects. Only the vector is
// writable; the server computes the rest. Fields the API writes as null are
// nil. Other computed keys (component descriptions and the like) are kept in
// Extra so that a round trip loses nothing.
type CVSS struct {
	VectorString *string                    `json:"vector_string"`
	BaseScore    *float64                   `json:"base_score"`
	BaseSeverity *string                    `json:"base_severity"`
	Extra        map[string]json.RawMessage `json:"-"`
}

// UnmarshalJSON reads the known keys and keeps the others in Extra.
func (c *CVSS) UnmarshalJSON(data []byte) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal(data, &all); err != nil {
		return err
	}
	type plain CVSS
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	delete(all, "vector_string")
	delete(all, "base_score")
	delete(all, "base_severity")
	p.Extra = nil
	if len(all) > 0 {
		p.Extra = all
	}
	*c = CVSS(p)
	return nil
}

// MarshalJSON writes the known keys and those kept in Extra.
func (c CVSS) MarshalJSON() ([]byte, error) {
	out := make(map[string]any, len(c.Extra)+3)
	for k, v := range c.Extra {
		out[k] = v
	}
	out["vector_string"] = c.VectorString
	out["base_score"] = c.BaseScore
	out["base_severity"] = c.BaseSeverity
	return json.Marshal(out)
}

// Metadata is the "metadata" object.
type Metadata struct {
	CommandID              *int64 `json:"command_id"`
	Creator                string `json:"creator"`
	Owner                  string `json:"owner"`
	CreateTime             Time   `json:"create_time"`
	UpdateTime             Time   `json:"update_time"`
	UpdateUser             string `json:"update_user"`
	UpdateAction           int    `json:"update_action"`
	UpdateControllerAction string `json:"update_controller_action"`
}

// Attachment is one evidence file under "_attachments". Lists carry none
// unless evidence is asked for.
type Attachment struct {
	ContentType string `json:"content_type"`
	Data        string `json:"data"` // base64, as the API sends it
	Description string `json:"description"`
}

// Vuln is a vulnerability as Faraday's REST API v3 writes it. Both classes,
// Vulnerability and VulnerabilityWeb, use this one type: the API dumps every
// vuln with the web schema, so the web fields are always present (empty for
// a non-web vuln). A host-parented vuln has Service nil and ParentType
// ParentHost; a service-parented one has the service object. Unknown JSON
// keys are ignored, never an error.
//
// The API writes "desc" and a read-only copy "description"; write through
// Desc.
type Vuln struct {
	ID          int64    `json:"id"`
	ObjectID    int64    `json:"_id"`
	ObjID       string   `json:"obj_id"`
	Rev         string   `json:"_rev"`
	Name        string   `json:"name"`
	Desc        string   `json:"desc"`
	Description string   `json:"description"`
	Data        string   `json:"data"`
	Resolution  string   `json:"resolution"`
	Severity    Severity `json:"severity"`
	Status      Status   `json:"status"`
	Confirmed   bool     `json:"confirmed"`
	Type        VulnType `json:"type"`

	Parent     int64      `json:"parent"`
	ParentType ParentType `json:"parent_type"`
	Target     string     `json:"target"`
	HostOS     string     `json:"host_os"`
	Hostnames  []string   `json:"hostnames"`
	Service    *Service   `json:"service"`

	Website    string `json:"website"`
	Path       string `json:"path"`
	Method     string `json:"method"`
	Params     string `json:"params"`
	ParamName  string `json:"pname"`
	Query      string `json:"query"`
	Request    string `json:"request"`
	Response   string `json:"response"`
	StatusCode *int   `json:"status_code"`

	Refs             []Ref                      `json:"refs"`
	CVE              []string                   `json:"cve"`
	CWE              []string                   `json:"cwe"`
	OWASP            json.RawMessage            `json:"owasp,omitempty"` // element form not established
	CVSS2            *CVSS                      `json:"cvss2"`
	CVSS3            *CVSS                      `json:"cvss3"`
	CVSS4            *CVSS                      `json:"cvss4"`
	Risk             *Risk                      `json:"risk"`
	Impact           Impact                     `json:"impact"`
	EaseOfResolution *string                    `json:"easeofresolution"`
	PolicyViolations []string                   `json:"policyviolations"`
	Tags             []string                   `json:"tags"`
	CustomFields     map[string]json.RawMessage `json:"custom_fields"`
	ExternalID       string                     `json:"external_id"`
	Tool             string                     `json:"tool"`
	IssueTracker     IssueTracker               `json:"issuetracker"`

	Owner         string                `json:"owner"`
	Owned         bool                  `json:"owned"`
	Metadata      Metadata              `json:"metadata"`
	Date          Time                  `json:"date"`
	UpdateDate    Time                  `json:"update_date"`
	LastDetected  Time                  `json:"last_detected"`
	WorkspaceName string                `json:"workspace_name"`
	Attachments   map[string]Attachment `json:"_attachments"`
}

// IsWeb reports whether v is a VulnerabilityWeb.
func (v *Vuln) IsWeb() bool { return v.Type == TypeVulnerabilityWeb }

// UnmarshalJSON decodes the API's JSON. When "issuetracker" is empty and
// the structured "issuetracker_json" form is present, IssueTracker is read
// from the latter. A missing or null severity or status is an error naming
// the field: the API always writes both.
func (v *Vuln) UnmarshalJSON(data []byte) error {
	type plain Vuln
	var aux struct {
		plain
		IssueTrackerJSON *IssueTracker `json:"issuetracker_json"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return vulnFieldError(data, err)
	}
	p := aux.plain
	if p.ID == 0 {
		p.ID = p.ObjectID
	}
	// Both are NOT NULL columns that the API always writes: a vuln without
	// them is not one the API sent, and the zero values are not a severity
	// or a status.
	for _, f := range []struct {
		name  string
		valid bool
	}{{"severity", p.Severity.Valid()}, {"status", p.Status.Valid()}} {
		if !f.valid {
			where := "vuln"
			if p.ID != 0 {
				where = fmt.Sprintf("vuln %d", p.ID)
			}
			return fmt.Errorf("faraday: decoding %s: field %s is missing or null: the API always writes it", where, f.name)
		}
	}
	if p.IssueTracker.IsEmpty() && aux.IssueTrackerJSON != nil {
		p.IssueTracker = *aux.IssueTrackerJSON
	}
	if bytes.Equal(bytes.TrimSpace(p.OWASP), []byte("null")) {
		p.OWASP = nil
	}
	*v = Vuln(p)
	return nil
}

// vulnFieldError names the field behind a decoding error. encoding/json
// names fields for type errors but not for errors of the fields' own
// decoders (severity, status, dates, issue tracker), so those fields are
// tried one by one.
func vulnFieldError(data []byte, err error) error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return fmt.Errorf("faraday: decoding vuln: %w", err)
	}
	var id int64
	_ = json.Unmarshal(fields["id"], &id)
	where := "vuln"
	if id != 0 {
		where = fmt.Sprintf("vuln %d", id)
	}
	checks := []struct {
		name string
		into any
	}{
		{"severity", new(Severity)}, {"status", new(Status)},
		{"date", new(Time)}, {"update_date", new(Time)}, {"last_detected", new(Time)},
		{"issuetracker", new(IssueTracker)}, {"issuetracker_json", new(IssueTracker)},
		{"metadata", new(Metadata)}, {"cvss2", new(CVSS)}, {"cvss3", new(CVSS)}, {"cvss4", new(CVSS)},
	}
	for _, c := range checks {
		raw, ok := fields[c.name]
		if !ok {
			continue
		}
		if ferr := json.Unmarshal(raw, c.into); ferr != nil {
			return fmt.Errorf("faraday: decoding %s: field %s: %w", where, c.name, ferr)
		}
	}
	return fmt.Errorf("faraday: decoding %s: %w", where, err)
}

// Clone returns a deep copy of v.
func (v *Vuln) Clone() *Vuln {
	c := *v
	c.Hostnames = cloneSlice(v.Hostnames)
	if v.Service != nil {
		s := *v.Service
		c.Service = &s
	}
	if v.StatusCode != nil {
		n := *v.StatusCode
		c.StatusCode = &n
	}
	c.Refs = cloneSlice(v.Refs)
	c.CVE = cloneSlice(v.CVE)
	c.CWE = cloneSlice(v.CWE)
	c.OWASP = cloneSlice(v.OWASP)
	c.CVSS2, c.CVSS3, c.CVSS4 = v.CVSS2.clone(), v.CVSS3.clone(), v.CVSS4.clone()
	if v.Risk != nil {
		r := *v.Risk
		c.Risk = &r
	}
	if v.EaseOfResolution != nil {
		e := *v.EaseOfResolution
		c.EaseOfResolution = &e
	}
	c.PolicyViolations = cloneSlice(v.PolicyViolations)
	c.Tags = cloneSlice(v.Tags)
	c.CustomFields = cloneRawMap(v.CustomFields)
	c.IssueTracker = v.IssueTracker.Clone()
	if v.Metadata.CommandID != nil {
		n := *v.Metadata.CommandID
		c.Metadata.CommandID = &n
	}
	c.Attachments = maps.Clone(v.Attachments)
	return &c
}

func (c *CVSS) clone() *CVSS {
	if c == nil {
		return nil
	}
	d := *c
	if c.VectorString != nil {
		s := *c.VectorString
		d.VectorString = &s
	}
	if c.BaseScore != nil {
		f := *c.BaseScore
		d.BaseScore = &f
	}
	if c.BaseSeverity != nil {
		s := *c.BaseSeverity
		d.BaseSeverity = &s
	}
	d.Extra = cloneRawMap(c.Extra)
	return &d
}

func cloneSlice[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return append(make([]T, 0, len(s)), s...)
}

func cloneRawMap(m map[string]json.RawMessage) map[string]json.RawMessage {
	if m == nil {
		return nil
	}
	out := make(map[string]json.RawMessage, len(m))
	for k, v := range m {
		out[k] = cloneSlice(v)
	}
	return out
}

// VulnRow is one entry of the list envelope: the id twice and the vuln.
type VulnRow struct {
	ID    int64 `json:"id"`
	Key   int64 `json:"key"`
	Value Vuln  `json:"value"`
}

// VulnList is the envelope of the list and filter endpoints:
// {"vulnerabilities":[{"id":..,"key":..,"value":{...}}], "count": N}. Count
// is the total number of matches, which is more than len(Vulnerabilities)
// when the response is a page.
type VulnList struct {
	Vulnerabilities []VulnRow `json:"vulnerabilities"`
	Count           int       `json:"count"`
}

// UnmarshalJSON decodes the envelope; an error names the row that failed.
func (l *VulnList) UnmarshalJSON(data []byte) error {
	var raw struct {
		Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
		Count           int               `json:"count"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("faraday: decoding vuln list: %w", err)
	}
	rows := make([]VulnRow, len(raw.Vulnerabilities))
	for i, r := range raw.Vulnerabilities {
		if err := json.Unmarshal(r, &rows[i]); err != nil {
			return fmt.Errorf("faraday: vuln list: vulnerabilities[%d]: %w", i, err)
		}
	}
	l.Vulnerabilities, l.Count = rows, raw.Count
	return nil
}

// Vulns returns the vulns of the envelope in order.
func (l *VulnList) Vulns() []Vuln {
	out := make([]Vuln, len(l.Vulnerabilities))
	for i := range l.Vulnerabilities {
		out[i] = l.Vulnerabilities[i].Value
	}
	return out
}
