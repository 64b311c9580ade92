package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vulndesk/mesd/examples/sample"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const faradayToken = "faraday-secret-api-token"

// world is a fake SDP, a fake Faraday holding the sample vulns, and a
// configuration and state file in a temporary directory.
type world struct {
	sdp     *sdptest.Server
	faraday *faradaytest.Server
	dir     string
	env     map[string]string
}

func newWorld(t *testing.T, sdpOpts ...sdptest.Option) *world {
	t.Helper()
	sdp := sdptest.NewServer(sdpOpts...)
	t.Cleanup(sdp.Close)
	fsrv := faradaytest.NewServer(faradaytest.WithToken(faradayToken))
	t.Cleanup(fsrv.Close)
	if err := fsrv.AddWorkspace(faraday.Workspace{Name: sample.Workspace, Active: true}); err != nil {
		t.Fatal(err)
	}
	vulns, err := sample.Vulns()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vulns {
		if _, err := fsrv.AddVuln(sample.Workspace, v); err != nil {
			t.Fatal(err)
		}
	}
	w := &world{sdp: sdp, faraday: fsrv, dir: t.TempDir(),
		env: map[string]string{"SDP_AUTHTOKEN": sdptest.DefaultAuthToken, "FARADAY_TOKEN": faradayToken}}
	w.writeConfig(t, "mesd.json", nil)
	return w
}

