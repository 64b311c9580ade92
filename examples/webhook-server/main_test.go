package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vulndesk/mesd/examples/internal/refkey"
	"github.com/vulndesk/mesd/examples/sample"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/webhook"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// binaries builds webhook-server and export once per test binary and
// returns the directory holding them.
func binaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "webhook-server-test"); binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binDir+string(os.PathSeparator), ".", "../export").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// world is a fake Faraday holding the sample vulns, a configuration file
// pointing at it, and file stores in a temporary directory where vuln
// acme/2 is linked to ticket 102.
type world struct {
	faraday *faradaytest.Server
	dir     string
	env     map[string]string
	mapper  *mapping.Mapper
	args    []string // the store flags
}

const apiToken = "faraday-api-token"

func newWorld(t *testing.T) *world {
	t.Helper()
	fsrv := faradaytest.NewServer(faradaytest.WithToken(apiToken))
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
	cfg, err := mapping.ParseConfig(sample.ConfigJSON())
	if err != nil {
		t.Fatal(err)
	}
	cfg.FaradayURL = fsrv.URL()
	dir := t.TempDir()
	// The key the server finds beside its link store, as the export
	// program leaves it there.
	key, err := refkey.Load(refkey.PathFor(filepath.Join(dir, "links.json")), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapping.New(cfg, mapping.WithReferenceKey(key))
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{faraday: fsrv, dir: dir, env: map[string]string{"FARADAY_TOKEN": apiToken}, mapper: m}
	if err := os.WriteFile(w.path("mesd.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	links, err := faraday.OpenFileLinkStore(w.path("links.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = links.Close() }()
	tag, err := m.Tag(sample.Workspace, 2)
	if err != nil {
		t.Fatal(err)
	}
	l := faraday.Link{Key: faraday.VulnKey{Workspace: sample.Workspace, VulnID: 2}, ServiceDeskEntry: faraday.ServiceDeskEntry{
		State: faraday.LinkLinked, Tag: tag, RequestID: "102", LastPushedStatus: "Open", LastPushedAt: faraday.NewTime(time.Now()), EchoConsumed: true,
	}}
	if _, err := links.CompareAndSet(t.Context(), l, 0); err != nil {
		t.Fatal(err)
	}
	w.args = []string{"-config", w.path("mesd.json"), "-faraday-url", fsrv.URL(), "-tokens", w.path("tokens.json"),
		"-links", w.path("links.json"), "-dead-letters", w.path("dead.jsonl")}
	return w
}

func (w *world) path(name string) string { return filepath.Join(w.dir, name) }

// desc is a ticket description as the export wrote it for vuln acme/id:
// some text and the signed footer reference.
func (w *world) desc(text string, id int64) string {
	return "<p>" + text + "</p><p>Reference: " + w.mapper.Reference(sample.Workspace, id).String() + "</p>"
}

func (w *world) getenv(k string) string { return w.env[k] }

// run runs the program to its end.
func (w *world) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(t.Context(), args, w.getenv, &o, &e)
	return code, o.String(), e.String()
}

// server is serve running in the test's process.
type server struct {
	url    string // base URL
	out    *testutil.SyncBuffer
	errs   *testutil.SyncBuffer
	cancel context.CancelFunc
	done   chan int
}

var listening = regexp.MustCompile(`listening on (https?://[^/\s]+)`)

func (w *world) serve(t *testing.T, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{out: &testutil.SyncBuffer{}, errs: &testutil.SyncBuffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...), w.getenv, s.out, s.errs)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listening.FindStringSubmatch(s.out.String()); m != nil {
			s.url = m[1]
			break
		}
		select {
		case code := <-s.done:
			cancel()
			t.Fatalf("serve exited with %d before listening:\n%s%s", code, s.out, s.errs)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("serve did not start listening")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop cancels serve's context (as SIGINT does) and returns its exit code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code
		return code
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop")
		return -1
	}
}

