package faraday

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVulnHostParented(t *testing.T) {
	var v Vuln
	if err := json.Unmarshal(readTestdata(t, "vuln_host.json"), &v); err != nil {
		t.Fatal(err)
	}
	if v.ID != 12 || v.ObjectID != 12 || v.ObjID != "12" || v.Name != "Apache Log4j RCE" {
		t.Errorf("ids/name = %d %d %q %q", v.ID, v.ObjectID, v.ObjID, v.Name)
	}
	if v.Severity != SeverityMedium || v.Status != StatusOpen || !v.Confirmed || v.Type != TypeVulnerability || v.IsWeb() {
		t.Errorf("severity/status/type = %v %v %v %v", v.Severity, v.Status, v.Confirmed, v.Type)
	}
	if v.Parent != 7 || v.ParentType != ParentHost || v.Service != nil || v.Target != "10.203.0.62" || v.HostOS != "Linux" {
		t.Errorf("parent = %d %q %v %q %q", v.Parent, v.ParentType, v.Service, v.Target, v.HostOS)
	}
	if v.Desc != "Remote code execution <b>via</b> JNDI\nsecond line" || v.Description != v.Desc {
		t.Errorf("desc = %q", v.Desc)
	}
	if !reflect.DeepEqual(v.Hostnames, []string{"web01.example.com"}) || !reflect.DeepEqual(v.CVE, []string{"CVE-2021-44228"}) ||
		!reflect.DeepEqual(v.CWE, []string{"CWE-502"}) || !reflect.DeepEqual(v.Tags, []string{"prod"}) {
		t.Errorf("lists = %v %v %v %v", v.Hostnames, v.CVE, v.CWE, v.Tags)
	}
	if len(v.Refs) != 1 || v.Refs[0] != (Ref{Name: "https://nvd.nist.gov/vuln/detail/CVE-2021-44228", Type: RefOther}) {
		t.Errorf("refs = %v", v.Refs)
	}
	if v.CVSS3 == nil || v.CVSS3.VectorString == nil || *v.CVSS3.VectorString != "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H" ||
		v.CVSS3.BaseScore == nil || *v.CVSS3.BaseScore != 10.0 || *v.CVSS3.BaseSeverity != "critical" ||
		string(v.CVSS3.Extra["attack_vector"]) != `"network"` {
		t.Errorf("cvss3 = %+v", v.CVSS3)
	}
	if v.CVSS2 == nil || v.CVSS2.VectorString != nil || v.CVSS2.BaseScore != nil || string(v.CVSS2.Extra["access_vector"]) != "null" {
		t.Errorf("cvss2 = %+v", v.CVSS2)
	}
	if v.CVSS4 == nil || v.CVSS4.Extra != nil {
		t.Errorf("cvss4 = %+v", v.CVSS4)
	}
	if v.Risk == nil || *v.Risk != (Risk{Score: 55, Severity: "medium"}) {
		t.Errorf("risk = %+v", v.Risk)
	}
	if v.Impact != (Impact{Availability: true, Confidentiality: true}) {
		t.Errorf("impact = %+v", v.Impact)
	}
	if v.EaseOfResolution != nil || v.StatusCode != nil || v.LastDetected.IsZero() == false {
		t.Errorf("nulls = %v %v %v", v.EaseOfResolution, v.StatusCode, v.LastDetected)
	}
	if string(v.CustomFields["cf_category"]) != `"infra"` || string(v.CustomFields["cf_count"]) != "3" {
		t.Errorf("custom_fields = %v", v.CustomFields)
	}
	if !v.IssueTracker.IsEmpty() {
		t.Errorf("issuetracker = %+v", v.IssueTracker)
	}
	wantDate := time.Date(2026, 6, 30, 15, 10, 7, 123456000, time.UTC)
	if !v.Date.Equal(wantDate) || !v.Metadata.CreateTime.Equal(wantDate) ||
		!v.UpdateDate.Equal(time.Date(2026, 6, 30, 15, 10, 7, 0, time.UTC)) {
		t.Errorf("dates = %v %v %v", v.Date, v.Metadata.CreateTime, v.UpdateDate)
	}
	if v.Metadata.CommandID == nil || *v.Metadata.CommandID != 3 || v.Metadata.Creator != "Nessus" || v.Owner != "faraday" {
		t.Errorf("metadata = %+v", v.Metadata)
	}
	if v.WorkspaceName != "acme" || v.Tool != "Nessus" || len(v.Attachments) != 0 {
		t.Errorf("ws/tool/attachments = %q %q %v", v.WorkspaceName, v.Tool, v.Attachments)
	}
}

