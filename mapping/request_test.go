package mapping

import (
	"html"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/servicedesk"
)

func ptr[T any](v T) *T { return &v }

func testVuln() *faraday.Vuln {
	return &faraday.Vuln{
		ID:            123,
		WorkspaceName: "acme",
		Name:          "SQL injection in <login> form",
		Desc:          "User input reaches the query.\nSee \"id\" & 'name'.",
		Resolution:    "Use prepared statements.",
		Severity:      faraday.SeverityHigh,
		Status:        faraday.StatusOpen,
		Target:        "10.0.0.5",
		Hostnames:     []string{"db.acme.test", "db2.acme.test"},
		Service:       &faraday.Service{Port: 443, Protocol: "tcp", Name: "https", Summary: "(443/tcp) https"},
		Refs:          []faraday.Ref{{Name: "https://owasp.org/sqli?a=1&b=2", Type: faraday.RefOther}, {Name: "EDB-1", Type: faraday.RefExploit}},
		CVE:           []string{"CVE-2024-0001"},
		CWE:           []string{"CWE-89"},
		CVSS3:         &faraday.CVSS{VectorString: ptr("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), BaseScore: ptr(9.8), BaseSeverity: ptr("critical")},
	}
}

func testMapper(t testing.TB, change func(*Config), opts ...Option) *Mapper {
	t.Helper()
	c := validConfig()
	if change != nil {
		change(c)
	}
	m, err := New(c, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRequestEverySeverityAndStatus(t *testing.T) {
	m := testMapper(t, nil)
	wantPriority := map[faraday.Severity]string{
		faraday.SeverityCritical: "Urgent", faraday.SeverityHigh: "High", faraday.SeverityMedium: "Medium",
		faraday.SeverityLow: "Low", faraday.SeverityInformational: "Low", faraday.SeverityUnclassified: "Low",
	}
	wantStatus := map[faraday.Status]string{
		faraday.StatusOpen: "Open", faraday.StatusClosed: "Closed", faraday.StatusReopened: "Open", faraday.StatusRiskAccepted: "On Hold",
	}
	for _, sev := range faraday.Severities() {
		for _, st := range faraday.Statuses() {
			v := testVuln()
			v.Severity, v.Status = sev, st
			r, err := m.Request(v, "77")
			if err != nil {
				t.Fatalf("%s/%s: %v", sev, st, err)
			}
			if r.Priority == nil || r.Priority.Name != wantPriority[sev] {
				t.Errorf("%s: priority %+v, want %s", sev, r.Priority, wantPriority[sev])
			}
			if r.Status == nil || r.Status.Name != wantStatus[st] {
				t.Errorf("%s: status %+v, want %s", st, r.Status, wantStatus[st])
			}
			if r.Requester == nil || r.Requester.ID != "77" {
				t.Errorf("requester %+v", r.Requester)
			}
			if r.Template == nil || r.Template.Name != "Default Request" {
				t.Errorf("template %+v", r.Template)
			}
			if !strings.Contains(r.Description, "<b>Severity:</b> "+severityLabel(sev)+"<br>") {
				t.Errorf("%s: severity missing from description", sev)
			}
		}
	}
}

func TestRequestRejectsUnmappableVulns(t *testing.T) {
	m := testMapper(t, nil)
	cases := map[string]func(v *faraday.Vuln){
		"no workspace":       func(v *faraday.Vuln) { v.WorkspaceName = "" },
		"odd workspace":      func(v *faraday.Vuln) { v.WorkspaceName = "a/b" },
		"zero id":            func(v *faraday.Vuln) { v.ID = 0 },
		"invalid severity":   func(v *faraday.Vuln) { v.Severity = 0 },
		"invalid status":     func(v *faraday.Vuln) { v.Status = 9 },
		"unresolved request": nil,
	}
	for name, change := range cases {
		v := testVuln()
		requester := servicedesk.ID("5")
		if change != nil {
			change(v)
		} else {
			requester = ""
		}
		if _, err := m.Request(v, requester); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// With an id in the config, the requester needs no resolving.
	m2 := testMapper(t, func(c *Config) { c.Requester = Requester{ID: "42"} })
	r, err := m2.Request(testVuln(), "")
	if err != nil || r.Requester.ID != "42" {
		t.Fatalf("%v %+v", err, r)
	}
}

func TestSubject(t *testing.T) {
	m := testMapper(t, nil)
	v := testVuln()
	v.Name = "  A <b>bold</b> & \"quoted\"\r\n\tname\x00 with\u2028breaks  "
	s, err := m.Subject(v)
	if err != nil {
		t.Fatal(err)
	}
	// Plain text: nothing escaped, one line, white space collapsed.
	want := `[FRD acme/123] A <b>bold</b> & "quoted" name with breaks`
	if s != want {
		t.Errorf("subject = %q\n want %q", s, want)
	}

	// Long names are cut at 250 runes, tag kept, rune-safe.
	v.Name = strings.Repeat("é😀x", 200)
	s, _ = m.Subject(v)
	if n := utf8.RuneCountInString(s); n != MaxSubjectRunes {
		t.Errorf("subject has %d runes, want %d", n, MaxSubjectRunes)
	}
	if !strings.HasPrefix(s, "[FRD acme/123] é😀x") || !strings.HasSuffix(s, "…") || !utf8.ValidString(s) {
		t.Errorf("subject = %q", s)
	}

	// Fixed text after the name is kept whole too.
	m2 := testMapper(t, func(c *Config) { c.Subject.Format = "{tag} {name} ({severity}) #{id}" })
	s, _ = m2.Subject(v)
	if !strings.HasSuffix(s, "… (High) #123") || utf8.RuneCountInString(s) != MaxSubjectRunes {
		t.Errorf("subject = %q", s)
	}
	// Empty name: no dangling space.
	v.Name = ""
	s, _ = m.Subject(v)
	if s != "[FRD acme/123]" {
		t.Errorf("subject = %q", s)
	}
	// Instance label in the default tag.
	m3 := testMapper(t, func(c *Config) { c.InstanceLabel = "eu-1" })
	v.Name = "x"
	s, _ = m3.Subject(v)
	if s != "[FRD eu-1:acme/123] x" {
		t.Errorf("subject = %q", s)
	}
}

// TestSubjectProperty: for random names, subjects are valid UTF-8, one
// line, at most 250 runes, and contain the tag.
func TestSubjectProperty(t *testing.T) {
	m := testMapper(t, nil)
	rng := rand.New(rand.NewSource(1))
	for i := range 500 {
		v := testVuln()
		v.ID = int64(rng.Intn(1e9) + 1)
		v.Name = randomText(rng, rng.Intn(2000))
		v.Target = randomText(rng, 20)
		s, err := m.Subject(v)
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := m.Tag(v.WorkspaceName, v.ID)
		switch {
		case !utf8.ValidString(s):
			t.Fatalf("case %d: invalid UTF-8 %q", i, s)
		case strings.ContainsAny(s, "\r\n\t\v\f\u2028\u2029"):
			t.Fatalf("case %d: not one line %q", i, s)
		case utf8.RuneCountInString(s) > MaxSubjectRunes:
			t.Fatalf("case %d: %d runes", i, utf8.RuneCountInString(s))
		case !strings.HasPrefix(s, tag):
			t.Fatalf("case %d: tag %q lost in %q", i, tag, s)
		case s != strings.TrimSpace(s):
			t.Fatalf("case %d: surrounding space in %q", i, s)
		}
	}
}

func TestDescriptionEscapesOnce(t *testing.T) {
	m := testMapper(t, nil)
	v := testVuln()
	v.Name = "already &lt;b&gt; escaped"
	v.Desc = "line 1\nline <2>\r\nline & 3\rline 4 \"q\" 'a'"
	d := m.Description(v)
	for _, want := range []string{
		"<b>Name:</b> already &amp;lt;b&amp;gt; escaped<br>",
		"line 1<br>line &lt;2&gt;<br>line &amp; 3<br>line 4 &#34;q&#34; &#39;a&#39;",
		"<b>Severity:</b> High<br>",
		"<b>Target:</b> 10.0.0.5<br>",
		"<b>Hostnames:</b> db.acme.test, db2.acme.test<br>",
		"<b>Service:</b> (443/tcp) https<br>",
		"<b>CVE:</b> CVE-2024-0001<br>",
		"<b>CWE:</b> CWE-89<br>",
		"<b>CVSS v3:</b> 9.8 (critical) CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H<br>",
		"<b>Resolution</b><br>Use prepared statements.<br>",
		"- https://owasp.org/sqli?a=1&amp;b=2<br>- EDB-1 (exploit)<br>",
		`<a href="https://faraday.example.com/_api/v3/ws/acme/vulns/123">acme/123</a>`,
	} {
		if !strings.Contains(d, want) {
			t.Errorf("description lacks %q:\n%s", want, d)
		}
	}
	// Decoding the HTML once gives the vuln's text back exactly.
	if !strings.Contains(html.UnescapeString(strings.ReplaceAll(d, "<br>", "\n")), "line 1\nline <2>\nline & 3\nline 4 \"q\" 'a'") {
		t.Error("description does not decode to the vuln text")
	}
	ref, ok := ParseReference(d)
	if !ok || ref != unkeyed(Reference{Workspace: "acme", VulnID: 123}) {
		t.Errorf("reference = %+v %v", ref, ok)
	}
}

func TestDescriptionSections(t *testing.T) {
	m := testMapper(t, func(c *Config) {
		c.Description.Sections = []string{"resolution", "summary"}
		c.Description.Intro = "From <Faraday>"
	})
	d := m.Description(testVuln())
	if !strings.HasPrefix(d, "From &lt;Faraday&gt;<br><br><br><b>Resolution</b>") {
		t.Errorf("description = %s", d)
	}
	if strings.Contains(d, "<b>Description</b>") || strings.Contains(d, "<b>References</b>") {
		t.Error("sections not configured were written")
	}
	if strings.Index(d, "<b>Resolution</b>") > strings.Index(d, "<b>Name:</b>") {
		t.Error("sections out of order")
	}
}

func TestDescriptionWebSection(t *testing.T) {
	m := testMapper(t, nil)
	v := testVuln()
	v.Type = faraday.TypeVulnerabilityWeb
	v.Website, v.Path, v.Method, v.Params, v.StatusCode = "https://shop.test", "/login?next=<x>", "POST", "user=a&pass=b", ptr(500)
	d := m.Description(v)
	for _, want := range []string{
		"<br><b>Web</b><br><b>Website:</b> https://shop.test<br><b>Path:</b> /login?next=&lt;x&gt;<br>",
		"<b>Method:</b> POST<br><b>Parameters:</b> user=a&amp;pass=b<br><b>Status code:</b> 500<br>",
	} {
		if !strings.Contains(d, want) {
			t.Errorf("description lacks %q:\n%s", want, d)
		}
	}
	v.Website, v.Path, v.Method, v.Params, v.StatusCode = "", "", "", "", ptr(0)
	if strings.Contains(m.Description(v), "<b>Web</b>") {
		t.Error("empty web section written")
	}
}

// TestDescriptionCut: over the limit, the body is cut at a safe place, the
// note and footer are whole, and the total fits.
func TestDescriptionCut(t *testing.T) {
	for _, limit := range []int{MinMaxDescriptionBytes, 3000, 5000} {
		m := testMapper(t, func(c *Config) { c.Description.MaxBytes = limit })
		for shift := range 40 {
			v := testVuln()
			// Entities, <br>s and 4-byte runes at every offset near the cut.
			v.Desc = strings.Repeat("x", shift) + strings.Repeat("a&b<c>\n😀é\"", 2000)
			d := m.Description(v)
			if len(d) > limit {
				t.Fatalf("limit %d shift %d: %d bytes", limit, shift, len(d))
			}
			if !utf8.ValidString(d) {
				t.Fatalf("limit %d shift %d: invalid UTF-8", limit, shift)
			}
			if !strings.Contains(d, truncatedNote) {
				t.Fatalf("no truncation note")
			}
			if ref, ok := ParseReference(d); !ok || ref.VulnID != 123 {
				t.Fatalf("footer lost: %v", ok)
			}
			body := d[:strings.Index(d, truncatedNote)]
			assertWellFormed(t, body)
		}
	}
	// Under the limit nothing is cut.
	m := testMapper(t, nil)
	if d := m.Description(testVuln()); strings.Contains(d, truncatedNote) {
		t.Error("short description was cut")
	}
}

// assertWellFormed checks that s ends neither inside an entity nor inside a
// tag and that its <b> tags are balanced.
func assertWellFormed(t *testing.T, s string) {
	t.Helper()
	if i := strings.LastIndexByte(s, '&'); i >= 0 && !strings.Contains(s[i:], ";") {
		t.Fatalf("cut inside an entity: %q", s[max(0, len(s)-20):])
	}
	if i := strings.LastIndexByte(s, '<'); i >= 0 && !strings.Contains(s[i:], ">") {
		t.Fatalf("cut inside a tag: %q", s[max(0, len(s)-20):])
	}
	if strings.Count(s, "<b>") != strings.Count(s, "</b>") {
		t.Fatalf("unbalanced <b> in %q", s[max(0, len(s)-40):])
	}
	if html.UnescapeString(s) == s && strings.Contains(s, "&amp;") {
		t.Fatal("entities did not decode")
	}
}

func TestTrackerEntry(t *testing.T) {
	m := testMapper(t, nil)
	v := testVuln()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	created := &servicedesk.Request{
		ID: "123640000000240013", DisplayID: "102",
		Status:      &servicedesk.Status{ID: "1", Name: "Open"},
		Template:    &servicedesk.Template{ID: "9", Name: "Default Request"},
		CreatedTime: &servicedesk.DateTime{Millis: now.Add(-time.Minute).UnixMilli()},
	}
	e, err := m.TrackerEntry(v, created, "https://sdp.example/app/itdesk/ui/requests/123640000000240013/details", now)
	if err != nil {
		t.Fatal(err)
	}
	want := faraday.ServiceDeskEntry{
		State: faraday.LinkLinked, Tag: "[FRD acme/123]", RequestID: "123640000000240013", DisplayID: "102",
		URL: "https://sdp.example/app/itdesk/ui/requests/123640000000240013/details", Template: "Default Request",
		CreatedAt: faraday.NewTime(now.Add(-time.Minute)), LastPushedStatus: "Open",
		LastPushedAt: faraday.NewTime(now.Add(-time.Minute)), EchoConsumed: true,
	}
	if e.LastIncoming != nil || *e != want {
		t.Errorf("entry = %+v\nwant    %+v", *e, want)
	}
	if err := e.Validate(); err != nil {
		t.Error(err)
	}
	it := faraday.IssueTracker{ServiceDesk: e}
	if _, err := it.ColumnText(); err != nil {
		t.Error(err)
	}

	// On-premises: no display id, no template or time in the answer.
	e, err = m.TrackerEntry(v, &servicedesk.Request{ID: "71"}, "u", now)
	if err != nil {
		t.Fatal(err)
	}
	if e.DisplayID != "71" || e.Template != "Default Request" || !e.CreatedAt.Equal(now) || e.LastPushedStatus != "Open" {
		t.Errorf("entry = %+v", *e)
	}
	if _, err := m.TrackerEntry(v, &servicedesk.Request{}, "u", now); err == nil {
		t.Error("no error for a request without id")
	}
}

// randomText returns n runes of text rich in what breaks escaping and
// parsing: quotes, <, >, &, entities, line breaks, emoji, look-alike
// references and tags.
func randomText(rng *rand.Rand, n int) string {
	pieces := []string{
		"a", "b", "Z", "0", "9", " ", "  ", "\n", "\r\n", "\t", "\"", "'", "<", ">", "&", "&amp;", "&lt;b&gt;",
		"&#58;", "😀", "é", "漢", "\u00a0", "\u200b", "<br>", "<p>", "</p>", ":", "FRDREF:", "FRDREF:1::acme:",
		"FRDREF:1::acme:99:00000000", Reference{Workspace: "other", VulnID: 7}.String(),
		Reference{Instance: "x", Workspace: "acme", VulnID: 123}.String(), "[FRD acme/1]", "\x00", "\xff",
	}
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(pieces[rng.Intn(len(pieces))])
	}
	return b.String()
}

func TestRandomTextHelper(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	if s := randomText(rng, 100); len(s) < 100 {
		t.Fatal(strconv.Itoa(len(s)))
	}
}

// TestEscapeOnceProperty: decoding the escaped text once (entities, <br>
// as a line break) gives the vuln's text back, for any text; nothing is
// escaped twice and no raw markup character is left.
func TestEscapeOnceProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for i := range 500 {
		s := randomText(rng, rng.Intn(3000))
		var h htmlBuilder
		h.text(s)
		got := h.b.String()
		if strings.ContainsAny(strings.ReplaceAll(got, "<br>", ""), "<>\"'") {
			t.Fatalf("case %d: raw markup left in %q", i, got)
		}
		want := strings.ToValidUTF8(s, "\uFFFD")
		want = strings.ReplaceAll(want, "\r\n", "\n")
		want = strings.ReplaceAll(want, "\r", "\n")
		want = strings.Map(func(r rune) rune {
			if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
				return -1
			}
			return r
		}, want)
		if back := html.UnescapeString(strings.ReplaceAll(got, "<br>", "\n")); back != want {
			t.Fatalf("case %d: round trip\n got %q\nwant %q", i, back, want)
		}
	}
}

// TestSubjectPropertyOtherLayouts: the limits hold whatever the layout and
// wherever the tag sits.
func TestSubjectPropertyOtherLayouts(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for _, format := range []string{"{tag} {name} — {target}", "{tag} {severity}: {name} ({target}) {id}", "{tag}{name}{target}"} {
		m := testMapper(t, func(c *Config) { c.Subject.Format = format })
		for i := range 200 {
			v := testVuln()
			v.Name = randomText(rng, rng.Intn(600))
			v.Target = randomText(rng, rng.Intn(400))
			s, err := m.Subject(v)
			if err != nil {
				t.Fatal(err)
			}
			if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\n\t") || utf8.RuneCountInString(s) > MaxSubjectRunes || !strings.Contains(s, "[FRD acme/123]") {
				t.Fatalf("%q case %d: bad subject %q", format, i, s)
			}
		}
	}
}

// TestDescriptionEscapesWorkspace: the workspace goes into the footer's
// HTML escaped, and a workspace that is not a Faraday name gets no
// reference.
func TestDescriptionEscapesWorkspace(t *testing.T) {
	m := testMapper(t, nil)
	v := testVuln()
	v.WorkspaceName = `x"><img src=x onerror=alert(1)>`
	d := m.Description(v)
	if strings.Contains(d, "<img") || strings.Contains(d, `x">`) {
		t.Errorf("unescaped workspace in the description: …%s", d[max(0, len(d)-300):])
	}
	if !strings.Contains(d, "x&#34;&gt;&lt;img src=x onerror=alert(1)&gt;/123</a>") {
		t.Errorf("workspace not shown escaped: …%s", d[max(0, len(d)-300):])
	}
	if _, ok := ParseReference(d); ok {
		t.Error("a reference was written for an invalid workspace")
	}
	if _, err := m.Request(v, "1"); err == nil {
		t.Error("Request accepted the workspace")
	}
}

// TestSubjectStripsBidiControls: bidirectional formatting characters could
// make a subject display in another order than it reads.
func TestSubjectStripsBidiControls(t *testing.T) {
	m := testMapper(t, nil)
	v := testVuln()
	v.Name = "\u202eevil\u202c \u2066x\u2069\u200e\u200f\u202a\u202b\u202d\u2067\u2068y"
	s, err := m.Subject(v)
	if err != nil {
		t.Fatal(err)
	}
	if s != "[FRD acme/123] evil xy" {
		t.Errorf("subject = %q", s)
	}
}
