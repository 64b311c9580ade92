package mapping

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/servicedesk"
)

// validConfig returns a small valid configuration that tests change.
func validConfig() *Config {
	return &Config{
		FaradayURL: "https://faraday.example.com",
		Requester:  Requester{LoginName: "bot"},
		Priorities: map[string]string{
			"critical": "Urgent", "high": "High", "medium": "Medium",
			"low": "Low", "informational": "Low", "unclassified": "Low",
		},
		Incoming: map[string]string{"Open": "open", "Closed": "closed", "On Hold": "ignore"},
		Outgoing: map[string]string{"open": "Open", "closed": "Closed", "re-opened": "Open", "risk-accepted": "On Hold"},
		Templates: []Template{{Name: "Default Request", Fields: []Field{
			{Field: "group", Type: Search, Value: json.RawMessage(`"IT"`)},
		}}},
	}
}

func loadSample(t *testing.T) *Config {
	t.Helper()
	data, err := os.ReadFile("testdata/config.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(data)
	if err != nil {
		t.Fatalf("sample config: %v", err)
	}
	return c
}

func TestSampleConfigLoads(t *testing.T) {
	c := loadSample(t)
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Priority(faraday.SeverityCritical); got != "Urgent" {
		t.Errorf("critical → %q, want Urgent", got)
	}
	ref, _ := m.Template(faraday.SeverityCritical)
	if ref.Name != "Security Incident" || ref.ID != "301" {
		t.Errorf("critical template = %+v", ref)
	}
	ref, _ = m.Template(faraday.SeverityLow)
	if ref.Name != "Vulnerability" {
		t.Errorf("low template = %+v", ref)
	}
}

func TestParseConfigRejects(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown top-level key", `{"faraday_url": "https://f", "colour": 1}`, `line 1, column 42: unknown field "colour"`},
		{"unknown nested key", "{\n\"requester\": {\"login\": \"x\"}}", `line 2, column 29: unknown field "login"`},
		{"trailing object", `{} {}`, "trailing data"},
		{"trailing garbage", "{}\nxyz", "line 2, column 1: trailing data"},
		{"syntax error", "{\n  \"faraday_url\": ,}", "line 2, column 18: malformed JSON"},
		{"wrong type", `{"templates": {"name": "x"}}`, "templates: want []mapping.Template, found JSON object"},
		{"empty", ``, "empty input"},
		{"truncated", `{"faraday_url": "x"`, "ends early"},
		{"not an object", `[1]`, "found JSON array"},
		{"duplicate key", "{\"priorities\": {\"low\": \"Low\",\n \"low\": \"High\"}}", "line 2, column 7: priorities.low is given twice"},
		{"duplicate key in an array", `{"templates": [{"name": "a"}, {"name": "b", "fields": [{"field": "x", "field": "y"}]}]}`, "templates[1].fields[0].field is given twice"},
		{"duplicate top-level key", `{"faraday_url": "a", "faraday_url": "b"}`, "faraday_url is given twice"},
		{"duplicate quoted key", `{"incoming": {"On Hold": "open", "On Hold": "closed"}}`, `incoming["On Hold"] is given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.in))
			if err == nil {
				t.Fatalf("no error for %q", tc.in)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseConfigKeepsSecretsOutOfErrors(t *testing.T) {
	// A value typed into the wrong place must not be echoed back.
	_, err := ParseConfig([]byte(`{"requester": {"login_name": 12}, "token": "s3cr3t-value"}`))
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("err = %v", err)
	}
}

func TestValidateAcceptsValid(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestValidateEachProblem changes a valid config in one way per case and
// expects exactly the listed problem paths.
func TestValidateEachProblem(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name   string
		change func(c *Config)
		paths  []string
		msg    string // part of the first problem's message
	}{
		{"missing severity", func(c *Config) { delete(c.Priorities, "informational") },
			[]string{"priorities.informational"}, "all six severities"},
		{"every severity missing", func(c *Config) { c.Priorities = nil },
			[]string{"priorities.critical", "priorities.high", "priorities.medium", "priorities.low", "priorities.informational", "priorities.unclassified"}, "not mapped"},
		{"unknown severity key", func(c *Config) { c.Priorities["severe"] = "High" },
			[]string{"priorities.severe"}, "not a Faraday severity"},
		{"severity twice (short form)", func(c *Config) { c.Priorities["med"] = "High" },
			[]string{"priorities.medium"}, "already mapped"},
		{"empty priority", func(c *Config) { c.Priorities["low"] = " " },
			[]string{"priorities.low"}, "empty priority"},
		{"missing outgoing status", func(c *Config) { delete(c.Outgoing, "risk-accepted") },
			[]string{"outgoing.risk-accepted"}, "all four"},
		{"unknown outgoing key", func(c *Config) { c.Outgoing["pending"] = "Open" },
			[]string{"outgoing.pending"}, "not a Faraday status"},
		{"empty outgoing value", func(c *Config) { c.Outgoing["closed"] = "" },
			[]string{"outgoing.closed"}, "empty"},
		{"incoming not a status", func(c *Config) { c.Incoming["Resolved"] = "done" },
			[]string{"incoming.Resolved"}, "not a Faraday status or ignore"},
		{"incoming twice without case", func(c *Config) { c.Incoming[" open "] = "closed" },
			[]string{"incoming.Open"}, "same ServiceDesk status"},
		{"incoming empty name", func(c *Config) { c.Incoming[""] = "closed" },
			[]string{`incoming[""]`}, "empty"},
		{"no requester", func(c *Config) { c.Requester = Requester{} },
			[]string{"requester"}, "missing"},
		{"requester twice", func(c *Config) { c.Requester.ID = "5" },
			[]string{"requester"}, "not both"},
		{"requester id not digits", func(c *Config) { c.Requester = Requester{ID: "x5"} },
			[]string{"requester.id"}, "digits"},
		{"no faraday url", func(c *Config) { c.FaradayURL = "" },
			[]string{"faraday_url"}, "missing"},
		{"relative faraday url", func(c *Config) { c.FaradayURL = "faraday.example.com" },
			[]string{"faraday_url"}, "absolute"},
		{"faraday url with query", func(c *Config) { c.FaradayURL = "https://f.example/?a=1" },
			[]string{"faraday_url"}, "no user, query"},
		{"vuln link without id", func(c *Config) { c.VulnLink = "{faraday_url}/#/{workspace}" },
			[]string{"vuln_link"}, "{id}"},
		{"vuln link unknown placeholder", func(c *Config) { c.VulnLink = "{base}/{id}" },
			[]string{"vuln_link"}, "unknown placeholder {base}"},
		{"no templates", func(c *Config) { c.Templates = nil },
			[]string{"templates"}, "at least one"},
		{"template without name or id", func(c *Config) { c.Templates[0].Name = "" },
			[]string{"templates[0]"}, "without name or id"},
		{"template id not digits", func(c *Config) { c.Templates[0].ID = "abc" },
			[]string{"templates[0].id"}, "digits"},
		{"two templates same name", func(c *Config) {
			c.Templates = append(c.Templates, Template{Name: "default request"})
			c.TemplateRule.Default = "Default Request"
		},
			[]string{"templates[1].name"}, "same name"},
		{"mandatory dropdown without value", func(c *Config) {
			c.Templates[0].Fields = append(c.Templates[0].Fields, Field{Field: "urgency", Type: Dropdown, Mandatory: true})
		}, []string{"templates[0].fields[1].value"}, "mandatory field without value"},
		{"mandatory search with empty string", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "group", Type: Search, Mandatory: true, Value: raw(`""`)}
		}, []string{"templates[0].fields[0].value"}, "mandatory field without value"},
		{"mandatory raw null", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "udf_fields.udf_sline_1", Type: Raw, Mandatory: true, Value: raw(`null`)}
		}, []string{"templates[0].fields[0].value"}, "mandatory field without value"},
		{"mandatory category empty", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "category", Type: Dropdown, Mandatory: true, Value: raw(`{"category": ""}`)}
		}, []string{"templates[0].fields[0].value"}, "mandatory field without value"},
		{"unknown field type", func(c *Config) { c.Templates[0].Fields[0].Type = "checkbox" },
			[]string{"templates[0].fields[0].type"}, `unknown field type "checkbox"`},
		{"missing field type", func(c *Config) { c.Templates[0].Fields[0].Type = "" },
			[]string{"templates[0].fields[0].type"}, "missing"},
		{"raw JSON text that does not parse", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "udf_fields.udf_sline_1", Type: Raw, JSON: `{"a": }`}
		}, []string{"templates[0].fields[0].json"}, "raw JSON does not parse"},
		{"raw value that does not parse", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "udf_fields.udf_sline_1", Type: Raw, Value: raw(`{x`)}
		}, []string{"templates[0].fields[0].value"}, "raw JSON does not parse"},
		{"raw value and json", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "udf_fields.a", Type: Raw, Value: raw(`1`), JSON: `2`}
		}, []string{"templates[0].fields[0]"}, "not both"},
		{"raw unknown top-level field", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "colour", Type: Raw, Value: raw(`"red"`)}
		}, []string{"templates[0].fields[0].field"}, "not a request field"},
		{"raw wrong shape", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "impact_details", Type: Raw, Value: raw(`{"a":1}`)}
		}, []string{"templates[0].fields[0].value"}, "wrong shape"},
		{"field set by the mapping", func(c *Config) { c.Templates[0].Fields[0].Field = "priority" },
			[]string{"templates[0].fields[0].field"}, "comes from priorities"},
		{"field without name", func(c *Config) { c.Templates[0].Fields[0].Field = "" },
			[]string{"templates[0].fields[0].field"}, "missing"},
		{"field twice", func(c *Config) { c.Templates[0].Fields = append(c.Templates[0].Fields, c.Templates[0].Fields[0]) },
			[]string{"templates[0].fields[1].field"}, "already set"},
		{"dropdown on a non-lookup field", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "impact_details", Type: Dropdown, Value: raw(`"x"`)}
		}, []string{"templates[0].fields[0].field"}, "not a dropdown field"},
		{"dropdown value not a string", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "urgency", Type: Dropdown, Value: raw(`3`)}
		}, []string{"templates[0].fields[0].value"}, "want a JSON string"},
		{"subcategory as its own field", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "subcategory", Type: Dropdown, Value: raw(`"x"`)}
		}, []string{"templates[0].fields[0].field"}, "inside the category"},
		{"item without subcategory", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "category", Type: Dropdown, Value: raw(`{"category":"A","item":"B"}`)}
		}, []string{"templates[0].fields[0].value.subcategory"}, "needs its subcategory"},
		{"category value unknown key", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "category", Type: Dropdown, Value: raw(`{"category":"A","sub":"B"}`)}
		}, []string{"templates[0].fields[0].value"}, "unknown field"},
		{"search on a non-search field", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "urgency", Type: Search, Value: raw(`"x"`)}
		}, []string{"templates[0].fields[0].field"}, "not a search field"},
		{"search kind mismatch", func(c *Config) { c.Templates[0].Fields[0].Search = SearchUser },
			[]string{"templates[0].fields[0].search"}, "looks up a group"},
		{"udf search without kind", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "udf_fields.udf_ref_1", Type: Search, Value: raw(`"x"`)}
		}, []string{"templates[0].fields[0].search"}, "missing"},
		{"search kind on a dropdown", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "urgency", Type: Dropdown, Search: SearchUser, Value: raw(`"x"`)}
		}, []string{"templates[0].fields[0].search"}, "only Search"},
		{"bad udf key", func(c *Config) {
			c.Templates[0].Fields[0] = Field{Field: "udf_fields.", Type: Raw, Value: raw(`1`)}
		}, []string{"templates[0].fields[0].field"}, "udf_fields.<key>"},
		{"rule default unknown", func(c *Config) { c.TemplateRule.Default = "Nope" },
			[]string{"template_rule.default"}, "names no configured template"},
		{"rule severity unknown template", func(c *Config) { c.TemplateRule.BySeverity = map[string]string{"high": "Nope"} },
			[]string{"template_rule.by_severity.high"}, "names no configured template"},
		{"rule bad severity", func(c *Config) { c.TemplateRule.BySeverity = map[string]string{"huge": "Default Request"} },
			[]string{"template_rule.by_severity.huge"}, "not a Faraday severity"},
		{"several templates without default", func(c *Config) {
			c.Templates = append(c.Templates, Template{ID: "7"})
			c.TemplateRule.BySeverity = map[string]string{"critical": "7"}
		}, []string{"template_rule.default"}, "none for high, medium, low, informational, unclassified"},
		{"tag without workspace", func(c *Config) { c.Subject.Tag = "[FRD {id}]" },
			[]string{"subject.tag"}, "must contain {workspace}"},
		{"tag without id", func(c *Config) { c.Subject.Tag = "[FRD {workspace}]" },
			[]string{"subject.tag"}, "must contain {id}"},
		{"tag without delimiter after id", func(c *Config) { c.Subject.Tag = "[FRD {workspace}/{id}" },
			[]string{"subject.tag"}, "{id} must be followed by a delimiter"},
		{"tag with digit after id", func(c *Config) { c.Subject.Tag = "[FRD {workspace}/{id}0]" },
			[]string{"subject.tag"}, "{id} must be followed by a delimiter"},
		{"tag with space after id", func(c *Config) { c.Subject.Tag = "[FRD {workspace}/{id} ]" },
			[]string{"subject.tag"}, "{id} must be followed by a delimiter"},
		{"instance label without placeholder", func(c *Config) {
			c.InstanceLabel = "eu1"
			c.Subject.Tag = DefaultTag
		}, []string{"subject.tag"}, "must contain {instance}"},
		{"bad instance label", func(c *Config) { c.InstanceLabel = "eu 1" },
			[]string{"instance_label"}, "letters, digits"},
		{"subject without tag", func(c *Config) { c.Subject.Format = "{name}" },
			[]string{"subject.format"}, "must contain {tag}"},
		{"subject with a line break", func(c *Config) { c.Subject.Format = "{tag}\n{name}" },
			[]string{"subject.format"}, "one line"},
		{"unknown section", func(c *Config) { c.Description.Sections = []string{"summary", "evidence"} },
			[]string{"description.sections[1]"}, `unknown section "evidence"`},
		{"section twice", func(c *Config) { c.Description.Sections = []string{"summary", "summary"} },
			[]string{"description.sections[1]"}, "already"},
		{"limit too small", func(c *Config) { c.Description.MaxBytes = 100 },
			[]string{"description.max_bytes"}, "below the minimum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.change(c)
			err := c.Validate()
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Validate() = %v, want Problems", err)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Error("errors.Is(err, ErrInvalidConfig) is false")
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.Path)
			}
			if strings.Join(got, " | ") != strings.Join(tc.paths, " | ") {
				t.Fatalf("paths = %q, want %q\n%v", got, tc.paths, err)
			}
			if !strings.Contains(ps[0].Message, tc.msg) {
				t.Errorf("message %q does not contain %q", ps[0].Message, tc.msg)
			}
			if _, err := New(c); !errors.As(err, new(Problems)) {
				t.Errorf("New accepted an invalid config: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := validConfig()
	delete(c.Priorities, "critical")
	delete(c.Outgoing, "closed")
	c.Incoming["Resolved"] = "finished"
	c.Templates[0].Name = ""
	c.Subject.Tag = "[{workspace}{id}"
	err := c.Validate()
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatal(err)
	}
	for _, path := range []string{"priorities.critical", "outgoing.closed", "incoming.Resolved", "templates[0]", "subject.tag"} {
		if len(ps.At(path)) == 0 {
			t.Errorf("no problem at %s in\n%v", path, err)
		}
	}
	// The tag has two faults: adjacent placeholders and no delimiter.
	if n := len(ps.At("subject.tag")); n != 2 {
		t.Errorf("%d tag problems, want 2: %v", n, ps.At("subject.tag"))
	}
	if !strings.HasPrefix(err.Error(), "mapping: config has 6 problems\n  ") {
		t.Errorf("Error() = %q", err.Error())
	}
}

// A Search value needs no minimum length: "IT" is a valid group.
func TestShortSearchValueIsValid(t *testing.T) {
	c := validConfig()
	c.Templates[0].Fields[0].Value = json.RawMessage(`"IT"`)
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	req, err := m.Request(testVuln(), "9")
	if err != nil {
		t.Fatal(err)
	}
	if req.Group == nil || req.Group.Name != "IT" {
		t.Errorf("group = %+v", req.Group)
	}
}

func TestStatusKeysAcceptSeedSpelling(t *testing.T) {
	c := validConfig()
	c.Outgoing = map[string]string{"Open": "Open", "Closed": "Closed", "Re-Opened": "Open", "Risk Accepted": "On Hold"}
	c.Incoming = map[string]string{"On Hold": "Risk Accepted", "Reopened ticket": "Re-Opened"}
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Incoming("on hold"); got != (Incoming{Action: Apply, Status: faraday.StatusRiskAccepted}) {
		t.Errorf("on hold → %+v", got)
	}
	if got, _ := m.Outgoing(faraday.StatusRiskAccepted); got != "On Hold" {
		t.Errorf("risk-accepted → %q", got)
	}
}

// TestFieldTypes applies one field of each type and kind and checks the
// request field it sets.
func TestFieldTypes(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name  string
		field Field
		check func(t *testing.T, r *servicedesk.RequestInput)
	}{
		{"dropdown urgency", Field{Field: "urgency", Type: Dropdown, Value: raw(`"High"`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.Urgency == nil || r.Urgency.Name != "High" {
				t.Errorf("urgency = %+v", r.Urgency)
			}
		}},
		{"dropdown each lookup", Field{Field: "request_type", Type: Dropdown, Value: raw(`"Incident"`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.RequestType == nil || r.RequestType.Name != "Incident" {
				t.Errorf("request_type = %+v", r.RequestType)
			}
		}},
		{"dropdown category name", Field{Field: "category", Type: Dropdown, Value: raw(`"Security"`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.Category == nil || r.Category.Name != "Security" || r.Subcategory != nil || r.Item != nil {
				t.Errorf("category = %+v %+v %+v", r.Category, r.Subcategory, r.Item)
			}
		}},
		{"dropdown category path", Field{Field: "category", Type: Dropdown, Value: raw(`{"category":"Security","subcategory":"Vuln","item":"Web"}`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.Category.Name != "Security" || r.Subcategory.Name != "Vuln" || r.Item.Name != "Web" {
				t.Errorf("category = %+v %+v %+v", r.Category, r.Subcategory, r.Item)
			}
		}},
		{"dropdown udf picklist", Field{Field: "udf_fields.udf_pick_5", Type: Dropdown, Value: raw(`"P1"`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.UDFFields["udf_pick_5"] != "P1" {
				t.Errorf("udf = %#v", r.UDFFields)
			}
		}},
		{"search group", Field{Field: "group", Type: Search, Value: raw(`"IT"`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.Group == nil || r.Group.Name != "IT" {
				t.Errorf("group = %+v", r.Group)
			}
		}},
		{"search technician", Field{Field: "technician", Type: Search, Value: raw(`"Jane Roe"`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.Technician == nil || r.Technician.Name != "Jane Roe" {
				t.Errorf("technician = %+v", r.Technician)
			}
		}},
		{"search user udf", Field{Field: "udf_fields.udf_ref_2", Type: Search, Search: SearchUser, Value: raw(`"Ann"`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			b, _ := json.Marshal(r.UDFFields)
			if string(b) != `{"udf_ref_2":{"name":"Ann"}}` {
				t.Errorf("udf = %s", b)
			}
		}},
		{"raw udf object", Field{Field: "udf_fields.udf_date_1", Type: Raw, Value: raw(`{"value": 1700000000000}`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			b, _ := json.Marshal(r.UDFFields)
			if string(b) != `{"udf_date_1":{"value":1700000000000}}` {
				t.Errorf("udf = %s", b)
			}
		}},
		{"raw json text", Field{Field: "udf_fields.udf_sline_1", Type: Raw, JSON: ` "a \"quoted\" <b>" `}, func(t *testing.T, r *servicedesk.RequestInput) {
			b, _ := json.Marshal(r.UDFFields)
			if string(b) != `{"udf_sline_1":"a \"quoted\" \u003cb\u003e"}` {
				t.Errorf("udf = %s", b)
			}
		}},
		{"raw top-level text", Field{Field: "impact_details", Type: Raw, Value: raw(`"all hosts"`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.ImpactDetails != "all hosts" {
				t.Errorf("impact_details = %q", r.ImpactDetails)
			}
		}},
		{"raw top-level date", Field{Field: "due_by_time", Type: Raw, Value: raw(`{"value": "1700000000000"}`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.DueByTime == nil || r.DueByTime.Millis != 1700000000000 {
				t.Errorf("due_by_time = %+v", r.DueByTime)
			}
		}},
		{"raw udf_fields object", Field{Field: "udf_fields", Type: Raw, Value: raw(`{"a": 1, "b": "x"}`)}, func(t *testing.T, r *servicedesk.RequestInput) {
			b, _ := json.Marshal(r.UDFFields)
			if string(b) != `{"a":1,"b":"x"}` {
				t.Errorf("udf = %s", b)
			}
		}},
		{"optional field without value is left out", Field{Field: "urgency", Type: Dropdown}, func(t *testing.T, r *servicedesk.RequestInput) {
			if r.Urgency != nil {
				t.Errorf("urgency = %+v", r.Urgency)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.Templates[0].Fields = []Field{tc.field}
			m, err := New(c)
			if err != nil {
				t.Fatal(err)
			}
			r, err := m.Request(testVuln(), "9")
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, r)
			// The request must encode as the client will send it.
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRequestsShareNothingWithMapper(t *testing.T) {
	m, err := New(loadSample(t))
	if err != nil {
		t.Fatal(err)
	}
	v := testVuln()
	a, _ := m.Request(v, "9")
	a.Category.Name = "changed"
	a.Group.Name = "changed"
	a.UDFFields["udf_sline_301"] = "changed"
	b, _ := m.Request(v, "9")
	if b.Category.Name != "Security" || b.Group.Name != "IT" || string(b.UDFFields["udf_sline_301"].(json.RawMessage)) != `"faraday"` {
		t.Errorf("a change to one request reached the next: %+v %+v %v", b.Category, b.Group, b.UDFFields)
	}
}

// TestParseConfigRejectsCaseVariantKeys: encoding/json matches keys
// without case, so "FARADAY_URL" would silently override "faraday_url".
func TestParseConfigRejectsCaseVariantKeys(t *testing.T) {
	data, err := os.ReadFile("testdata/config.json")
	if err != nil {
		t.Fatal(err)
	}
	sample := string(data)
	for _, c := range []struct{ name, from, to, path string }{
		{"duplicate in another case", `"faraday_url": "https://faraday.example.com",`, `"faraday_url": "https://faraday.example.com", "FARADAY_URL": "https://evil.example.net",`, "FARADAY_URL"},
		{"alone in another case", `"priorities": {`, `"Priorities": {`, "Priorities"},
		{"nested", `"requester": {"login_name": "faraday.bot"}`, `"requester": {"Login_Name": "faraday.bot"}`, "requester.Login_Name"},
	} {
		in := strings.Replace(sample, c.from, c.to, 1)
		if in == sample {
			t.Fatalf("%s: the sample config changed; %q not found", c.name, c.from)
		}
		cfg, err := ParseConfig([]byte(in))
		if err == nil {
			t.Errorf("%s: accepted (faraday_url = %q)", c.name, cfg.FaradayURL)
			continue
		}
		if !strings.Contains(err.Error(), "unknown key "+c.path) || !strings.Contains(err.Error(), "line ") {
			t.Errorf("%s: err = %v, want unknown key %s with its position", c.name, err, c.path)
		}
	}
	// Inside a category value, read later from raw JSON, too.
	in := strings.Replace(sample, `{"category": "Security", "subcategory": "Vulnerability"`, `{"category": "Security", "Category": "Other", "subcategory": "Vulnerability"`, 1)
	if in == sample {
		t.Fatal("the sample's category value changed")
	}
	if _, err := LoadConfig([]byte(in)); err == nil || !strings.Contains(err.Error(), "templates[0].fields[0].value.Category") || !strings.Contains(err.Error(), "unknown key") {
		t.Errorf("case variant in a category value: %v", err)
	}
	// Map keys (severities, statuses) keep their own rules.
	if _, err := ParseConfig(data); err != nil {
		t.Errorf("sample: %v", err)
	}
}
