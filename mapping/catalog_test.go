package mapping

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// sampleCatalog is an instance that matches testdata/config.json.
func sampleCatalog() *Catalog {
	return &Catalog{
		Priorities: []string{"Low", "Medium", "High", "Urgent"},
		Statuses:   []string{"Open", "In Progress", "On Hold", "Resolved", "Closed", "Cancelled"},
		Templates: []CatalogTemplate{
			{ID: "300", Name: "Vulnerability", Fields: []string{"subject", "description", "category", "subcategory", "item", "group", "urgency", "udf_fields.udf_sline_301"}},
			{ID: "301", Name: "Security Incident"},
		},
		Categories: []CatalogCategory{
			{Name: "Security", Subcategories: []CatalogSubcategory{{Name: "Vulnerability", Items: []string{"Scanner finding", "Pentest finding"}}}},
			{Name: "Network"},
		},
		Groups:      []string{"IT", "Network"},
		Technicians: []string{"Jane Roe", "John Doe"},
		Users:       []CatalogUser{{ID: "4", Name: "Faraday Bot", LoginName: "faraday.bot"}, {ID: "5", Name: "Ann", LoginName: "ann"}},
		Options: map[string][]string{
			"urgency":               {"Low", "Normal", "High", "Urgent"},
			"udf_fields.udf_pick_5": {"P1", "P2", "P3"},
		},
		Mandatory: map[string][]string{"Vulnerability": {"subject", "category", "udf_sline_301"}},
	}
}

func TestCheckSampleMatches(t *testing.T) {
	c := loadSample(t)
	if err := c.Check(sampleCatalog()); err != nil {
		t.Fatal(err)
	}
	// A catalogue with nothing fetched checks nothing.
	if err := c.Check(&Catalog{}); err != nil {
		t.Fatal(err)
	}
}

