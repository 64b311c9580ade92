package sample_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vulndesk/mesd/examples/sample"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
)

// The sample covers what the quickstart promises: every severity, confirmed
// and unconfirmed, web and host vulns, and text with quotes, '<', '&' and
// non-ASCII characters.
func TestVulnsCoverTheCases(t *testing.T) {
	vs, err := sample.Vulns()
	if err != nil {
		t.Fatal(err)
	}
	sev := map[faraday.Severity]bool{}
	var confirmed, unconfirmed, web, host int
	var quote, lt, amp, nonASCII bool
	ids := map[int64]bool{}
	for _, v := range vs {
		if v.WorkspaceName != sample.Workspace || v.ID < 1 || ids[v.ID] || v.Name == "" || !v.Status.Valid() {
			t.Errorf("vuln %d: workspace %q, name %q, status %v, or its id repeats", v.ID, v.WorkspaceName, v.Name, v.Status)
		}
		ids[v.ID] = true
		if v.Confirmed {
			sev[v.Severity] = true
			confirmed++
		} else {
			unconfirmed++
		}
		if v.IsWeb() {
			web++
		} else {
			host++
		}
		text := v.Name + v.Desc + v.Data + v.Resolution
		quote = quote || strings.Contains(text, `"`)
		lt = lt || strings.Contains(text, "<")
		amp = amp || strings.Contains(text, "&")
		nonASCII = nonASCII || utf8.RuneCountInString(text) != len(text)
	}
	for _, s := range faraday.Severities() {
		if !sev[s] {
			t.Errorf("no confirmed %s vuln", s)
		}
	}
	if confirmed < 4 || unconfirmed == 0 || web == 0 || host == 0 || !quote || !lt || !amp || !nonASCII {
		t.Errorf("confirmed %d (want ≥ 4 for the quickstart's steps 6 and 7), unconfirmed %d, web %d, host %d, quote %v, < %v, & %v, non-ASCII %v",
			confirmed, unconfirmed, web, host, quote, lt, amp, nonASCII)
	}
}

// The sample configuration validates, and checks against the names of
// sdptest's default seed (written out here by hand).
func TestConfigFitsTheFakeServiceDesk(t *testing.T) {
	cfg, err := mapping.LoadConfig(sample.ConfigJSON())
	if err != nil {
		t.Fatal(err)
	}
	cat := &mapping.Catalog{
		Priorities:  []string{"Low", "Medium", "High", "Urgent"},
		Statuses:    []string{"Open", "In Progress", "On Hold", "Resolved", "Closed", "Canceled"},
		Templates:   []mapping.CatalogTemplate{{Name: "Default Request"}, {Name: "Security Vulnerability"}},
		Groups:      []string{"Security Team", "Network", "Service Desk"},
		Technicians: []string{"administrator", "Dana Reyes", "Sam Okafor"},
		Users:       []mapping.CatalogUser{{ID: "50", Name: "Dana Reyes", LoginName: "dreyes"}},
		Categories: []mapping.CatalogCategory{{Name: "Security", Subcategories: []mapping.CatalogSubcategory{
			{Name: "Vulnerability", Items: []string{"Web Application", "Network", "Host"}}}}},
	}
	if err := cfg.Check(cat); err != nil {
		t.Fatal(err)
	}
	// Every ServiceDesk status has an incoming entry, and Canceled is ignored.
	m, err := mapping.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cat.Statuses {
		if m.Incoming(s).Action == mapping.Unmapped {
			t.Errorf("status %q is not in the incoming map", s)
		}
	}
	if m.Incoming("Canceled").Action != mapping.Ignored {
		t.Error("Canceled is not ignored")
	}
}