// post sends a webhook delivery and returns the status code and the body.
func post(t *testing.T, url, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+webhook.Path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// seedPayload is the seed's webhook payload as SDP renders it: placeholders
// replaced raw, so a description holding quotes is not valid JSON.
func seedPayload(status, desc, token string) string {
	return "{\n\"status\": \"" + status + "\",\n\"desc\": \"" + desc + "\",\n\"Authorization\": \"" + token + "\"\n}"
}

func (w *world) createToken(t *testing.T, alias string, extra ...string) string {
	t.Helper()
	code, out, errOut := w.run(t, append([]string{"token", "create", "-alias", alias, "-tokens", w.path("tokens.json")}, extra...)...)
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	if len(tok) != 43 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("token create printed %q, want the 43-character token alone", out)
	}
	return tok
}

func (w *world) vulnStatus(t *testing.T, id int64) faraday.Status {
	t.Helper()
	v, ok := w.faraday.Vuln(sample.Workspace, id)
	if !ok {
		t.Fatalf("no vuln %d", id)
	}
	return v.Status
}

func TestServeSeedPayload(t *testing.T) {
	w := newWorld(t)
	tok := w.createToken(t, "sdp")
	s := w.serve(t, w.args...)

	vulns, err := sample.Vulns()
	if err != nil {
		t.Fatal(err)
	}
	// The description as SDP stores it: the mapper's HTML, whose vuln text
	// holds quotes, so the raw substitution breaks the JSON.
	desc := w.mapper.Description(&vulns[1])
	if !strings.Contains(desc, `"`) {
		t.Fatal("the test needs a description with a double quote")
	}
	body := seedPayload("Resolved", desc, tok)
	if json.Valid([]byte(body)) {
		t.Fatal("the rendered payload should be invalid JSON, as SDP sends it")
	}
	code, answer := post(t, s.url, body, map[string]string{webhook.HeaderToken: "1"})
	if code != http.StatusOK || !strings.Contains(answer, `"result":"updated"`) {
		t.Fatalf("delivery: %d %s, want 200 updated", code, answer)
	}
	if got := w.vulnStatus(t, 2); got != faraday.StatusClosed {
		t.Fatalf("vuln 2 status %v, want closed (Resolved → closed)", got)
	}
	// The token is never logged.
	if strings.Contains(s.errs.String(), tok) || strings.Contains(s.out.String(), tok) {
		t.Fatal("the token appears in the server's output")
	}
	// A wrong token: 401, nothing changes.
	code, answer = post(t, s.url, seedPayload("On Hold", desc, "not-a-token"), nil)
	if code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d %s, want 401", code, answer)
	}
	if got := w.vulnStatus(t, 2); got != faraday.StatusClosed {
		t.Fatalf("vuln 2 status %v after a refused delivery, want closed", got)
	}
	// Health check.
	resp, err := http.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	http.DefaultClient.CloseIdleConnections()
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exit %d after shutdown, want 0:\n%s", code, s.errs)
	}
	if !strings.Contains(s.out.String(), "webhook-server: stopped") {
		t.Fatalf("no graceful stop in output:\n%s", s.out)
	}
}