func TestCheckReportsEachMismatch(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	tests := []struct {
		name       string
		change     func(c *Config, cat *Catalog)
		path       string
		msg        string
		suggestion string
	}{
		{"priority Critical on an Urgent instance", func(c *Config, _ *Catalog) { c.Priorities["critical"] = "Critical" },
			"priorities.critical", `priority "Critical" is not one this instance has; did you mean "Urgent"?`, "Urgent"},
		{"priority typo", func(c *Config, _ *Catalog) { c.Priorities["medium"] = "Meduim" },
			"priorities.medium", `did you mean "Medium"?`, "Medium"},
		{"priority nothing close", func(c *Config, _ *Catalog) { c.Priorities["low"] = "Zzzzzz" },
			"priorities.low", `(it has "Low", "Medium", "High", "Urgent")`, ""},
		{"outgoing status", func(c *Config, _ *Catalog) { c.Outgoing["closed"] = "Close" },
			"outgoing.closed", `status "Close" is not one this instance has; did you mean "Closed"?`, "Closed"},
		{"incoming status", func(c *Config, _ *Catalog) { c.Incoming["Resolvd"] = "closed" },
			"incoming.Resolvd", `did you mean "Resolved"?`, "Resolved"},
		{"incoming status by spacing", func(c *Config, _ *Catalog) { c.Incoming["InProgress"] = "open" },
			"incoming.InProgress", `did you mean "In Progress"?`, "In Progress"},
		{"template name", func(c *Config, _ *Catalog) {
			c.Templates[1].Name, c.Templates[1].ID = "Security Incidnet", ""
			c.TemplateRule.BySeverity = nil
		}, "templates[1].name", `did you mean "Security Incident"?`, "Security Incident"},
		{"template id", func(c *Config, _ *Catalog) {
			c.Templates[1].ID = "999"
		}, "templates[1].id", `template id "999"`, ""},
		{"category", func(c *Config, _ *Catalog) {
			c.Templates[0].Fields[0].Value = raw(`{"category": "Securty"}`)
		}, "templates[0].fields[0].value.category", `no category "Securty"; did you mean "Security"?`, "Security"},
		{"subcategory", func(c *Config, _ *Catalog) {
			c.Templates[0].Fields[0].Value = raw(`{"category": "security", "subcategory": "Vulns"}`)
		}, "templates[0].fields[0].value.subcategory", `no subcategory of Security "Vulns"`, ""},
		{"item", func(c *Config, _ *Catalog) {
			c.Templates[0].Fields[0].Value = raw(`{"category": "Security", "subcategory": "Vulnerability", "item": "Scanner findings"}`)
		}, "templates[0].fields[0].value.item", `did you mean "Scanner finding"?`, "Scanner finding"},
		{"dropdown option silently dropped", func(c *Config, _ *Catalog) {
			c.Templates[0].Fields[2].Value = raw(`"Critical"`)
		}, "templates[0].fields[2].value", `"Critical" is not among the options of urgency; ServiceDesk would drop it silently`, ""},
		{"udf dropdown option", func(c *Config, _ *Catalog) {
			c.Templates[1].Fields[1].Value = raw(`"P 1"`)
		}, "templates[1].fields[1].value", `did you mean "P1"?`, "P1"},
		{"dropdown without known options", func(_ *Config, cat *Catalog) { delete(cat.Options, "urgency") },
			"templates[0].fields[2].value", "the catalogue lists no options for urgency", ""},
		{"group", func(c *Config, _ *Catalog) { c.Templates[0].Fields[1].Value = raw(`"Netwrk"`) },
			"templates[0].fields[1].value", `no group named "Netwrk"; did you mean "Network"?`, "Network"},
		{"technician", func(c *Config, _ *Catalog) { c.Templates[1].Fields[0].Value = raw(`"Jane Doe"`) },
			"templates[1].fields[0].value", `no technician named "Jane Doe"; did you mean`, "Jane Roe"},
		{"field not in layout", func(c *Config, cat *Catalog) {
			c.Templates[0].Fields[2].Field = "impact"
			cat.Options["impact"] = []string{"High"}
		},
			"templates[0].fields[2].field", `the template's layout has no field "impact"`, ""},
		{"requester login unknown", func(c *Config, _ *Catalog) { c.Requester.LoginName = "faraday.bott" },
			"requester.login_name", `no user with login name "faraday.bott"; did you mean "faraday.bot"?`, "faraday.bot"},
		{"requester display name", func(c *Config, _ *Catalog) { c.Requester.LoginName = "Faraday Bot" },
			"requester.login_name", `is a display name, not a login name`, "faraday.bot"},
		{"requester login twice", func(_ *Config, cat *Catalog) {
			cat.Users = append(cat.Users, CatalogUser{ID: "9", LoginName: "Faraday.Bot"})
		}, "requester.login_name", "2 users have login name", ""},
		{"requester id", func(c *Config, _ *Catalog) { c.Requester = Requester{ID: "77"} },
			"requester.id", `no user with id "77"`, ""},
		{"mandatory from 4012 without value", func(_ *Config, cat *Catalog) {
			cat.Mandatory["Security Incident"] = []string{"udf_fields.udf_date_9", "technician"}
		}, "templates[1].fields", `ServiceDesk requires field "udf_fields.udf_date_9"`, ""},
		{"mandatory subcategory from 4012 by template id", func(c *Config, cat *Catalog) {
			c.Templates[0].ID = "300"
			c.Templates[0].Fields[0].Value = raw(`"Security"`)
			cat.Mandatory = map[string][]string{"300": {"subcategory"}}
		}, "templates[0].fields", `requires field "subcategory"`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := loadSample(t)
			cat := sampleCatalog()
			tc.change(c, cat)
			if err := c.Validate(); err != nil {
				t.Fatalf("the changed config must still validate: %v", err)
			}
			err := c.Check(cat)
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Check = %v", err)
			}
			if len(ps) != 1 {
				t.Fatalf("%d problems, want 1:\n%v", len(ps), err)
			}
			p := ps[0]
			if p.Path != tc.path || !strings.Contains(p.Message, tc.msg) || p.Suggestion != tc.suggestion {
				t.Errorf("problem = %+v\nwant path %q, message with %q, suggestion %q", p, tc.path, tc.msg, tc.suggestion)
			}
		})
	}
}

