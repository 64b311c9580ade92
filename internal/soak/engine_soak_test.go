package soak

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// Client timing for the fault soak: each attempt is bounded by
// attemptTimeout, and a Latency fault holds a call for slowCall, past it.
const (
	attemptTimeout = 250 * time.Millisecond
	slowCall       = 400 * time.Millisecond
)

// The faults of the schedule. Each is injected into sdptest, which counts
// it; the two 429s and the three server errors are distinguished here.
type faultPlan int8

const (
	plan429Wait faultPlan = iota // 429 with Retry-After
	plan429                      // 429 without Retry-After
	plan500
	plan502
	plan503
	planSlow // latency past the client's timeout; the call is then served
	planDrop // the call is applied, then the connection is closed unanswered
	plansCount
)

func (p faultPlan) String() string {
	return [...]string{"429+Retry-After", "429", "500", "502", "503", "latency", "drop-after-commit"}[p]
}

func (p faultPlan) fault(method, path string) sdptest.Fault {
	f := sdptest.Fault{Method: method, Path: path, Times: 1}
	switch p {
	case plan429Wait:
		f.Kind, f.RetryAfter = sdptest.TooManyRequests, "1" // capped by WithMaxRetryAfter
	case plan429:
		f.Kind = sdptest.TooManyRequests
	case plan500, plan502, plan503:
		f.Kind, f.Status = sdptest.ServerError, [...]int{500, 502, 503}[p-plan500]
	case planSlow:
		f.Kind, f.Latency = sdptest.Latency, slowCall
	case planDrop:
		f.Kind = sdptest.DropAfterCommit
	}
	return f
}

// faulter is the client's transport: on a schedule drawn from a seeded
// generator it switches a fault on in sdptest for the very call it is about
// to send (about rate of the calls, the kinds in turn), so that every fault
// fires on a real call of the engine. With several calls to one path in flight, the fault
// may hit another of them; it fires once either way. It can also cancel a
// run at a seeded call.
type faulter struct {
	base    http.RoundTripper
	srv     *sdptest.Server
	apiPath string

	mu       sync.Mutex
	on       bool
	rate     float64
	rnd      *rand.Rand
	turn     int
	planned  [plansCount]int
	calls    int
	cancel   context.CancelFunc // cancels the current run at call cancelAt
	cancelAt int
	every    int    // when positive, tick is called every every calls
	tick     func() // (with the faulter locked: keep it short)
}

func newFaulter(t *testing.T, srv *sdptest.Server, rate float64, seed uint64) *faulter {
	t.Helper()
	u, err := url.Parse(srv.APIURL())
	if err != nil {
		t.Fatal(err)
	}
	return &faulter{base: &http.Transport{MaxIdleConnsPerHost: 16}, srv: srv, apiPath: strings.TrimSuffix(u.Path, "/"), rate: rate, rnd: rand.New(rand.NewPCG(seed, ^seed))}
}

func (f *faulter) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.calls++
	if f.cancel != nil && f.calls >= f.cancelAt {
		f.cancel()
		f.cancel = nil
	}
	if f.on && f.every > 0 && f.calls%f.every == 0 {
		f.tick()
	}
	if f.on && f.rnd.Float64() < f.rate {
		// The kinds take turns, so that each fires about as often.
		p := faultPlan(f.turn % int(plansCount))
		f.turn++
		path := strings.TrimPrefix(req.URL.Path, f.apiPath)
		if err := f.srv.AddFault(p.fault(req.Method, path)); err == nil {
			f.planned[p]++
		}
	}
	f.mu.Unlock()
	return f.base.RoundTrip(req)
}

// cancelAfter makes the n-th call from now cancel the run's context; a nil
// cancel disarms it.
func (f *faulter) cancelAfter(n int, cancel context.CancelFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancel, f.cancelAt = cancel, f.calls+n
}

func (f *faulter) set(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = on
}

func (f *faulter) close() { f.base.(*http.Transport).CloseIdleConnections() }

