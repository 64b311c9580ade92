package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/vulndesk/mesd/examples/sample"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
	"github.com/vulndesk/mesd/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The sample config's severity → priority and severity → template maps,
// written out by hand.
var (
	wantPriority = map[faraday.Severity]string{
		faraday.SeverityCritical: "Urgent", faraday.SeverityHigh: "High", faraday.SeverityMedium: "Medium",
		faraday.SeverityLow: "Low", faraday.SeverityInformational: "Low", faraday.SeverityUnclassified: "Low",
	}
	wantTemplate = map[faraday.Severity]string{
		faraday.SeverityCritical: sdptest.VulnTemplate, faraday.SeverityHigh: sdptest.VulnTemplate,
		faraday.SeverityMedium: sdptest.DefaultTemplate, faraday.SeverityLow: sdptest.DefaultTemplate,
		faraday.SeverityInformational: sdptest.DefaultTemplate, faraday.SeverityUnclassified: sdptest.DefaultTemplate,
	}
)

// The same steps as the program, each one's result asserted.
func TestQuickstartSteps(t *testing.T) {
	ctx := t.Context()
	var out bytes.Buffer
	q, err := start(options{workspace: defaultCSVWorkspace}, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer q.close()
	vulns, err := sample.Vulns()
	if err != nil {
		t.Fatal(err)
	}
	confirmed := map[int64]faraday.Vuln{}
	for _, v := range vulns {
		if v.Confirmed {
			confirmed[v.ID] = v
		}
	}

	// 1. The fakes run on loopback and Faraday holds the sample.
	if q.r.Loaded != len(vulns) || q.r.Confirmed != len(confirmed) || q.r.Unconfirmed != len(vulns)-len(confirmed) {
		t.Fatalf("step 1: loaded %d (%d confirmed, %d not), want %d (%d)", q.r.Loaded, q.r.Confirmed, q.r.Unconfirmed, len(vulns), len(confirmed))
	}
	for _, u := range []string{q.sdp.URL(), q.fsrv.URL()} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Fatalf("step 1: %s is not on loopback", u)
		}
	}

	// 2. The config is checked against the fake's catalogue.
	if err := q.step2Config(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(q.r.Catalog.Priorities); got != 4 {
		t.Errorf("step 2: catalogue has %d priorities, want sdptest's 4", got)
	}
	if id, ok := q.sdp.ID("user", "dreyes"); !ok || q.r.RequesterID != id {
		t.Errorf("step 2: requester resolved to %q, want dreyes's id %q", q.r.RequesterID, id)
	}

	// 3. One ticket per confirmed vuln, none for the unconfirmed.
	if err := q.step3Export(ctx); err != nil {
		t.Fatal(err)
	}
	if q.r.First.Created != len(confirmed) || q.r.First.Skipped != len(vulns)-len(confirmed) {
		t.Fatalf("step 3: created %d, skipped %d; want %d and %d", q.r.First.Created, q.r.First.Skipped, len(confirmed), len(vulns)-len(confirmed))
	}
	reqs := q.sdp.Requests()
	if len(reqs) != len(confirmed) {
		t.Fatalf("step 3: ServiceDesk holds %d requests, want %d", len(reqs), len(confirmed))
	}
	for _, tk := range q.r.Tickets {
		v, ok := confirmed[tk.Key.VulnID]
		if !ok {
			t.Fatalf("step 3: ticket for %s, which is not a confirmed sample vuln", tk.Key)
		}
		r, ok := q.sdp.Request(tk.TicketID)
		if !ok {
			t.Fatalf("step 3: ticket %s missing", tk.TicketID)
		}
		tag := "[FRD acme/" + strconv.FormatInt(v.ID, 10) + "]"
		if !strings.HasPrefix(r.Subject, tag+" ") {
			t.Errorf("step 3: ticket %s subject %q, want it to start with %q", tk.TicketID, r.Subject, tag)
		}
		if r.Priority == nil || r.Priority.Name != wantPriority[v.Severity] {
			t.Errorf("step 3: ticket %s (%s) priority %v, want %s", tk.TicketID, v.Severity, r.Priority, wantPriority[v.Severity])
		}
		if r.Template == nil || r.Template.Name != wantTemplate[v.Severity] {
			t.Errorf("step 3: ticket %s (%s) template %v, want %s", tk.TicketID, v.Severity, r.Template, wantTemplate[v.Severity])
		}
		if r.Status == nil || r.Status.Name != "Open" {
			t.Errorf("step 3: ticket %s status %v, want Open", tk.TicketID, r.Status)
		}
		// The subject is plain text: the vuln name's quotes and & are not escaped.
		if strings.Contains(r.Subject, "&amp;") || strings.Contains(r.Subject, "&quot;") {
			t.Errorf("step 3: subject %q is HTML-escaped", r.Subject)
		}
		delete(confirmed, v.ID)
	}
	if len(confirmed) != 0 {
		t.Errorf("step 3: no ticket for %v", confirmed)
	}

	// 4. Nothing twice.
	if err := q.step4ExportAgain(ctx); err != nil {
		t.Fatal(err)
	}
	if q.r.Second.Created != 0 || q.r.Second.UpToDate != q.r.First.Created || len(q.sdp.Requests()) != len(reqs) {
		t.Fatalf("step 4: second run created %d, up to date %d, %d requests", q.r.Second.Created, q.r.Second.UpToDate, len(q.sdp.Requests()))
	}

	// 5. The trigger is registered with the seed's header and payload.
	if err := q.step5Webhook(ctx); err != nil {
		t.Fatal(err)
	}
	tr := q.r.Trigger
	if tr.Headers[webhook.HeaderToken] != "1" || !strings.Contains(tr.Payload, `"status": "${{request.status}}"`) ||
		!strings.Contains(tr.Payload, `"id": "${{request.id}}"`) || !strings.HasSuffix(tr.URL, webhook.Path) {
		t.Fatalf("step 5: trigger %+v", tr)
	}
	if strings.Contains(out.String(), q.token) {
		t.Fatal("step 5: the token was printed")
	}

	// 6. Resolved closes, On Hold accepts the risk, Canceled is ignored.
	if err := q.step6Technician(ctx); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		after  faraday.Status
		result webhook.Result
	}{{faraday.StatusClosed, webhook.ResultUpdated}, {faraday.StatusRiskAccepted, webhook.ResultUpdated}, {faraday.StatusOpen, webhook.ResultIgnored}}
	if len(q.r.Changes) != len(want) {
		t.Fatalf("step 6: %d changes, want %d", len(q.r.Changes), len(want))
	}
	for i, c := range q.r.Changes {
		v, _ := q.fsrv.Vuln(q.ws, c.Ticket.Key.VulnID)
		if c.VulnBefore != faraday.StatusOpen || c.VulnAfter != want[i].after || v.Status != want[i].after || c.Answer.Result != string(want[i].result) {
			t.Errorf("step 6: change %d: %s → %s (stored %s), answer %s; want open → %s, %s", i, c.VulnBefore, c.VulnAfter, v.Status, c.Answer, want[i].after, want[i].result)
		}
	}

	// 7. The push reaches the ticket and its echo changes nothing.
	if err := q.step7Push(ctx); err != nil {
		t.Fatal(err)
	}
	p := q.r.Push
	r, _ := q.sdp.Request(p.Ticket.TicketID)
	v, _ := q.fsrv.Vuln(q.ws, p.Ticket.Key.VulnID)
	if p.Pushed != "Open" || r.Status.Name != "Open" || p.Echo.Result != "unchanged" || p.Echo.Reason != "echo" || v.Status != faraday.StatusReopened {
		t.Fatalf("step 7: pushed %q, ticket %s, echo %s, vuln %s", p.Pushed, r.Status.Name, p.Echo, v.Status)
	}

	// 8.
	if err := q.step8Summary(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Every step did what it said.") {
		t.Fatalf("step 8: no summary:\n%s", out.String())
	}
}

