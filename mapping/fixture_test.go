package mapping

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"html"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/testutil"
)

// The faraday package's CSV reader (branch faraday-io) did not build
// together with faraday-core when this test was written, so the few
// columns the mapping needs are read here with encoding/csv.

var pyName = regexp.MustCompile(`'name':\s*'((?:[^'\\]|\\.)*)'`)
var pyType = regexp.MustCompile(`'type':\s*'((?:[^'\\]|\\.)*)'`)

// pyStrings reads a Python list literal of strings: [] or ['a', 'b'].
func pyStrings(t *testing.T, s string) []string {
	t.Helper()
	s = strings.TrimSpace(s)
	if s == "" || s == "[]" {
		return nil
	}
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		t.Fatalf("not a list literal: %q", s)
	}
	var out []string
	for _, p := range strings.Split(s[1:len(s)-1], ",") {
		out = append(out, strings.Trim(strings.TrimSpace(p), `'"`))
	}
	return out
}

func readExportVulns(t *testing.T, workspace string) []*faraday.Vuln {
	t.Helper()
	data := testutil.ReadFixture(t, "faraday", "faraday_vulns_export.csv")
	r := csv.NewReader(bytes.NewReader(data))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	get := func(row []string, name string) string {
		i, ok := col[name]
		if !ok {
			t.Fatalf("no column %q", name)
		}
		return row[i]
	}
	var out []*faraday.Vuln
	for _, row := range rows[1:] {
		id, err := strconv.ParseInt(get(row, "id"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		sev, err := faraday.ParseSeverity(get(row, "severity"))
		if err != nil {
			t.Fatal(err)
		}
		st, err := faraday.ParseStatus(get(row, "status"))
		if err != nil {
			t.Fatal(err)
		}
		v := &faraday.Vuln{
			ID: id, WorkspaceName: workspace, Name: get(row, "name"), Desc: get(row, "desc"),
			Resolution: get(row, "resolution"), Data: get(row, "data"), Severity: sev, Status: st,
			Confirmed: get(row, "confirmed") == "TRUE", Target: get(row, "target"),
			Hostnames: pyStrings(t, get(row, "hostnames")), CVE: pyStrings(t, get(row, "cve")), CWE: pyStrings(t, get(row, "cwe")),
			Website: get(row, "website"), Path: get(row, "path"), Method: get(row, "method"),
		}
		if get(row, "web_vulnerability") == "TRUE" {
			v.Type = faraday.TypeVulnerabilityWeb
		} else {
			v.Type = faraday.TypeVulnerability
		}
		names, types := pyName.FindAllStringSubmatch(get(row, "refs"), -1), pyType.FindAllStringSubmatch(get(row, "refs"), -1)
		for i := range names {
			v.Refs = append(v.Refs, faraday.Ref{Name: names[i][1], Type: faraday.RefType(types[i][1])})
		}
		if port := get(row, "port"); port != "" {
			p, err := strconv.Atoi(port)
			if err != nil {
				t.Fatal(err)
			}
			v.Service = &faraday.Service{Port: p, Protocol: get(row, "protocol"), Name: get(row, "service_name"), Summary: get(row, "summary"), Version: get(row, "version")}
			v.ParentType = faraday.ParentService
		} else {
			v.ParentType = faraday.ParentHost
		}
		if vec := get(row, "cvss3_vector_string"); vec != "" {
			v.CVSS3 = &faraday.CVSS{VectorString: &vec}
		}
		out = append(out, v)
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
	for i, v := range readExportVulns(t, ws) {
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
		// The default template's fields.
		if req.Category.Name != "Security" || req.Subcategory.Name != "Vulnerability" || req.Item.Name != "Scanner finding" ||
			req.Group.Name != "IT" || req.Urgency.Name != "High" {
			t.Errorf("row %d: fields %+v %+v %+v %+v %+v", i, req.Category, req.Subcategory, req.Item, req.Group, req.Urgency)
		}
		if b, _ := json.Marshal(req.UDFFields); string(b) != `{"udf_sline_301":"faraday"}` {
			t.Errorf("row %d: udf_fields %s", i, b)
		}

		// Description: every piece of text escaped once.
		d := req.Description
		want := []string{
			"<b>Name:</b> " + expectHTML(v.Name) + "<br>",
			"<b>Severity:</b> " + severityLabel(v.Severity) + "<br>",
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
		if ref, ok := ParseReference(d); !ok || ref != (Reference{Workspace: ws, VulnID: v.ID}) {
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