// writeConfig writes the sample configuration, changed by edit, as name.
func (w *world) writeConfig(t *testing.T, name string, edit func(*mapping.Config)) string {
	t.Helper()
	cfg, err := mapping.ParseConfig(sample.ConfigJSON())
	if err != nil {
		t.Fatal(err)
	}
	cfg.FaradayURL = w.faraday.URL()
	if edit != nil {
		edit(cfg)
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(w.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// args are the flags of a run against the world, followed by extra.
func (w *world) args(extra ...string) []string {
	return append([]string{"-config", filepath.Join(w.dir, "mesd.json"), "-state", filepath.Join(w.dir, "links.json"),
		"-sdp-url", w.sdp.URL(), "-faraday-url", w.faraday.URL(), "-workspace", sample.Workspace}, extra...)
}

func (w *world) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return w.runCtx(t.Context(), t, args...)
}

func (w *world) runCtx(ctx context.Context, t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	code := run(ctx, args, func(k string) string { return w.env[k] }, &o, &e)
	all := o.String() + e.String()
	for _, secret := range []string{faradayToken, sdptest.DefaultAuthToken, sdptest.DefaultClientSecret, sdptest.DefaultRefreshToken} {
		if strings.Contains(all, secret) {
			t.Fatalf("output shows a secret:\n%s", all)
		}
	}
	return code, o.String(), e.String()
}

func confirmedCount(t *testing.T) int {
	t.Helper()
	vs, err := sample.Vulns()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range vs {
		if v.Confirmed {
			n++
		}
	}
	return n
}

func TestExportTwiceAndJSON(t *testing.T) {
	w := newWorld(t)
	code, out, errOut := w.run(t, w.args()...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	n := confirmedCount(t)
	if got := len(w.sdp.Requests()); got != n {
		t.Fatalf("%d requests, want %d", got, n)
	}
	if !strings.Contains(out, "VULN") || strings.Count(out, " created ") < n || !strings.Contains(errOut, "export: 8/") {
		t.Fatalf("want a table with %d created rows and progress on stderr:\n%s\n%s", n, out, errOut)
	}
	// The links are in the state file.
	links, err := faraday.OpenFileLinkStore(filepath.Join(w.dir, "links.json"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := links.Get(t.Context(), faraday.VulnKey{Workspace: sample.Workspace, VulnID: 1})
	_ = links.Close()
	if err != nil || l.State != faraday.LinkLinked || l.RequestID == "" {
		t.Fatalf("link of acme/1: %+v, %v", l, err)
	}

	code, out, _ = w.run(t, w.args("-json")...)
	if code != 0 {
		t.Fatalf("second run exit %d", code)
	}
	var raw map[string]jsonReport
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("-json output is not JSON: %v\n%s", err, out)
	}
	ex := raw["export"]
	if ex.Created != 0 || ex.UpToDate != n || ex.Skipped != 2 || len(ex.Items) != 8 {
		t.Fatalf("second run: %+v, want 0 created, %d up to date, 2 skipped, 8 items", ex, n)
	}
	if _, ok := raw["reconcile"]; !ok {
		t.Fatal("no reconcile report with a Faraday source")
	}
	if got := len(w.sdp.Requests()); got != n {
		t.Fatalf("second run: %d requests, want still %d", got, n)
	}
}

func TestDryRunSendsNothing(t *testing.T) {
	w := newWorld(t)
	code, out, errOut := w.run(t, w.args("-dry-run")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, c := range w.sdp.Calls() {
		if c.Method != "GET" {
			t.Fatalf("dry run sent %s %s", c.Method, c.Path)
		}
	}
	n := confirmedCount(t)
	if strings.Count(out, "POST /requests input_data=") != n || !strings.Contains(out, `"subject": "[FRD acme/2] Reflected cross-site scripting in the \"q\" parameter of /search"`) {
		t.Fatalf("want %d requests printed, with acme/2's subject:\n%s", n, out)
	}
	if !strings.Contains(out, "skip acme/7: not confirmed") || !strings.Contains(out, "nothing was sent") {
		t.Fatalf("dry run output:\n%s", out)
	}
}

func TestSelectionAndTemplate(t *testing.T) {
	w := newWorld(t)
	code, out, errOut := w.run(t, w.args("-ids", "1,3,7", "-template", "default request")...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	reqs := w.sdp.Requests()
	if len(reqs) != 2 { // 7 is unconfirmed
		t.Fatalf("%d requests, want 2 (acme/1 and acme/3)", len(reqs))
	}
	for _, r := range reqs {
		if r.Template == nil || r.Template.Name != sdptest.DefaultTemplate {
			t.Errorf("request %s template %v, want %s forced by -template", r.ID, r.Template, sdptest.DefaultTemplate)
		}
	}
	code, _, _ = w.run(t, w.args("-min-severity", "high")...)
	if code != 0 {
		t.Fatal("exit", code)
	}
	// acme/1 (critical) was already made; acme/2 (high) is new; medium and lower stay out.
	if got := len(w.sdp.Requests()); got != 3 {
		t.Fatalf("%d requests after -min-severity high, want 3", got)
	}
}

func TestCSVSource(t *testing.T) {
	w := newWorld(t)
	path := testutil.Fixture(t, "faraday", "faraday_vulns_export.csv")
	args := []string{"-config", filepath.Join(w.dir, "mesd.json"), "-state", filepath.Join(w.dir, "links.json"),
		"-sdp-url", w.sdp.URL(), "-csv", path, "-workspace", "pentest"}
	code, out, errOut := w.run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "pentest/604") || len(w.sdp.Requests()) != 1 {
		t.Fatalf("want the fixture's confirmed vuln 604 exported:\n%s", out)
	}
	if strings.Contains(out, "reconcile:") {
		t.Fatal("reconcile ran without a Faraday to write to")
	}
}

func TestReconcileMissedDelivery(t *testing.T) {
	w := newWorld(t)
	if code, _, e := w.run(t, w.args()...); code != 0 {
		t.Fatal(code, e)
	}
	links, err := faraday.OpenFileLinkStore(filepath.Join(w.dir, "links.json"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := links.Get(t.Context(), faraday.VulnKey{Workspace: sample.Workspace, VulnID: 4})
	_ = links.Close()
	if err != nil {
		t.Fatal(err)
	}
	// A technician resolves the ticket; no webhook is set up, so no delivery.
	if err := w.sdp.SetStatus(l.RequestID, "Resolved"); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := w.run(t, w.args()...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if v, _ := w.faraday.Vuln(sample.Workspace, 4); v.Status != faraday.StatusClosed {
		t.Fatalf("acme/4 is %s after reconcile, want closed:\n%s", v.Status, out)
	}
}

func TestEvery(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var code int
	var out, errOut string
	go func() {
		defer close(done)
		code, out, errOut = w.runCtx(ctx, t, w.args("-every", "10ms")...)
	}()
	deadline := time.After(10 * time.Second)
	// Each round reads the vulns from Faraday three times (the count, the
	// export, the reconcile): wait for several rounds.
	for len(w.faraday.Requests()) < 12 {
		select {
		case <-deadline:
			cancel()
			<-done
			t.Fatal("no repeated rounds")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	<-done
	if code != 0 || strings.Count(out, "export:") < 2 || !strings.Contains(errOut, "interrupted") {
		t.Fatalf("exit %d, want 0 and at least two rounds:\n%s\n%s", code, out, errOut)
	}
}

func TestCloud(t *testing.T) {
	w := newWorld(t, sdptest.WithCloud(""))
	w.env = map[string]string{"FARADAY_TOKEN": faradayToken, "SDP_CLIENT_ID": sdptest.DefaultClientID,
		"SDP_CLIENT_SECRET": sdptest.DefaultClientSecret, "SDP_REFRESH_TOKEN": sdptest.DefaultRefreshToken}
	args := []string{"-config", filepath.Join(w.dir, "mesd.json"), "-state", filepath.Join(w.dir, "links.json"),
		"-sdp-url", w.sdp.URL(), "-cloud-portal", w.sdp.Portal(), "-accounts-url", w.sdp.AccountsURL(),
		"-faraday-url", w.faraday.URL(), "-workspace", sample.Workspace}
	code, out, errOut := w.run(t, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if got := len(w.sdp.Requests()); got != confirmedCount(t) || w.sdp.TokenGrants() < 1 {
		t.Fatalf("%d requests, %d token grants", got, w.sdp.TokenGrants())
	}
}

func TestCheck(t *testing.T) {
	w := newWorld(t)
	code, out, _ := w.run(t, w.args("-check")...)
	if code != 0 || strings.Contains(out, "FAIL") || !strings.Contains(out, "ok    requester dreyes is a ServiceDesk user (Dana Reyes") {
		t.Fatalf("healthy setup: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "Status sync loop (Misconfigured triggers)") {
		t.Errorf("the webhook side's reminders are missing:\n%s", out)
	}

	// A wrong authtoken: the Authentication switch stays red.
	w.env["SDP_AUTHTOKEN"] = "wrong-token"
	code, out, _ = w.run(t, w.args("-check")...)
	if code != 1 || !strings.Contains(out, "FAIL  ServiceDesk at") || !strings.Contains(out, "Authentication switch stays red (Invalid URL or authtoken): Verify URL (protocol + domain only) and authtoken are correct") {
		t.Fatalf("wrong token: exit %d\n%s", code, out)
	}
	w.env["SDP_AUTHTOKEN"] = sdptest.DefaultAuthToken

	// Nothing listening: cannot reach ServiceDesk.
	dead := sdptest.NewServer()
	deadURL := dead.URL()
	dead.Close()
	args := w.args("-check")
	for i, a := range args {
		if a == w.sdp.URL() {
			args[i] = deadURL
		}
	}
	code, out, _ = w.run(t, args...)
	if code != 1 || !strings.Contains(out, "Cannot reach ServiceDesk (Network issue)") {
		t.Fatalf("unreachable: exit %d\n%s", code, out)
	}

	// Names the instance lacks and an unknown requester: config problems.
	w.writeConfig(t, "mesd.json", func(c *mapping.Config) {
		c.Priorities["critical"] = "Critical"
		c.Requester = mapping.Requester{LoginName: "Dana"}
	})
	code, out, _ = w.run(t, w.args("-check")...)
	for _, want := range []string{`priorities.critical`, `did you mean "Urgent"`,
		"Requester search returns no results (Wrong search format): Use the user's login name (not display name)"} {
		if !strings.Contains(out, want) {
			t.Errorf("bad names: output lacks %q", want)
		}
	}
	if code != 2 {
		t.Fatalf("bad names: exit %d, want 2\n%s", code, out)
	}

	// A wrong Faraday token.
	w.writeConfig(t, "mesd.json", nil)
	w.env["FARADAY_TOKEN"] = "nope"
	code, out, _ = w.run(t, w.args("-check")...)
	if code != 1 || !strings.Contains(out, "Faraday refused the credentials") {
		t.Fatalf("wrong Faraday token: exit %d\n%s", code, out)
	}
}

func TestUsageAndConfigErrors(t *testing.T) {
	w := newWorld(t)
	incomplete := w.writeConfig(t, "incomplete.json", func(c *mapping.Config) {
		delete(c.Priorities, "informational")
		delete(c.Priorities, "unclassified")
	})
	withConfig := func(p string) []string {
		a := w.args()
		a[1] = p
		return a
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"no source", []string{"-sdp-url", w.sdp.URL()}, nil, []string{"no source"}},
		{"two sources", append(w.args(), "-csv", "x.csv"), nil, []string{"not both"}},
		{"no workspace", []string{"-sdp-url", w.sdp.URL(), "-faraday-url", w.faraday.URL()}, nil, []string{"-faraday-url needs -workspace"}},
		{"no sdp", []string{"-faraday-url", w.faraday.URL(), "-workspace", "acme"}, nil, []string{"no ServiceDesk"}},
		{"unknown flag", append(w.args(), "-token", "x"), nil, []string{"flag provided but not defined: -token"}},
		{"bad ids", append(w.args(), "-ids", "1,x"), nil, []string{`-ids: "x" is not a vuln id`}},
		{"bad severity", append(w.args(), "-min-severity", "severe"), nil, []string{"-min-severity"}},
		{"bad template", append(w.args(), "-template", "Incident"), nil, []string{`-template "Incident"`, "Security Vulnerability, Default Request"}},
		{"no authtoken", w.args(), map[string]string{"FARADAY_TOKEN": faradayToken}, []string{"set SDP_AUTHTOKEN"}},
		{"no faraday credentials", w.args(), map[string]string{"SDP_AUTHTOKEN": "x"}, []string{"FARADAY_TOKEN, or FARADAY_USER and FARADAY_PASSWORD"}},
		{"incomplete severities", withConfig(incomplete), nil, []string{"priorities.informational", "priorities.unclassified", "All 6 severity levels must be mapped"}},
		{"missing config", withConfig(filepath.Join(w.dir, "nope.json")), nil, []string{"nope.json"}},
		{"every with dry run", append(w.args(), "-every", "1m", "-dry-run"), nil, []string{"-every"}},
		{"bad data centre", []string{"-cloud-portal", "itdesk", "-data-centre", "MARS", "-csv", "x.csv"}, nil, []string{`-data-centre "MARS"`}},
		{"cloud without secrets", []string{"-config", filepath.Join(w.dir, "mesd.json"), "-cloud-portal", "itdesk", "-faraday-url", w.faraday.URL(), "-workspace", "acme"}, nil, []string{"SDP_CLIENT_ID, SDP_CLIENT_SECRET and SDP_REFRESH_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != nil {
				saved := w.env
				w.env = tt.env
				defer func() { w.env = saved }()
			}
			code, out, errOut := w.run(t, tt.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s\n%s", code, out, errOut)
			}
			for _, want := range tt.want {
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut)
				}
			}
			if len(w.sdp.Requests()) != 0 {
				t.Fatal("a refused run created requests")
			}
		})
	}
}

func TestSomeVulnsFailExitOne(t *testing.T) {
	w := newWorld(t)
	// One create fails with a server error; the others go on.
	if err := w.sdp.AddFault(sdptest.Fault{Kind: sdptest.ServerError, Method: "POST", Path: "/requests", Status: 500, Times: 1}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := w.run(t, w.args()...)
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "failed") || len(w.sdp.Requests()) != confirmedCount(t)-1 {
		t.Fatalf("want one failed vuln and the rest created (%d requests):\n%s\n%s", len(w.sdp.Requests()), out, errOut)
	}
	// The next run finishes the job.
	code, out, _ = w.run(t, w.args()...)
	if code != 0 || len(w.sdp.Requests()) != confirmedCount(t) {
		t.Fatalf("second run: exit %d, %d requests\n%s", code, len(w.sdp.Requests()), out)
	}
}

// A template field ServiceDesk requires but the configuration leaves out
// stops the run once (a configuration error) and names the field.
func TestMandatoryFieldStopsOnce(t *testing.T) {
	w := newWorld(t)
	w.writeConfig(t, "mesd.json", func(c *mapping.Config) {
		for i := range c.Templates {
			if c.Templates[i].Name == sdptest.VulnTemplate {
				var kept []mapping.Field
				for _, f := range c.Templates[i].Fields {
					if f.Field != "udf_fields."+sdptest.VulnUDF {
						kept = append(kept, f)
					}
				}
				c.Templates[i].Fields = kept
			}
		}
	})
	code, out, errOut := w.run(t, w.args("-ids", "1,2", "-concurrency", "1")...)
	if code != 2 {
		t.Fatalf("exit %d, want 2\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, sdptest.VulnUDF) || !strings.Contains(errOut, "fix: the template needs") {
		t.Fatalf("stderr does not name the mandatory field:\n%s", errOut)
	}
	posts := 0
	for _, c := range w.sdp.Calls() {
		if c.Method == "POST" && c.Path == "/requests" {
			posts++
		}
	}
	if posts != 1 || len(w.sdp.Requests()) != 0 {
		t.Fatalf("%d creates tried and %d made, want the run stopped after the first", posts, len(w.sdp.Requests()))
	}
}

// -every pushes a Faraday change to its ticket at the next round.
func TestEveryPushesStatus(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		code, _, _ := w.runCtx(ctx, t, w.args("-every", "10ms")...)
		done <- code
	}()
	ticketOf := func(id int64) string {
		for _, r := range w.sdp.Requests() {
			if strings.HasPrefix(r.Subject, "[FRD acme/"+strconv.FormatInt(id, 10)+"]") {
				return string(r.ID)
			}
		}
		return ""
	}
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the first export", func() bool { return ticketOf(3) != "" })
	fc, err := faraday.NewClient(w.faraday.URL(), faraday.WithToken(faradayToken))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.CloseIdleConnections()
	if _, err := fc.Vulns.UpdateStatus(t.Context(), sample.Workspace, 3, faraday.StatusRiskAccepted); err != nil {
		t.Fatal(err)
	}
	waitFor("the push of risk-accepted as On Hold", func() bool {
		r, ok := w.sdp.Request(ticketOf(3))
		return ok && r.Status != nil && r.Status.Name == "On Hold"
	})
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// A refused authtoken stops the run before any vuln (exit 1), with the
// troubleshooting table's fix.
func TestWrongAuthtoken(t *testing.T) {
	w := newWorld(t)
	w.env["SDP_AUTHTOKEN"] = "expired-or-wrong"
	code, out, errOut := w.run(t, w.args()...)
	if code != 1 || !strings.Contains(errOut, "fix: Authentication switch stays red") {
		t.Fatalf("exit %d, want 1 and the fix\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(errOut, "expired-or-wrong") {
		t.Fatal("the authtoken appears in the error")
	}
	if len(w.sdp.Requests()) != 0 {
		t.Fatal("requests were created")
	}
}

// TestOverlappingRunsTakeTurns: while one run holds the state file, another
// stops before any call to ServiceDesk, so two runs can never both find a
// vuln unlinked and each make a ticket; once the first is done, the next
// run goes ahead.
func TestOverlappingRunsTakeTurns(t *testing.T) {
	w := newWorld(t)
	unlock, err := lockRun(filepath.Join(w.dir, "links.json") + ".run.lock")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := w.run(t, w.args()...)
	if code == 0 || !strings.Contains(errOut, "another export is running on this state file") {
		t.Fatalf("run beside a held lock: exit %d\n%s\n%s", code, out, errOut)
	}
	if n := len(w.sdp.Requests()); n != 0 {
		t.Fatalf("the refused run created %d requests", n)
	}
	unlock()
	if code, out, errOut := w.run(t, w.args()...); code != 0 || len(w.sdp.Requests()) != confirmedCount(t) {
		t.Fatalf("run after the lock was released: exit %d, %d requests\n%s\n%s", code, len(w.sdp.Requests()), out, errOut)
	}
}

// TestCloudDataCentreBaseURL: without -sdp-url, the cloud client talks to
// the data centre's own domain under the portal's path.
func TestCloudDataCentreBaseURL(t *testing.T) {
	env := map[string]string{"SDP_CLIENT_ID": "id", "SDP_CLIENT_SECRET": "secret", "SDP_REFRESH_TOKEN": "refresh"}
	for dc, want := range map[string]string{
		"US": "https://sdpondemand.manageengine.com/app/p1/api/v3/",
		"EU": "https://sdpondemand.manageengine.eu/app/p1/api/v3/",
		"IN": "https://sdpondemand.manageengine.in/app/p1/api/v3/",
	} {
		c, err := sdpClient(&options{cloudPortal: "p1", dataCentre: dc}, func(k string) string { return env[k] })
		if err != nil {
			t.Fatalf("%s: %v", dc, err)
		}
		if got := c.BaseURL(); got != want {
			t.Errorf("%s: base URL %q, want %q", dc, got, want)
		}
	}
}

// TestCSVMergedRowsThatDisagreeAreReported: two rows of one vuln id that
// disagree are merged (first values kept) and the export says so on stderr.
func TestCSVMergedRowsThatDisagreeAreReported(t *testing.T) {
	w := newWorld(t)
	csvPath := filepath.Join(w.dir, "dup.csv")
	data := "confirmed,id,date,name,severity,service,target,desc,status,hostnames,comments,owner,os,resolution,refs,easeofresolution,web_vulnerability,data,website,path,status_code,request,response,method,params,pname,query,policyviolations,external_id,impact_confidentiality,impact_integrity,impact_availability,impact_accountability,update_date,host_id,host_description,mac,host_owned,host_creator_id,obj_type,parent_id,parent_type,service_id,service_name,service_description,service_owned,port,protocol,summary,version,service_status\n" +
		"True,604,2024-04-22 14:47:07,First name,high,,10.0.0.1,d,open,,,,,,[],,False,,,,,,,,,,,[],,False,False,False,False,2024-04-22 14:47:07,1,,,False,,Vulnerability,1,Host,,,,,,,,,\n" +
		"True,604,2024-04-22 14:47:07,Second name,low,,10.0.0.1,d,open,,,,,,[],,False,,,,,,,,,,,[],,False,False,False,False,2024-04-22 14:47:07,1,,,False,,Vulnerability,1,Host,,,,,,,,,\n"
	if err := os.WriteFile(csvPath, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"-config", filepath.Join(w.dir, "mesd.json"), "-state", filepath.Join(w.dir, "links.json"),
		"-sdp-url", w.sdp.URL(), "-csv", csvPath, "-workspace", "acme"}
	_, out, errOut := w.run(t, args...)
	if !strings.Contains(errOut, "2 rows of vuln 604 merged; they disagree on name, severity") {
		t.Fatalf("no merge warning on stderr:\n%s\n%s", out, errOut)
	}
}