var stepLine = regexp.MustCompile(`(?m)^([1-8])\. `)

func runProgram(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	code := run(t.Context(), args, &o, &e)
	return code, o.String(), e.String()
}

func TestRunSample(t *testing.T) {
	code, out, errOut := runProgram(t)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var steps []string
	for _, m := range stepLine.FindAllStringSubmatch(out, -1) {
		steps = append(steps, m[1])
	}
	if strings.Join(steps, "") != "12345678" {
		t.Fatalf("steps printed %v, want 1 to 8 in order:\n%s", steps, out)
	}
}

func TestRunCSVFixture(t *testing.T) {
	path := testutil.Fixture(t, "faraday", "faraday_vulns_export.csv")
	// Count the confirmed records the way the program reads them.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	rd, err := faraday.NewExportReader(f)
	if err != nil {
		t.Fatal(err)
	}
	confirmed := 0
	for rec, err := range rd.All() {
		if err == nil && rec.Vuln.Confirmed {
			confirmed++
		}
	}
	code, out, errOut := runProgram(t, "-csv", path, "-workspace", "pentest-2024")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, `workspace "pentest-2024"`) || !strings.Contains(out, plural(confirmed, "ticket")+" created") {
		t.Fatalf("want workspace pentest-2024 and %d tickets:\n%s", confirmed, out)
	}
	if confirmed < 3 && !strings.Contains(out, "step 6 needs 3 tickets") {
		t.Fatalf("with %d confirmed vulns step 6 should say what it skipped:\n%s", confirmed, out)
	}
}