func loadEngineConfig(t testing.TB) *mapping.Config {
	t.Helper()
	data, err := os.ReadFile("testdata/engine.json")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := mapping.LoadConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func soakVulns(n int) []*faraday.Vuln {
	sevs := faraday.Severities()
	vs := make([]*faraday.Vuln, n)
	for i := range vs {
		id := int64(i + 1)
		vs[i] = &faraday.Vuln{
			ID: id, WorkspaceName: workspace, Name: fmt.Sprintf("Finding %d \"quoted\" <b>", id),
			Desc:     fmt.Sprintf("Finding %d\nline two & three", id),
			Severity: sevs[i%len(sevs)], Status: faraday.StatusOpen, Confirmed: true,
			Target: fmt.Sprintf("10.0.%d.%d", id/250, id%250+1),
		}
	}
	return vs
}

func seqOf(vs []*faraday.Vuln) iter.Seq2[*faraday.Vuln, error] {
	return func(yield func(*faraday.Vuln, error) bool) {
		for _, v := range vs {
			if !yield(v, nil) {
				return
			}
		}
	}
}

// exportUntilDone runs fresh engines (as fresh processes would: Prepare,
// then Export) over one link store until a run finishes with every vuln
// created, found or up to date, at most maxRuns times. cancelAt, when set,
// gives the call at which a run is cancelled.
func exportUntilDone(t *testing.T, c *servicedesk.Client, f *faulter, links faraday.LinkStore, vs []*faraday.Vuln, maxRuns int, cancelAt func(run int) int) (runs int, reports []*engine.Report) {
	t.Helper()
	cfg := loadEngineConfig(t)
	for run := 1; run <= maxRuns; run++ {
		eng, err := engine.New(engine.Config{SDP: c, Mapping: cfg, Links: links, Concurrency: 4})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if cancelAt != nil {
			if n := cancelAt(run); n > 0 {
				f.cancelAfter(n, cancel)
			}
		}
		if err := eng.Prepare(ctx); err != nil {
			cancel()
			t.Logf("run %d: Prepare: %v", run, err)
			continue
		}
		rep, err := eng.Export(ctx, seqOf(vs), &engine.ExportOptions{Total: len(vs)})
		cancel()
		f.cancelAfter(0, nil) // disarm
		if rep == nil {
			t.Fatalf("run %d: no report: %v", run, err)
		}
		reports = append(reports, rep)
		done := err == nil && rep.Failed == 0 && rep.NotAttempted == 0 && rep.Created+rep.Found+rep.UpToDate == len(vs)
		t.Logf("run %d: created %d, found %d, up to date %d, failed %d, not attempted %d; stopped by %v",
			run, rep.Created, rep.Found, rep.UpToDate, rep.Failed, rep.NotAttempted, err)
		if done {
			return run, reports
		}
	}
	t.Fatalf("not done after %d runs", maxRuns)
	return 0, nil
}

// faultedClient is a client of srv whose calls go through f, with
// millisecond retries and the soak's attempt timeout; auth defaults to
// sdptest's authtoken.
func faultedClient(t *testing.T, srv *sdptest.Server, f *faulter, opts ...servicedesk.Option) *servicedesk.Client {
	t.Helper()
	if len(opts) == 0 {
		opts = []servicedesk.Option{servicedesk.WithAuthToken(sdptest.DefaultAuthToken)}
	}
	c, err := servicedesk.NewClient(srv.URL(), append(opts,
		servicedesk.WithHTTPClient(&http.Client{Transport: f}),
		servicedesk.WithRetry(3, time.Millisecond, 4*time.Millisecond),
		servicedesk.WithMaxRetryAfter(5*time.Millisecond),
		servicedesk.WithTimeout(attemptTimeout))...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkOneTicketPerVuln verifies the end state: exactly one ticket per
// vuln holds its tag, and the vuln's link is linked to that ticket.
func checkOneTicketPerVuln(t *testing.T, srv *sdptest.Server, links faraday.LinkStore, vs []*faraday.Vuln) {
	t.Helper()
	m, err := mapping.New(loadEngineConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	byTag := map[string][]string{}
	for _, r := range srv.Requests() {
		tag := r.Subject
		if i := strings.IndexByte(tag, ']'); strings.HasPrefix(tag, "[") && i > 0 {
			tag = tag[:i+1]
		}
		byTag[tag] = append(byTag[tag], string(r.ID))
	}
	for _, v := range vs {
		tag, err := m.Tag(v.WorkspaceName, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		ids := byTag[tag]
		if len(ids) != 1 {
			t.Errorf("vuln %d: %d tickets with tag %s (%v); want 1", v.ID, len(ids), tag, ids)
			continue
		}
		l, err := links.Get(context.Background(), faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID})
		if err != nil {
			t.Errorf("vuln %d: %v", v.ID, err)
			continue
		}
		if l.State != faraday.LinkLinked || l.RequestID != ids[0] {
			t.Errorf("vuln %d: link %s to %q; want linked to %s", v.ID, l.State, l.RequestID, ids[0])
		}
	}
	if got, want := len(srv.Requests()), len(vs); got != want {
		t.Errorf("sdptest holds %d requests; want %d", got, want)
	}
}

// checkFaultCounts fails the test if a kind of fault fired fewer than 5
// times, by sdptest's counts (the kinds) and its calls (the statuses).
func checkFaultCounts(t *testing.T, srv *sdptest.Server, f *faulter) {
	t.Helper()
	statuses := map[int]int{}
	for _, c := range srv.Calls() {
		if c.Fault == sdptest.ServerError || c.Fault == sdptest.TooManyRequests {
			statuses[c.Status]++
		}
	}
	kinds := []sdptest.FaultKind{sdptest.TooManyRequests, sdptest.ServerError, sdptest.Latency, sdptest.DropAfterCommit}
	var fired []string
	for _, k := range kinds {
		n := srv.FaultCount(k)
		fired = append(fired, fmt.Sprintf("%v %d", k, n))
		if n < 5 {
			t.Errorf("fault %v fired %d times; want at least 5", k, n)
		}
	}
	for _, code := range []int{429, 500, 502, 503} {
		if statuses[code] < 5 {
			t.Errorf("%d answered %d times by injected faults; want at least 5", code, statuses[code])
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.planned[plan429Wait] < 5 || f.planned[plan429] < 5 {
		t.Errorf("429 scheduled %d times with Retry-After and %d without; want at least 5 each", f.planned[plan429Wait], f.planned[plan429])
	}
	t.Logf("faults fired (sdptest's counts): %s; injected statuses %v; scheduled %v of %d calls", strings.Join(fired, ", "), statuses, f.plannedString(), f.calls)
}

func (f *faulter) plannedString() string {
	var b strings.Builder
	for p := range plansCount {
		if p > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%v:%d", p, f.planned[p])
	}
	return b.String()
}

// TestExportUnderFaults exports 200 vulns (1,000 with MESD_SOAK=full)
// through the engine to sdptest with about 20% of the calls faulted on a
// seeded schedule, re-running until done: one ticket per vuln, every link
// stored, and each kind of fault fired at least 5 times.
func TestExportUnderFaults(t *testing.T) {
	vs := soakVulns(soakSize(200, 1000))
	srv := sdptest.NewServer()
	defer srv.Close()
	f := newFaulter(t, srv, 0.2, 20)
	defer f.close()
	f.set(true)
	links := faraday.NewMemoryLinkStore()
	start := time.Now()
	runs, _ := exportUntilDone(t, faultedClient(t, srv, f), f, links, vs, 40, nil)
	f.set(false)
	srv.ClearFaults()
	checkOneTicketPerVuln(t, srv, links, vs)
	checkFaultCounts(t, srv, f)
	t.Logf("export under faults: %d vulns, done in %d runs, %v", len(vs), runs, time.Since(start).Round(time.Millisecond))
}

// TestExportCancelledUnderFaults is the same with every run but the last
// cancelled at a seeded call, mid-flight, and re-run until done.
func TestExportCancelledUnderFaults(t *testing.T) {
	vs := soakVulns(soakSize(200, 1000))
	srv := sdptest.NewServer()
	defer srv.Close()
	f := newFaulter(t, srv, 0.2, 21)
	defer f.close()
	f.set(true)
	links := faraday.NewMemoryLinkStore()
	r := rand.New(rand.NewPCG(21, 12))
	const cancelled = 5
	cancelAt := func(run int) int {
		if run > cancelled {
			return 0
		}
		return 20 + r.IntN(len(vs)/2)
	}
	start := time.Now()
	runs, reports := exportUntilDone(t, faultedClient(t, srv, f), f, links, vs, 40, cancelAt)
	f.set(false)
	srv.ClearFaults()
	stopped := 0
	for _, rep := range reports {
		if errors.Is(rep.Err, context.Canceled) {
			stopped++
		}
	}
	if stopped == 0 {
		t.Errorf("no run was stopped by its cancellation")
	}
	checkOneTicketPerVuln(t, srv, links, vs)
	checkFaultCounts(t, srv, f)
	t.Logf("export cancelled under faults: %d vulns, %d runs stopped by cancellation, done in %d runs, %v", len(vs), stopped, runs, time.Since(start).Round(time.Millisecond))
}

// TestExportCloudUnderFaults is TestExportUnderFaults against the cloud
// flavour: Zoho OAuth with a refresh token, whose token endpoint is faulted
// like the API (its calls go through the same schedule), and every 40 calls
// the server drops its access tokens while the clock moves on two minutes,
// so that the client meets 401s and renews mid-run. One ticket per vuln,
// every link stored, renewals seen.
func TestExportCloudUnderFaults(t *testing.T) {
	vs := soakVulns(soakSize(200, 1000))
	clock := &jumpClock{}
	srv := sdptest.NewServer(sdptest.WithCloud("itdesk"), sdptest.WithClock(clock.Now),
		sdptest.WithOAuthClient(zohoClientID, zohoSecret, zohoRefresh))
	defer srv.Close()
	f := newFaulter(t, srv, 0.2, 50)
	defer f.close()
	f.every, f.tick = 40, func() {
		clock.jump(2 * time.Minute)
		srv.ExpireAccessTokens()
	}
	src, err := servicedesk.NewZohoTokenSource(servicedesk.ZohoConfig{
		ClientID: zohoClientID, ClientSecret: zohoSecret, RefreshToken: zohoRefresh,
		AccountsURL: srv.AccountsURL(), HTTPClient: &http.Client{Transport: f, Timeout: attemptTimeout}, Now: clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := faultedClient(t, srv, f, servicedesk.WithCloudPortal(srv.Portal()), servicedesk.WithAuthenticator(src))
	f.set(true)
	links := faraday.NewMemoryLinkStore()
	start := time.Now()
	runs, _ := exportUntilDone(t, c, f, links, vs, 40, nil)
	f.set(false)
	srv.ClearFaults()
	checkOneTicketPerVuln(t, srv, links, vs)
	grants := srv.TokenGrants()
	if grants < 3 {
		t.Errorf("%d access tokens granted; want renewals after the server dropped its tokens", grants)
	}
	accountsFaults := 0
	for _, call := range srv.Calls() {
		if call.Path == "/oauth/v2/token" && call.Fault != sdptest.NoFault {
			accountsFaults++
		}
	}
	t.Logf("cloud export under faults: %d vulns, done in %d runs, %v; %d access tokens granted, %d token-endpoint calls faulted; %d calls",
		len(vs), runs, time.Since(start).Round(time.Millisecond), grants, accountsFaults, len(srv.Calls()))
}
