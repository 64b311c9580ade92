//go:build unix

package soak

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/mapping"
)

// faradayAPIToken is the fake Faraday's API token the webhook-server
// processes use (FARADAY_TOKEN); it must not reach their logs either.
const faradayAPIToken = "jwt-soak-api-token-0123456789"

// buildWebhookServer compiles examples/webhook-server into a temporary
// directory.
func buildWebhookServer(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the webhook-server program")
	}
	bin := filepath.Join(t.TempDir(), "webhook-server")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/vulndesk/mesd/examples/webhook-server")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

var listeningOn = regexp.MustCompile(`listening on (http://[^/\s]+)`)

// startServer runs "webhook-server serve" on a loopback port and returns
// its base URL, its standard error and a function that interrupts it (as
// Ctrl-C does) and waits for it to exit, which it must do with status 0;
// cleanup calls it too.
func startServer(t *testing.T, bin string, args ...string) (string, *testutil.SyncBuffer, func()) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "FARADAY_TOKEN="+faradayAPIToken,
		"MESD_REFERENCE_KEY="+mapping.EncodeReferenceKey(testReferenceKey))
	stderr := &testutil.SyncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("webhook-server: %v\n%s", err, stderr)
				}
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Errorf("webhook-server did not stop after an interrupt\n%s", <-done)
			}
			for range lines { // wait for the reader
			}
		})
	}
	t.Cleanup(stop)
	select {
	case line := <-lines:
		m := listeningOn.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("webhook-server said %q\n%s", line, stderr)
		}
		return m[1], stderr, stop
	case <-time.After(20 * time.Second):
		t.Fatalf("webhook-server did not start listening\n%s", stderr)
		return "", nil, nil
	}
}

// TestTwoWebhookServers runs two webhook-server processes over one
// file-backed token store and one file-backed link store, in front of one
// Faraday, and delivers every change to both at once, as two replicas
// behind a load balancer would receive an SDP delivery and its retry. 200
// changes (1,000 with MESD_SOAK=full) from 50 senders, with a tenth as
// many deliveries carrying unknown tokens: each change is applied once (one
// PATCH to Faraday, one "updated" answer across the two processes), no good
// delivery is refused, every unknown token is (401 or 429), and no token
// reaches either log.
func TestTwoWebhookServers(t *testing.T) {
	bin := buildWebhookServer(t)
	changes := soakSize(200, 1000)
	ctx := context.Background()
	dir := t.TempDir()
	tokenPath, linkPath := filepath.Join(dir, "tokens.json"), filepath.Join(dir, "links.json")

	fs := faradaytest.NewServer(faradaytest.WithToken(faradayAPIToken))
	defer fs.Close()
	if err := fs.AddWorkspace(faraday.Workspace{Name: workspace, Active: true}); err != nil {
		t.Fatal(err)
	}
	tokens, err := faraday.OpenFileTokenStore(tokenPath)
	if errors.Is(err, faraday.ErrFileStoreUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	_, token, err := faraday.IssueToken(ctx, tokens, faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Close(); err != nil {
		t.Fatal(err)
	}
	links, err := faraday.OpenFileLinkStore(linkPath)
	if err != nil {
		t.Fatal(err)
	}
	for i := range changes {
		id, err := fs.AddVuln(workspace, faraday.Vuln{ID: int64(i + 1), Name: "SQL injection", Severity: faraday.SeverityHigh, Status: faraday.StatusOpen})
		if err != nil {
			t.Fatal(err)
		}
		l := faraday.Link{Key: faraday.VulnKey{Workspace: workspace, VulnID: id}, ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: ticketOf(i)}}
		if _, err := links.CompareAndSet(ctx, l, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := links.Close(); err != nil {
		t.Fatal(err)
	}

	args := []string{"-config", "testdata/mapping.json", "-faraday-url", fs.URL(), "-tokens", tokenPath, "-links", linkPath,
		"-dead-letters", filepath.Join(dir, "dead.jsonl"), "-id-policy", "required"}
	urlA, logA, stopA := startServer(t, bin, args...)
	urlB, logB, stopB := startServer(t, bin, args...)

	// Every change twice, once to each process, and a tenth as many
	// deliveries with unknown tokens (a status that would change the vuln)
	// to each, in a seeded random order.
	m := loadMapper(t)
	r := rand.New(rand.NewPCG(2, 2))
	ds := make([]delivery, 0, 2*changes+changes/5)
	target := make([]string, 0, cap(ds))
	for i := range changes {
		d := delivery{kind: good, vuln: faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}, ticket: ticketOf(i), body: goodBody(m, i, "Resolved", token)}
		ds = append(ds, d, d)
		target = append(target, urlA, urlB)
	}
	var fakes []string
	for j := range changes / 5 {
		i := r.IntN(changes)
		fake := fakeToken(r, token)
		fakes = append(fakes, fake)
		ds = append(ds, delivery{kind: badToken, vuln: faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}, ticket: ticketOf(i), body: goodBody(m, i, "On Hold", fake), token: fake})
		target = append(target, [2]string{urlA, urlB}[j%2])
	}
	r.Shuffle(len(ds), func(i, j int) {
		ds[i], ds[j] = ds[j], ds[i]
		target[i], target[j] = target[j], target[i]
	})
	answers, elapsed := send(t, func(i int) string { return target[i] }, ds)

	updated := map[faraday.VulnKey]int{}
	byServer := map[string]int{}
	refused := map[int]int{}
	for i, a := range answers {
		if ds[i].kind == badToken {
			refused[a.code]++
			if a.code != http.StatusUnauthorized && a.code != http.StatusTooManyRequests {
				t.Errorf("unknown token for %v to %s answered %d; want 401 or 429", ds[i].vuln, target[i], a.code)
			}
			continue
		}
		if a.code != http.StatusOK {
			t.Errorf("delivery for %v to %s answered %d %q", ds[i].vuln, target[i], a.code, a.result)
		}
		if a.result == "updated" {
			updated[ds[i].vuln]++
			byServer[target[i]]++
		}
	}
	patches := 0
	for _, req := range fs.Requests() {
		if req.Method == http.MethodPatch {
			patches++
		}
	}
	if patches != changes {
		t.Errorf("Faraday received %d PATCHes; want %d (one per change)", patches, changes)
	}
	for i := range changes {
		key := faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}
		if v, _ := fs.Vuln(workspace, key.VulnID); v.Status != faraday.StatusClosed {
			t.Errorf("vuln %v is %v; want closed", key, v.Status)
		}
		if updated[key] != 1 {
			t.Errorf("vuln %v: %d updated answers; want 1", key, updated[key])
		}
	}
	// A line is logged after its answer is written: stop the processes
	// before reading their logs.
	stopA()
	stopB()
	watch := newSecretWatch()
	watch.watch(token, faradayAPIToken)
	watch.watch(fakes...)
	logLines := 0
	for name, l := range map[string]*testutil.SyncBuffer{"process A": logA, "process B": logB} {
		for line := range strings.Lines(l.String()) {
			watch.text(name+" log line", line)
			logLines++
		}
	}
	if logLines < len(ds) {
		t.Errorf("%d log lines from the two processes for %d deliveries; want one per delivery at least", logLines, len(ds))
	}
	watch.check(t)
	t.Logf("two webhook-server processes: %d changes delivered to both and %d unknown tokens in %v (%.0f deliveries/s); updated answers: A %d, B %d; %d PATCHes; unknown tokens answered %v",
		changes, len(fakes), elapsed.Round(time.Millisecond), float64(len(ds))/elapsed.Seconds(), byServer[urlA], byServer[urlB], patches, refused)
}