func TestCheckReportsEverythingAtOnce(t *testing.T) {
	c := loadSample(t)
	c.Priorities["critical"] = "Critical"
	c.Outgoing["open"] = "Opened"
	c.Templates[0].Fields[1].Value = json.RawMessage(`"Helpdesk"`)
	err := c.Check(sampleCatalog())
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 3 {
		t.Fatalf("Check = %v", err)
	}
}

func TestClosest(t *testing.T) {
	list := []string{"Low", "Medium", "High", "Urgent"}
	tests := []struct {
		name, want string
		priority   bool
		ok         bool
	}{
		{"Critical", "Urgent", true, true},
		{"Critical", "", false, false}, // plain rule: no typo-distance match
		{"highest", "Urgent", true, true},
		{"Normal", "Medium", true, true},
		{"Info", "", true, false}, // rank 4 has no name here, and no typo match
		{"hihg", "High", false, true},
		{"MEDIUM", "Medium", false, true},
		{"lo w", "Low", false, true},
		{"Mediums", "Medium", false, true},
		{"xyz", "", false, false},
	}
	for _, tc := range tests {
		var got string
		var ok bool
		if tc.priority {
			got, ok = ClosestPriority(tc.name, list)
		} else {
			got, ok = Closest(tc.name, list)
		}
		if got != tc.want || ok != tc.ok {
			t.Errorf("closest(%q, priority=%v) = %q, %v; want %q, %v", tc.name, tc.priority, got, ok, tc.want, tc.ok)
		}
	}
	// Runes, not bytes: one accent is one edit.
	if got, ok := Closest("Sécurité", []string{"Securite"}); !ok || got != "Securite" {
		t.Errorf("accented: %q %v", got, ok)
	}
}

func TestNewChecked(t *testing.T) {
	c := loadSample(t)
	if _, err := NewChecked(c, sampleCatalog()); err != nil {
		t.Fatal(err)
	}
	if _, err := NewChecked(c, nil); err == nil {
		t.Error("no error without a catalogue")
	}
	partial := sampleCatalog()
	partial.Priorities, partial.Groups = nil, nil
	delete(partial.Options, "urgency")
	_, err := NewChecked(c, partial)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("NewChecked with a partial catalogue = %v", err)
	}
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.Path)
	}
	if got := strings.Join(paths, " "); got != "priorities templates[0].fields[1] templates[0].fields[2] templates[0].fields[2].value" {
		t.Errorf("paths = %s\n%v", got, err)
	}
	c.Priorities["critical"] = "Critical"
	_, err = NewChecked(c, sampleCatalog())
	if !errors.As(err, &ps) || ps[0].Suggestion != "Urgent" {
		t.Errorf("NewChecked = %v", err)
	}
	c.Priorities["critical"] = ""
	if _, err := NewChecked(c, sampleCatalog()); !errors.As(err, &ps) || ps[0].Path != "priorities.critical" {
		t.Errorf("NewChecked on an invalid config = %v", err)
	}
}

// TestClosestPriorityKeepsRank: the edit-distance fallback never suggests
// a priority of another known rank.
func TestClosestPriorityKeepsRank(t *testing.T) {
	for _, c := range []struct {
		name string
		list []string
		want string
	}{
		{"P1", []string{"P2", "P3", "P4"}, ""},
		{"Highest", []string{"High", "Medium", "Low"}, ""},
		{"Lowest", []string{"High", "Medium", "Low"}, ""},
		{"Hihg", []string{"High", "Medium", "Low"}, "High"},       // a typo of no known rank
		{"Urgnet", []string{"Urgent", "High"}, "Urgent"},          // likewise
		{"Critical", []string{"Urgent", "High", "Low"}, "Urgent"}, // same rank
	} {
		got, ok := ClosestPriority(c.name, c.list)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("ClosestPriority(%q, %v) = %q, %v; want %q", c.name, c.list, got, ok, c.want)
		}
	}
	// Closest (no priority rule) still finds the typo-distance name.
	if got, _ := Closest("P1", []string{"P2"}); got != "P2" {
		t.Errorf("Closest(P1, [P2]) = %q", got)
	}
}
