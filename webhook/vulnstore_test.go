package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) == "1" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

// fakeFaraday starts faradaytest behind a server that counts PATCHes, and
// returns a ClientVulnStore over it with vuln acme/1 (open) and a
// read-only workspace "frozen" holding vuln 1.
func fakeFaraday(t *testing.T) (*ClientVulnStore, *faradaytest.Server, *atomic.Int32) {
	vs, fs, patches, _ := fakeFaradayURL(t)
	return vs, fs, patches
}

// fakeFaradayURL is fakeFaraday that also returns the counting server's
// URL.
func fakeFaradayURL(t *testing.T) (*ClientVulnStore, *faradaytest.Server, *atomic.Int32, string) {
	t.Helper()
	fs := faradaytest.NewServer(faradaytest.WithToken("jwt-test"))
	t.Cleanup(fs.Close)
	for _, ws := range []faraday.Workspace{{Name: "acme", Active: true}, {Name: "frozen", Active: true}} {
		if err := fs.AddWorkspace(ws); err != nil {
			t.Fatal(err)
		}
	}
	for _, ws := range []string{"acme", "frozen"} {
		if _, err := fs.AddVuln(ws, faraday.Vuln{ID: 1, Name: "SQL injection", Severity: faraday.SeverityHigh, Status: faraday.StatusOpen}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.SetReadOnly("frozen", true); err != nil {
		t.Fatal(err)
	}
	var patches atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			patches.Add(1)
		}
		fs.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	c, err := faraday.NewClient(front.URL, faraday.WithToken("jwt-test"), faraday.WithoutRetries(), faraday.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	vs, err := NewClientVulnStore(c)
	if err != nil {
		t.Fatal(err)
	}
	return vs, fs, &patches, front.URL
}

func TestClientVulnStore(t *testing.T) {
	t.Parallel()
	vs, fs, patches := fakeFaraday(t)
	ctx := context.Background()
	st, err := vs.Status(ctx, vulnA)
	if err != nil || st != faraday.StatusOpen {
		t.Fatalf("Status = %v, %v", st, err)
	}
	if err := vs.SetStatus(ctx, vulnA, faraday.StatusRiskAccepted); err != nil {
		t.Fatal(err)
	}
	if v, _ := fs.Vuln("acme", 1); v.Status != faraday.StatusRiskAccepted {
		t.Fatalf("server has %v", v.Status)
	}
	missing := faraday.VulnKey{Workspace: "acme", VulnID: 99}
	if _, err := vs.Status(ctx, missing); !errors.Is(err, ErrVulnNotFound) {
		t.Fatalf("missing vuln: %v", err)
	}
	if err := vs.SetStatus(ctx, missing, faraday.StatusClosed); !errors.Is(err, ErrVulnNotFound) {
		t.Fatalf("missing vuln: %v", err)
	}
	err = vs.SetStatus(ctx, faraday.VulnKey{Workspace: "frozen", VulnID: 1}, faraday.StatusClosed)
	if !errors.Is(err, faraday.ErrReadOnlyWorkspace) || errors.Is(err, ErrVulnNotFound) {
		t.Fatalf("read-only workspace: %v", err)
	}
	if n := patches.Load(); n != 3 {
		t.Fatalf("%d PATCHes, want 3", n)
	}
	if _, err := NewClientVulnStore(nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil client: %v", err)
	}
}

// TestHandlerOverREST: the handler applies a change through the REST
// client, once for duplicate deliveries; a read-only workspace is a 503
// with a dead letter.
func TestHandlerOverREST(t *testing.T) {
	t.Parallel()
	vs, fs, patches := fakeFaraday(t)
	f := newFixture(t, func(c *Config) { c.Vulns = vs })
	body := idBody("Closed", f.footer(vulnA), ticketA, f.valid)
	for i := range 3 {
		code, _, ans := f.do(t, http.MethodPost, hdr(), body)
		want := ansUpdatedClosed
		if i > 0 {
			want = `{"result":"unchanged","reason":"already_set","vuln":"acme/1","status":"closed"}`
		}
		if code != 200 || ans != want {
			t.Fatalf("delivery %d: %d %s", i, code, ans)
		}
	}
	if v, _ := fs.Vuln("acme", 1); v.Status != faraday.StatusClosed || patches.Load() != 1 {
		t.Fatalf("server has %v after %d PATCHes", v.Status, patches.Load())
	}

	frozen := faraday.VulnKey{Workspace: "frozen", VulnID: 1}
	if _, err := f.links.CompareAndSet(context.Background(), faraday.Link{Key: frozen, ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: "2001"}}, 0); err != nil {
		t.Fatal(err)
	}
	code, _, ans := f.do(t, http.MethodPost, hdr(), idBody("Closed", f.footer(frozen), "2001", f.valid))
	if code != 503 || ans != `{"error":"unavailable"}` {
		t.Fatalf("read-only: %d %s", code, ans)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.dead) != 1 || f.dead[0].Vuln != frozen || !errors.Is(f.dead[0].Err, faraday.ErrReadOnlyWorkspace) {
		t.Fatalf("dead letters %+v", f.dead)
	}
}
