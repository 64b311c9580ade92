package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// The crash test re-executes the test binary as a child process that runs
// the engine; these variables carry its parameters.
const (
	crashChildEnv = "MESD_ENGINE_CRASH_CHILD" // set to "1" in the child
	crashURLEnv   = "MESD_ENGINE_CRASH_SDP"   // the SDP base URL
	crashLinksEnv = "MESD_ENGINE_CRASH_LINKS" // the link file
	crashVulnsEnv = "MESD_ENGINE_CRASH_VULNS" // how many vulns to export
)

// crashChild is the child's main: Prepare and Export of the generated
// vulns against the parent's fake SDP, with a file link store. It returns
// the process's exit code.
func crashChild() int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "crash child: "+format+"\n", args...)
		return 2
	}
	n, err := strconv.Atoi(os.Getenv(crashVulnsEnv))
	if err != nil {
		return fail("bad %s: %v", crashVulnsEnv, err)
	}
	sdp, err := servicedesk.NewClient(os.Getenv(crashURLEnv), servicedesk.WithAuthToken(sdptest.DefaultAuthToken),
		servicedesk.WithRetry(2, time.Millisecond, 5*time.Millisecond))
	if err != nil {
		return fail("client: %v", err)
	}
	links, err := faraday.OpenFileLinkStore(os.Getenv(crashLinksEnv))
	if err != nil {
		return fail("link store: %v", err)
	}
	defer func() { _ = links.Close() }()
	cfg, err := readConfig()
	if err != nil {
		return fail("config: %v", err)
	}
	eng, err := engine.New(engine.Config{SDP: sdp, Mapping: cfg, Links: links, Concurrency: 4})
	if err != nil {
		return fail("engine: %v", err)
	}
	ctx := context.Background()
	if err := eng.Prepare(ctx); err != nil {
		return fail("prepare: %v", err)
	}
	rep, err := eng.Export(ctx, seq(vulns(n)), nil)
	if err != nil {
		return fail("export: %v", err)
	}
	fmt.Printf("created %d found %d up-to-date %d failed %d\n", rep.Created, rep.Found, rep.UpToDate, rep.Failed)
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

// gate sits in front of sdptest's handler and holds the n-th create
// (counted over every child run) before or after sdptest commits it,
// telling the test, until the caller is gone.
type gate struct {
	inner   http.Handler
	creates atomic.Int64
	mu      sync.Mutex
	holdAt  int64
	after   bool // hold after the commit, withholding the answer
	held    chan struct{}
	done    chan struct{}
}

func (g *gate) arm(at int64, after bool) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holdAt, g.after, g.held = at, after, make(chan struct{})
	return g.held
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v3/requests" {
		g.inner.ServeHTTP(w, r)
		return
	}
	n := g.creates.Add(1)
	g.mu.Lock()
	hold, after, held := n == g.holdAt, g.after, g.held
	g.mu.Unlock()
	if !hold {
		g.inner.ServeHTTP(w, r)
		return
	}
	if after {
		g.inner.ServeHTTP(httptest.NewRecorder(), r) // committed; the answer never leaves
	}
	close(held)
	select {
	case <-r.Context().Done():
	case <-g.done:
	}
}

// TestCrashSafetySIGKILL kills a real engine process with SIGKILL at points
// chosen through the fake SDP: before a create reaches SDP, after SDP made
// the ticket but before the engine heard of it (so before the link was
// written), and while creates and link writes are flowing. After each kill
// the engine is run again; at the end every vuln has exactly one ticket
// and a linked link, and a last run makes no SDP write and no search.
func TestCrashSafetySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	srv := sdptest.NewServer()
	defer srv.Close()
	g := &gate{inner: srv.Handler(), done: make(chan struct{})}
	hs := httptest.NewServer(g)
	defer hs.Close()
	defer close(g.done)
	linkFile := filepath.Join(t.TempDir(), "links.json")
	const n = 40

	child := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", crashURLEnv+"="+hs.URL,
			crashLinksEnv+"="+linkFile, crashVulnsEnv+"="+strconv.Itoa(n))
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, out
	}
	kills := []struct {
		at    int64
		after bool
		what  string
	}{
		{3, false, "before the 3rd create reaches SDP"},
		{9, true, "after SDP made the 9th ticket, before its answer and link"},
		{17, true, "after SDP made the 17th ticket, before its answer and link"},
		{30, false, "before the 30th create reaches SDP"},
	}
	for _, k := range kills {
		held := g.arm(k.at, k.after)
		cmd, out := child()
		select {
		case <-held:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the child never reached the kill point %q; output:\n%s", k.what, out)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Success() {
			t.Fatalf("child killed %s: %v; output:\n%s", k.what, err, out)
		}
		t.Logf("killed %s (creates so far %d, tickets %d)", k.what, g.creates.Load(), len(srv.Requests()))
	}
	g.arm(-1, false)
	cmd, out := child()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v; output:\n%s", err, out)
	}
	t.Logf("final run: %s", bytes.TrimSpace(out.Bytes()))

	links, err := faraday.OpenFileLinkStore(linkFile)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = links.Close() }()
	cfg := loadConfig(t)
	eng, err := engine.New(engine.Config{SDP: newClient(t, srv), Mapping: cfg, Links: links})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	vs := vulns(n)
	for id, count := range ticketsByTag(t, srv, eng.Mapper(), vs) {
		if count != 1 {
			t.Errorf("vuln %d has %d tickets", id, count)
		}
	}
	if got := len(srv.Requests()); got != n {
		t.Errorf("%d tickets in SDP, want %d", got, n)
	}
	for _, v := range vs {
		l, err := links.Get(context.Background(), vulnKey(v))
		if err != nil || l.State != faraday.LinkLinked {
			t.Fatalf("vuln %d: link %+v, %v", v.ID, l, err)
		}
		if r, ok := srv.Request(l.RequestID); !ok || !mapping.HasTag(r.Subject, l.Tag) {
			t.Fatalf("vuln %d linked to ticket %s without its tag", v.ID, l.RequestID)
		}
	}
	srv.ResetCalls()
	rep, err := eng.Export(context.Background(), seq(vs), nil)
	if err != nil || rep.UpToDate != n || len(srv.Calls()) != 0 {
		t.Fatalf("run after recovery: %v, %d up to date, %d SDP calls", err, rep.UpToDate, len(srv.Calls()))
	}
}