func TestVulnWebServiceParented(t *testing.T) {
	var v Vuln
	if err := json.Unmarshal(readTestdata(t, "vuln_web_service.json"), &v); err != nil {
		t.Fatal(err)
	}
	if !v.IsWeb() || v.ParentType != ParentService || v.Parent != 9 {
		t.Errorf("type/parent = %v %v %d", v.Type, v.ParentType, v.Parent)
	}
	wantSvc := Service{ID: 9, Port: 443, Status: "open", Protocol: "tcp", Name: "https", Summary: "(443/tcp) https"}
	if v.Service == nil || *v.Service != wantSvc {
		t.Errorf("service = %+v", v.Service)
	}
	if v.Severity != SeverityInformational || v.Status != StatusReopened {
		t.Errorf("severity/status = %v %v", v.Severity, v.Status)
	}
	if v.Website != "shop.example.com" || v.Path != "/search" || v.Method != "GET" || v.Params != "q=1" || v.ParamName != "q" ||
		v.Query != "q=%3Cscript%3E" || v.Request != "GET /search?q=%3Cscript%3E HTTP/1.1" || v.Response != "HTTP/1.1 200 OK" ||
		v.StatusCode == nil || *v.StatusCode != 200 {
		t.Errorf("web fields = %+v", v)
	}
	if v.Risk == nil || v.Risk.Score != 0 || v.Risk.Severity != "" {
		t.Errorf("risk = %+v", v.Risk)
	}
	if v.EaseOfResolution == nil || *v.EaseOfResolution != "simple" || !reflect.DeepEqual(v.PolicyViolations, []string{"PCI"}) {
		t.Errorf("ease/policy = %v %v", v.EaseOfResolution, v.PolicyViolations)
	}
	if v.Owner != "" || v.Metadata.CommandID != nil || v.Metadata.UpdateUser != "alice" {
		t.Errorf("owner/metadata = %q %+v", v.Owner, v.Metadata)
	}
	if !v.LastDetected.Equal(time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC)) || v.Date.Nanosecond() != 1000 {
		t.Errorf("dates = %v %v", v.LastDetected, v.Date)
	}
	sd := v.IssueTracker.ServiceDesk
	if sd == nil || sd.State != LinkLinked || sd.RequestID != "100000000000123" || sd.DisplayID != "123" {
		t.Errorf("issuetracker entry = %+v", sd)
	}
	if a := v.Attachments["shot.png"]; a != (Attachment{ContentType: "image/png", Data: "iVBORw0K", Description: "screenshot"}) {
		t.Errorf("attachment = %+v", a)
	}
}

func TestVulnRoundTrip(t *testing.T) {
	for _, name := range []string{"vuln_host.json", "vuln_web_service.json"} {
		var v Vuln
		if err := json.Unmarshal(readTestdata(t, name), &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(&v)
		if err != nil {
			t.Fatalf("%s: marshal: %v", name, err)
		}
		var back Vuln
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: unmarshal again: %v", name, err)
		}
		if !reflect.DeepEqual(normalizeVuln(v), normalizeVuln(back)) {
			t.Errorf("%s: round trip differs:\n%+v\n%+v", name, v, back)
		}
		// The written JSON keeps the API's forms.
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"date", "update_date"} {
			if s, _ := m[k].(string); !strings.HasSuffix(s, "+00:00") {
				t.Errorf("%s: %s = %v; want a +00:00 offset", name, k, m[k])
			}
		}
		if _, ok := m["issuetracker"].(map[string]any); !ok {
			t.Errorf("%s: issuetracker written as %T; want an object", name, m["issuetracker"])
		}
		for _, k := range []string{"service", "status_code", "easeofresolution", "last_detected", "cvss2", "website", "pname"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s: key %q missing from output", name, k)
			}
		}
	}
	// Severity is written in the API's short form.
	var v Vuln
	_ = json.Unmarshal(readTestdata(t, "vuln_host.json"), &v)
	b, _ := json.Marshal(&v)
	if !strings.Contains(string(b), `"severity":"med"`) || !strings.Contains(string(b), `"service":null`) {
		t.Errorf("output lacks API forms: %s", b)
	}
}