func TestServeDeadLetterAndReplay(t *testing.T) {
	w := newWorld(t)
	tok := w.createToken(t, "sdp")
	s := w.serve(t, w.args...)
	// Faraday refuses the change (read-only workspace): the handler retries,
	// answers 503 and dead-letters the delivery.
	if err := w.faraday.SetReadOnly(sample.Workspace, true); err != nil {
		t.Fatal(err)
	}
	body := `{"status": "On Hold", "desc": "` + w.desc("accepted", 2) + `", "id": "102", "Authorization": "` + tok + `"}`
	code, answer := post(t, s.url, body, nil)
	if code != http.StatusServiceUnavailable {
		t.Fatalf("delivery: %d %s, want 503", code, answer)
	}
	recs, err := readDeadLetters(w.path("dead.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].TicketID != "102" || recs[0].SDPStatus != "On Hold" || recs[0].Vuln == nil || recs[0].Vuln.VulnID != 2 {
		t.Fatalf("dead letters %+v, want one for ticket 102, On Hold, vuln acme/2", recs)
	}
	raw, err := os.ReadFile(w.path("dead.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), tok) || strings.Contains(string(raw), "accepted") {
		t.Fatal("the dead-letter file holds the token or the description")
	}

	// Still read-only: replay fails again, keeps the letter, exits 1.
	code, out, errOut := w.run(t, append([]string{"replay"}, w.args...)...)
	if code != 1 || !strings.Contains(out, "failed") {
		t.Fatalf("replay while read-only: exit %d, out %q err %q; want 1 and a failed row", code, out, errOut)
	}
	if recs, _ := readDeadLetters(w.path("dead.jsonl")); len(recs) != 1 {
		t.Fatalf("after a failed replay %d letters, want 1 kept", len(recs))
	}

	if err := w.faraday.SetReadOnly(sample.Workspace, false); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = w.run(t, append([]string{"replay"}, w.args...)...)
	if code != 0 || !strings.Contains(out, "updated") {
		t.Fatalf("replay: exit %d, out %q err %q; want 0 and updated", code, out, errOut)
	}
	if got := w.vulnStatus(t, 2); got != faraday.StatusRiskAccepted {
		t.Fatalf("vuln 2 status %v after replay, want risk-accepted", got)
	}
	if recs, _ := readDeadLetters(w.path("dead.jsonl")); len(recs) != 0 {
		t.Fatalf("after replay %d letters remain, want 0", len(recs))
	}
	code, out, _ = w.run(t, append([]string{"replay"}, w.args...)...)
	if code != 0 || !strings.Contains(out, "no dead letters") {
		t.Fatalf("empty replay: exit %d out %q", code, out)
	}
}

func TestServeDev(t *testing.T) {
	w := &world{env: map[string]string{}}
	s := w.serve(t, "-dev")
	m := regexp.MustCompile(`TOKEN=(\S+)`).FindStringSubmatch(s.out.String())
	if m == nil {
		t.Fatalf("no dev token printed:\n%s", s.out)
	}
	if !strings.Contains(s.out.String(), "curl -sS "+s.url+webhook.Path) {
		t.Fatalf("no curl line for %s:\n%s", s.url, s.out)
	}
	ref := regexp.MustCompile(`REF=(\S+)`).FindStringSubmatch(s.out.String())
	if ref == nil {
		t.Fatalf("no dev reference printed:\n%s", s.out)
	}
	// The printed curl line's payload.
	body := `{"status": "Resolved", "desc": "<p>fixed</p><p>` + ref[1] + `</p>", "id": "102", "Authorization": "` + m[1] + `"}`
	code, answer := post(t, s.url, body, map[string]string{webhook.HeaderToken: "1"})
	if code != http.StatusOK || answer != `{"result":"updated","vuln":"acme/2","status":"closed"}` {
		t.Fatalf("dev delivery: %d %q", code, answer)
	}
	// Again: already set.
	code, answer = post(t, s.url, body, nil)
	if code != http.StatusOK || !strings.Contains(answer, `"unchanged"`) {
		t.Fatalf("repeated dev delivery: %d %q, want unchanged", code, answer)
	}
	// Canceled is mapped to ignore in the sample configuration.
	body = strings.Replace(body, "Resolved", "Canceled", 1)
	code, answer = post(t, s.url, body, nil)
	if code != http.StatusOK || !strings.Contains(answer, `"ignored"`) {
		t.Fatalf("Canceled: %d %q, want ignored", code, answer)
	}
}

func TestUsageErrors(t *testing.T) {
	w := newWorld(t)
	bad := filepath.Join(w.dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"faraday_url": "https://f.example", "requester": {"login_name": "x"},
	  "priorities": {"critical": "Urgent"}, "outgoing": {"open": "Open"}, "colour": "red"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	badValues := filepath.Join(w.dir, "bad-values.json")
	if err := os.WriteFile(badValues, []byte(`{"faraday_url": "https://f.example", "requester": {"login_name": "x"},
	  "priorities": {"critical": "Urgent"}, "outgoing": {"open": "Open"}, "incoming": {"Resolved": "done"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	withConfig := func(path string) []string {
		a := append([]string{"serve"}, w.args...)
		return append(a, "-config", path)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want []string
	}{
		{"no command", nil, nil, 2, []string{"usage:"}},
		{"unknown command", []string{"frobnicate"}, nil, 2, []string{`unknown command "frobnicate"`}},
		{"help", []string{"help"}, nil, 0, nil},
		{"serve -h", []string{"serve", "-h"}, nil, 0, []string{"-tls-cert"}},
		{"unknown flag", []string{"serve", "-port", "1"}, nil, 2, []string{"flag provided but not defined: -port"}},
		{"tls half", append(append([]string{"serve"}, w.args...), "-tls-cert", "c.pem"), nil, 2, []string{"both -tls-cert and -tls-key"}},
		{"tls missing files", append(append([]string{"serve"}, w.args...), "-tls-cert", "nope.pem", "-tls-key", "nope.key"), nil, 2, []string{"TLS key pair"}},
		{"unknown config key", withConfig(bad), nil, 2, []string{"colour"}},
		{"bad config values", withConfig(badValues), nil, 2, []string{"priorities.high", "outgoing.closed", `incoming.Resolved: "done"`}},
		{"missing config", withConfig(filepath.Join(w.dir, "none.json")), nil, 2, []string{"none.json"}},
		{"no credentials", append([]string{"serve"}, w.args...), map[string]string{}, 2, []string{"FARADAY_TOKEN", "FARADAY_USER"}},
		{"no faraday url", []string{"serve", "-config", w.path("mesd.json")}, nil, 2, []string{"-faraday-url is required"}},
		{"bad id policy", append(append([]string{"serve"}, w.args...), "-id-policy", "sometimes"), nil, 2, []string{`-id-policy "sometimes"`}},
		{"bad proxies", append(append([]string{"serve"}, w.args...), "-trusted-proxies", "10.0.0.0/8,nonsense"), nil, 2, []string{`"nonsense" is not a CIDR`}},
		{"token no sub", []string{"token"}, nil, 2, []string{"create, list or revoke"}},
		{"token create no alias", []string{"token", "create", "-tokens", w.path("t.json")}, nil, 2, []string{"-alias is required"}},
		{"token create negative", []string{"token", "create", "-alias", "a", "-expires", "-1h", "-tokens", w.path("t.json")}, nil, 2, []string{"negative"}},
		{"token revoke no id", []string{"token", "revoke", "-tokens", w.path("t.json")}, nil, 2, []string{"want the token's ID"}},
		{"token revoke bad id", []string{"token", "revoke", "-tokens", w.path("t.json"), "x1"}, nil, 2, []string{`"x1" is not a token ID`}},
		{"token revoke unknown", []string{"token", "revoke", "-tokens", w.path("t.json"), "7"}, nil, 1, []string{"no token with ID 7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := w.env
			if tt.env != nil {
				env = tt.env
			}
			var o, e bytes.Buffer
			code := run(t.Context(), tt.args, func(k string) string { return env[k] }, &o, &e)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, o.String(), e.String())
			}
			all := o.String() + e.String()
			for _, want := range tt.want {
				if !strings.Contains(all, want) {
					t.Errorf("output lacks %q:\n%s", want, all)
				}
			}
			if strings.Contains(all, apiToken) {
				t.Error("output shows the Faraday token")
			}
		})
	}
}

// TestServeRefusesAnUnwritableDeadLetterFile: a dead letter that could not be
// written would be a lost change, so serve checks the file before it listens.
func TestServeRefusesAnUnwritableDeadLetterFile(t *testing.T) {
	w := newWorld(t)
	args := append(append([]string{"serve", "-addr", "127.0.0.1:0"}, w.args...), "-dead-letters", filepath.Join(w.dir, "missing", "dead.jsonl"))
	code, _, errOut := w.run(t, args...)
	if code != 2 || !strings.Contains(errOut, "-dead-letters") {
		t.Fatalf("serve with an unwritable dead-letter file: exit %d\n%s", code, errOut)
	}
}