func TestRunCSVWithoutConfirmedVulns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export.csv")
	csv := "confirmed,id,name,severity,status,desc\n" +
		"FALSE,31,\"Weak \"\"TLS\"\" ciphers on 10.0.0.8 & 10.0.0.9\",high,open,\"<p>Schwache Chiffren</p>\"\n"
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runProgram(t, "-csv", path)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{`workspace "csv-import"`, "skipped csv-import/31: not confirmed", "0 tickets created",
		"step 6 needs 3 tickets and there are only 0", "step 7 needs a ticket", "Every step did what it said."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	notCSV := filepath.Join(dir, "x.csv")
	if err := os.WriteFile(notCSV, []byte("name,severity\nx,high\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-csv", filepath.Join(dir, "missing.csv")}, "missing.csv"},
		{[]string{"-workspace", "x"}, "give -csv too"},
		{[]string{"-csv", notCSV, "-workspace", "a b"}, `-workspace "a b"`},
		{[]string{"-csv", notCSV}, "id"},
		{[]string{"-verbose"}, "flag provided but not defined"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		code, out, errOut := runProgram(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, stderr %q (stdout %q); want 2 and %q", tt.args, code, errOut, out, tt.want)
		}
	}
}

// A step that does not do what it says makes the run exit 1.
func TestRunFailingStep(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*quickstart)
		want  string
	}{
		{"ServiceDesk refuses creates", func(q *quickstart) {
			if err := q.sdp.AddFault(sdptest.Fault{Kind: sdptest.ServerError, Method: "POST", Path: "/requests", Status: 500}); err != nil {
				t.Error(err)
			}
		}, "step 3"},
		{"Faraday refuses changes", func(q *quickstart) {
			if err := q.fsrv.SetReadOnly(q.ws, true); err != nil {
				t.Error(err)
			}
		}, "step 6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testHook = tt.setup
			defer func() { testHook = nil }()
			code, out, _ := runProgram(t)
			if code != 1 || !strings.Contains(out, "FAILED: "+tt.want) {
				t.Fatalf("exit %d, want 1 and FAILED: %s:\n%s", code, tt.want, out)
			}
		})
	}
}

// A malformed row of an export is reported and left out; the run goes on.
func TestRunCSVWithMalformedRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export.csv")
	csv := "confirmed,id,name,severity,status\n" +
		"TRUE,5,Open redirect in /login?next=,medium,open\n" +
		"TRUE,6,Broken row,severe,open\n" +
		"TRUE,x7,Another broken row,low,open\n"
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runProgram(t, "-csv", path, "-workspace", "web")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"line 3", "line 4", "2 rows of the export could not be read", "1 ticket created", "web/5"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
