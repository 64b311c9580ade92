package mapping

import (
	"bytes"
	"encoding/json"
	"html"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/testutil"
)

func readExportVulns(t *testing.T, workspace string) []*faraday.Vuln {
	t.Helper()
	data := testutil.ReadFixture(t, "faraday", "faraday_vulns_export.csv")
	r, err := faraday.NewExportReader(bytes.NewReader(data), faraday.WithExportWorkspace(workspace))
	if err != nil {
		t.Fatal(err)
	}
	var out []*faraday.Vuln
	for rec, err := range r.All() {
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		out = append(out, rec.Vuln)
	}
	if len(out) == 0 {
		t.Fatal("no vulns in the export")
	}
	return out
}

// expectHTML is how a piece of vuln text must appear in the description:
// escaped once, line breaks as <br>.
func expectHTML(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>")
}

// TestFixtureExportMapped maps the real vulns of Faraday's CSV export with
// the sample configuration and checks every request field against values
// computed here from the vuln and the config.
func TestFixtureExportMapped(t *testing.T) {
	cfg := loadSample(t)
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const ws = "fixture-ws"
	var vulns []*faraday.Vuln
	for _, v := range readExportVulns(t, ws) {
		// Each real vuln as exported, then at every severity and status.
		vulns = append(vulns, v)
		for _, sev := range faraday.Severities() {
			for _, st := range faraday.Statuses() {
				c := v.Clone()
				c.Severity, c.Status = sev, st
				vulns = append(vulns, c)
			}
		}
	}
	for i, v := range vulns {
		req, err := m.Request(v, "4")
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		tag := "[FRD " + ws + "/" + strconv.FormatInt(v.ID, 10) + "]"

		// Subject: tag and name as plain text, one line, ≤ 250 runes.
		wantSubject := tag + " " + strings.Join(strings.Fields(v.Name), " ")
		if utf8.RuneCountInString(wantSubject) > MaxSubjectRunes {
			t.Fatalf("row %d: fixture name longer than expected; extend the test", i)
		}
		if req.Subject != wantSubject {
			t.Errorf("row %d: subject %q, want %q", i, req.Subject, wantSubject)
		}

		// Lookups from the config.
		if req.Priority.Name != cfg.Priorities[v.Severity.String()] {
			t.Errorf("row %d: priority %q for %s", i, req.Priority.Name, v.Severity)
		}
		if req.Status.Name != cfg.Outgoing[v.Status.String()] {
			t.Errorf("row %d: status %q for %s", i, req.Status.Name, v.Status)
		}
		wantTpl := cfg.TemplateRule.Default
		if name, ok := cfg.TemplateRule.BySeverity[v.Severity.String()]; ok {
			wantTpl = name
		}
		if req.Template.Name != wantTpl {
			t.Errorf("row %d: template %q, want %q", i, req.Template.Name, wantTpl)
		}
		if req.Requester.ID != "4" {
			t.Errorf("row %d: requester %+v", i, req.Requester)
		}
		// The chosen template's fields.
		if wantTpl == "Security Incident" {
			if req.Technician.Name != "Jane Roe" || req.UDFFields["udf_pick_5"] != "P1" || req.Category != nil || req.Group != nil {
				t.Errorf("row %d: fields %+v %v %+v %+v", i, req.Technician, req.UDFFields, req.Category, req.Group)
			}
			if req.Template.ID != "301" {
				t.Errorf("row %d: template id %q", i, req.Template.ID)
			}
		} else if req.Category.Name != "Security" || req.Subcategory.Name != "Vulnerability" || req.Item.Name != "Scanner finding" ||
			req.Group.Name != "IT" || req.Urgency.Name != "High" {
			t.Errorf("row %d: fields %+v %+v %+v %+v %+v", i, req.Category, req.Subcategory, req.Item, req.Group, req.Urgency)
		}
		if b, _ := json.Marshal(req.UDFFields); wantTpl == "Vulnerability" && string(b) != `{"udf_sline_301":"faraday"}` {
			t.Errorf("row %d: udf_fields %s", i, b)
		}

		// Description: every piece of text escaped once.
		d := req.Description
		want := []string{
			"<b>Name:</b> " + expectHTML(v.Name) + "<br>",
			"<b>Severity:</b> " + severityLabel(v.Severity) + "<br>",
			"<b>Status:</b> " + statusLabel(v.Status) + "<br>",
			"<b>Target:</b> " + expectHTML(v.Target) + "<br>",
			"<b>Description</b><br>" + expectHTML(v.Desc) + "<br>",
			`<a href="https://faraday.example.com/_api/v3/ws/` + ws + "/vulns/" + strconv.FormatInt(v.ID, 10) + `">`,
		}
		if v.Service != nil {
			want = append(want, "<b>Service:</b> "+expectHTML(v.Service.Summary)+"<br>")
		} else if strings.Contains(d, "<b>Service:</b>") {
			t.Errorf("row %d: service line without a service", i)
		}
		if strings.TrimSpace(v.Resolution) != "" {
			want = append(want, "<b>Resolution</b><br>"+expectHTML(v.Resolution))
		}
		for _, w := range want {
			if !strings.Contains(d, w) {
				t.Errorf("row %d: description lacks %q", i, w)
			}
		}
		// The fixture's text holds quotes, < > and &: each must be escaped
		// exactly once, so no raw one is left and none is escaped twice.
		if strings.Contains(v.Desc, "<") && !strings.Contains(d, "&#34;&lt;&#34;") {
			t.Errorf("row %d: quoted < not escaped once", i)
		}
		if strings.Contains(d, "&amp;lt;") || strings.Contains(d, "&amp;#34;") {
			t.Errorf("row %d: text escaped twice", i)
		}
		// The refs list holds one empty name: no References section.
		hasRef := false
		for _, r := range v.Refs {
			hasRef = hasRef || strings.TrimSpace(r.Name) != ""
		}
		if strings.Contains(d, "<b>References</b>") != hasRef {
			t.Errorf("row %d: references section %v, want %v", i, !hasRef, hasRef)
		}
		if v.Website == "" && v.Path == "" && strings.Contains(d, "<b>Web</b>") {
			t.Errorf("row %d: empty web section", i)
		}
		if ref, ok := ParseReference(d); !ok || ref != unkeyed(Reference{Workspace: ws, VulnID: v.ID}) {
			t.Errorf("row %d: reference %+v %v", i, ref, ok)
		}
		if len(d) > DefaultMaxDescriptionBytes {
			t.Errorf("row %d: %d bytes", i, len(d))
		}
		// Encodes as the client sends it.
		if _, err := json.Marshal(req); err != nil {
			t.Errorf("row %d: %v", i, err)
		}
	}
}