// normalizeVuln compacts raw JSON so DeepEqual ignores spacing.
func normalizeVuln(v Vuln) Vuln {
	c := v.Clone()
	for k, raw := range c.CustomFields {
		c.CustomFields[k] = compactJSON(raw)
	}
	for _, cv := range []*CVSS{c.CVSS2, c.CVSS3, c.CVSS4} {
		if cv != nil {
			for k, raw := range cv.Extra {
				cv.Extra[k] = compactJSON(raw)
			}
		}
	}
	c.OWASP = compactJSON(c.OWASP)
	return *c
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var out strings.Builder
	b, _ := json.Marshal(raw)
	out.Write(b)
	return json.RawMessage(out.String())
}

func TestVulnUnknownFieldsIgnored(t *testing.T) {
	var v Vuln
	in := `{"id": 1, "name": "n", "severity": "low", "status": "closed", "brand_new": {"a": [1, {"b": null}]}, "run_date": null}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatalf("unknown keys gave %v", err)
	}
	if v.ID != 1 || v.Severity != SeverityLow || v.Status != StatusClosed {
		t.Errorf("v = %+v", v)
	}
	// _id alone fills ID.
	if err := json.Unmarshal([]byte(`{"_id": 5, "severity": "high", "status": "open"}`), &v); err != nil || v.ID != 5 {
		t.Errorf("_id only: %d, %v", v.ID, err)
	}
}

func TestVulnBadValues(t *testing.T) {
	cases := map[string]error{
		`{"severity": "urgent"}`:                 ErrInvalidSeverity,
		`{"severity": "low", "status": "done"}`:  ErrInvalidStatus,
		`{"date": "yesterday"}`:                  ErrInvalidTime,
		`{"issuetracker": [1]}`:                  ErrInvalidIssueTracker,
		`{"issuetracker": "not json"}`:           ErrInvalidIssueTracker,
		`{"issuetracker": {"service_desk": {}}}`: ErrInvalidIssueTracker,
	}
	for in, want := range cases {
		var v Vuln
		err := json.Unmarshal([]byte(in), &v)
		if !errors.Is(err, want) {
			t.Errorf("Unmarshal(%s) = %v; want %v", in, err, want)
		}
	}
	var v Vuln
	if err := json.Unmarshal([]byte(`{"id": "twelve"}`), &v); err == nil || !strings.Contains(err.Error(), "id") {
		t.Errorf("string id error = %v; want it to name the field", err)
	}
	named := map[string]string{
		`{"id": 4, "severity": "urgent"}`:                                          "vuln 4: field severity",
		`{"id": 4, "severity": "low", "status": "x"}`:                              "vuln 4: field status",
		`{"severity": "low", "last_detected": "soon"}`:                             "vuln: field last_detected",
		`{"id": 9, "metadata": {"create_time": "x"}}`:                              "vuln 9: field metadata",
		`{"id": 9, "issuetracker": "{\"service_desk\": {\"state\": \"linked\"}}"}`: "vuln 9: field issuetracker",
	}
	for in, want := range named {
		err := json.Unmarshal([]byte(in), &v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Unmarshal(%s) = %v; want it to say %q", in, err, want)
		}
	}
	var l VulnList
	err := json.Unmarshal([]byte(`{"vulnerabilities": [{"id": 1, "key": 1, "value": {"id": 1, "severity": "low", "status": "open"}}, {"id": 2, "key": 2, "value": {"id": 2, "severity": "bad"}}], "count": 2}`), &l)
	if !errors.Is(err, ErrInvalidSeverity) || !strings.Contains(err.Error(), "vulnerabilities[1]") || !strings.Contains(err.Error(), "vuln 2: field severity") {
		t.Errorf("list error = %v", err)
	}
}

func TestVulnList(t *testing.T) {
	host := readTestdata(t, "vuln_host.json")
	web := readTestdata(t, "vuln_web_service.json")
	env := `{"vulnerabilities": [{"id": 12, "key": 12, "value": ` + string(host) + `}, {"id": 40, "key": 40, "value": ` + string(web) + `}], "count": 57}`
	var l VulnList
	if err := json.Unmarshal([]byte(env), &l); err != nil {
		t.Fatal(err)
	}
	if l.Count != 57 || len(l.Vulnerabilities) != 2 || l.Vulnerabilities[1].Key != 40 || l.Vulnerabilities[1].ID != 40 {
		t.Fatalf("envelope = count %d, %d rows", l.Count, len(l.Vulnerabilities))
	}
	vs := l.Vulns()
	if vs[0].ID != 12 || vs[1].ID != 40 || vs[1].Service == nil {
		t.Errorf("Vulns() = %d, %d", vs[0].ID, vs[1].ID)
	}
}

func TestTimeFormats(t *testing.T) {
	cases := map[string]time.Time{
		"2024-04-22T14:47:16.277896+00:00": time.Date(2024, 4, 22, 14, 47, 16, 277896000, time.UTC),
		"2024-04-22 14:47:07":              time.Date(2024, 4, 22, 14, 47, 7, 0, time.UTC),
		"2024-04-22T14:47:07Z":             time.Date(2024, 4, 22, 14, 47, 7, 0, time.UTC),
		"2024-04-22T16:47:07+02:00":        time.Date(2024, 4, 22, 14, 47, 7, 0, time.UTC),
		"2024-04-22T14:47:07.5":            time.Date(2024, 4, 22, 14, 47, 7, 500000000, time.UTC),
	}
	for in, want := range cases {
		got, err := ParseTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if s := NewTime(time.Date(2024, 4, 22, 14, 47, 16, 277896999, time.UTC)).String(); s != "2024-04-22T14:47:16.277896+00:00" {
		t.Errorf("String = %q", s)
	}
	if s := NewTime(time.Date(2024, 4, 22, 14, 47, 16, 0, time.FixedZone("x", 3600))).String(); s != "2024-04-22T13:47:16+00:00" {
		t.Errorf("String = %q", s)
	}
	if b, _ := json.Marshal(Time{}); string(b) != "null" {
		t.Errorf("zero Time = %s", b)
	}
	if _, err := ParseTime("22/04/2024"); !errors.Is(err, ErrInvalidTime) || !strings.Contains(err.Error(), `"22/04/2024"`) {
		t.Errorf("bad date error = %v", err)
	}
}

func TestVulnIssueTrackerJSONForm(t *testing.T) {
	var v Vuln
	in := `{"id": 1, "severity": "low", "status": "open", "issuetracker": {}, "issuetracker_json": {"service_desk": {"state": "linked", "request_id": "77"}}}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.IssueTracker.ServiceDesk == nil || v.IssueTracker.ServiceDesk.RequestID != "77" {
		t.Errorf("issuetracker_json not read: %+v", v.IssueTracker)
	}
	// A non-empty issuetracker wins.
	in = `{"id": 1, "severity": "low", "status": "open", "issuetracker": "{\"service_desk\": {\"state\": \"linked\", \"request_id\": \"5\"}}", "issuetracker_json": {"service_desk": {"state": "linked", "request_id": "77"}}}`
	if err := json.Unmarshal([]byte(in), &v); err != nil || v.IssueTracker.ServiceDesk.RequestID != "5" {
		t.Errorf("issuetracker = %+v, %v", v.IssueTracker.ServiceDesk, err)
	}
}

