package engine_test

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// env is one test's fake SDP, client, link store and engine.
type env struct {
	srv   *sdptest.Server
	sdp   *servicedesk.Client
	links faraday.LinkStore
	cfg   *mapping.Config
	eng   *engine.Engine
}

// newEnv starts an sdptest server and an engine over a memory link store,
// configured with testdata/config.json; edit changes the configuration
// before the engine is made.
func newEnv(t testing.TB, edit func(*mapping.Config, *engine.Config), opts ...sdptest.Option) *env {
	t.Helper()
	return newEnvFront(t, nil, edit, opts...)
}

// newEnvFront is newEnv with front, when not nil, wrapping sdptest's
// handler on a server of its own that the client talks to.
func newEnvFront(t testing.TB, front func(http.Handler) http.Handler, edit func(*mapping.Config, *engine.Config), opts ...sdptest.Option) *env {
	t.Helper()
	srv := sdptest.NewServer(opts...)
	t.Cleanup(srv.Close)
	base := srv.URL()
	if front != nil {
		hs := httptest.NewServer(front(srv.Handler()))
		t.Cleanup(hs.Close)
		base = hs.URL
	}
	ev := &env{srv: srv, sdp: newClientURL(t, base), links: faraday.NewMemoryLinkStore(), cfg: loadConfig(t)}
	ecfg := engine.Config{SDP: ev.sdp, Mapping: ev.cfg, Links: ev.links, Concurrency: 4}
	if edit != nil {
		edit(ev.cfg, &ecfg)
	}
	ev.links = ecfg.Links
	eng, err := engine.New(ecfg)
	if err != nil {
		t.Fatalf("engine.New: %v", err)
	}
	ev.eng = eng
	return ev
}

// newClient returns a client of srv with millisecond retries whose idle
// connections are closed at the end of the test.
func newClient(t testing.TB, srv *sdptest.Server) *servicedesk.Client {
	t.Helper()
	return newClientURL(t, srv.URL())
}

func newClientURL(t testing.TB, base string) *servicedesk.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := servicedesk.NewClient(base,
		servicedesk.WithHTTPClient(&http.Client{Transport: tr}),
		servicedesk.WithAuthToken(sdptest.DefaultAuthToken),
		servicedesk.WithRetry(2, time.Millisecond, 2*time.Millisecond),
		servicedesk.WithMaxRetryAfter(5*time.Millisecond))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func loadConfig(t testing.TB) *mapping.Config {
	t.Helper()
	cfg, err := readConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// readConfig reads testdata/config.json, the configuration of the tests.
func readConfig() (*mapping.Config, error) {
	data, err := os.ReadFile("testdata/config.json")
	if err != nil {
		return nil, err
	}
	return mapping.LoadConfig(data)
}

func (ev *env) prepare(t testing.TB) {
	t.Helper()
	if err := ev.eng.Prepare(context.Background()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
}

// vuln returns a confirmed, open vuln of workspace acme.
func vuln(id int64, sev faraday.Severity) *faraday.Vuln {
	return &faraday.Vuln{
		ID: id, WorkspaceName: "acme", Name: fmt.Sprintf("Finding %d <script>", id),
		Desc:     fmt.Sprintf("Description of finding %d\nsecond line & more", id),
		Severity: sev, Status: faraday.StatusOpen, Confirmed: true,
		Target: "10.0.0." + fmt.Sprint(id%250+1),
	}
}

// vulns returns n vulns with ids from 1, severities cycling.
func vulns(n int) []*faraday.Vuln {
	sevs := faraday.Severities()
	out := make([]*faraday.Vuln, n)
	for i := range out {
		out[i] = vuln(int64(i+1), sevs[i%len(sevs)])
	}
	return out
}

// seq turns a slice into the iterator Export takes.
func seq(vs []*faraday.Vuln) iter.Seq2[*faraday.Vuln, error] {
	return func(yield func(*faraday.Vuln, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
	}
}

// callCount counts the server's calls by method and path prefix.
func callCount(srv *sdptest.Server, method, pathPrefix string) int {
	n := 0
	for _, c := range srv.Calls() {
		if c.Method == method && strings.HasPrefix(c.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// searches counts list reads of requests that carry search criteria (the
// tag searches of CreateOnce).
func searches(srv *sdptest.Server) int {
	n := 0
	for _, c := range srv.Calls() {
		if c.Method == http.MethodGet && c.Path == "/requests" && strings.Contains(c.InputData, "search_criteria") {
			n++
		}
	}
	return n
}

// ticketsByTag counts the stored requests per subject tag of vulns.
func ticketsByTag(t testing.TB, srv *sdptest.Server, m *mapping.Mapper, vs []*faraday.Vuln) map[int64]int {
	t.Helper()
	reqs := srv.Requests()
	out := make(map[int64]int, len(vs))
	for _, v := range vs {
		tag, err := m.Tag(v.WorkspaceName, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reqs {
			if mapping.HasTag(r.Subject, tag) {
				out[v.ID]++
			}
		}
	}
	return out
}