func FuzzVulnJSON(f *testing.F) {
	for _, name := range []string{"vuln_host.json", "vuln_web_service.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"id": 1, "severity": "info", "status": "opened", "issuetracker": "", "service": null}`))
	f.Add([]byte(`{"cvss3": {"vector_string": "x", "z": [1]}, "risk": {"score": 1, "severity": null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v Vuln
		if err := json.Unmarshal(data, &v); err != nil {
			return
		}
		if !v.Severity.Valid() || !v.Status.Valid() {
			t.Fatalf("decoded a vuln with severity %v and status %v from %q", v.Severity, v.Status, data)
		}
		b, err := json.Marshal(&v)
		if err != nil {
			t.Fatalf("marshal of a decoded vuln: %v", err)
		}
		var back Vuln
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("decode of our own output: %v\n%s", err, b)
		}
		b2, err := json.Marshal(&back)
		if err != nil || string(b2) != string(b) {
			t.Fatalf("output not stable:\n%s\n%s", b, b2)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-04-22T14:47:16.277896+00:00", "2024-04-22 14:47:07", "2024-04-22T14:47:07Z", "2024-04-22T16:47:07+05:30", "x", "0001-01-01T00:00:00Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		v, err := ParseTime(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidTime) {
				t.Fatalf("error %v does not wrap ErrInvalidTime", err)
			}
			return
		}
		if v.IsZero() {
			return // the zero instant means "no time" and prints as ""
		}
		s := v.String()
		back, err := ParseTime(s)
		if err != nil || !back.Equal(v.Time) || back.String() != s {
			t.Fatalf("%q → %q → %v, %v", in, s, back, err)
		}
	})
}
