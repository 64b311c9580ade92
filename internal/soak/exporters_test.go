package soak

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// TestTwoExportersShareLinks runs two exporters at once, as two replicas
// would, on the same 100 vulns (500 with MESD_SOAK=full): each with its own
// engine, client and open of one link file, with 20% of the SDP calls
// faulted and Config.PendingGrace set, so that each leaves the other's
// creates in progress alone. Rounds repeat (the clock jumping past the
// grace between them, so that intents left by failed creates are finished)
// until every vuln is linked. Exactly one ticket per vuln.
func TestTwoExportersShareLinks(t *testing.T) {
	vs := soakVulns(soakSize(100, 500))
	ctx := context.Background()
	clock := &jumpClock{}
	srv := sdptest.NewServer(sdptest.WithClock(clock.Now))
	defer srv.Close()
	f := newFaulter(t, srv, 0.2, 40)
	defer f.close()
	path := filepath.Join(t.TempDir(), "links.json")
	open := func() faraday.LinkStore {
		t.Helper()
		s, err := faraday.OpenFileLinkStore(path)
		if errors.Is(err, faraday.ErrFileStoreUnsupported) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	stores := []faraday.LinkStore{open(), open()}
	// Far above a round's length, even under -race on a loaded machine.
	const grace = time.Minute
	exporter := func(links faraday.LinkStore) (*engine.Report, error) {
		c, err := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken),
			servicedesk.WithHTTPClient(&http.Client{Transport: f}), servicedesk.WithRetry(3, time.Millisecond, 4*time.Millisecond),
			servicedesk.WithMaxRetryAfter(5*time.Millisecond), servicedesk.WithTimeout(attemptTimeout))
		if err != nil {
			return nil, err
		}
		eng, err := engine.New(engine.Config{SDP: c, Mapping: loadEngineConfig(t), Links: links, Concurrency: 4, Now: clock.Now, PendingGrace: grace})
		if err != nil {
			return nil, err
		}
		// Prepare's calls are faulted too: a replica retries it.
		for range 10 {
			if err = eng.Prepare(ctx); err == nil {
				break
			}
		}
		if err != nil {
			return nil, err
		}
		return eng.Export(ctx, seqOf(vs), nil)
	}
	linked := func() int {
		n := 0
		for _, v := range vs {
			l, err := stores[0].Get(ctx, faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID})
			if err == nil && l.State == faraday.LinkLinked {
				n++
			}
		}
		return n
	}
	f.set(true)
	start := time.Now()
	rounds, created, found, skipped, upToDate, together := 0, 0, 0, 0, 0, 0
	for linked() < len(vs) {
		rounds++
		if rounds > 30 {
			t.Fatalf("%d of %d vulns linked after 30 rounds", linked(), len(vs))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ran := 0
		// Both exporters re-run too, so they meet each other's stale
		// intents: the engine takes one over by compare-and-set before
		// finishing it, so only one of them creates its ticket.
		exporters := stores
		for _, links := range exporters {
			wg.Go(func() {
				rep, err := exporter(links)
				mu.Lock()
				defer mu.Unlock()
				if rep != nil {
					ran++
					created += rep.Created
					found += rep.Found
					skipped += rep.Skipped
					upToDate += rep.UpToDate
				}
				if err != nil {
					t.Logf("round %d: %v", rounds, err)
				}
			})
		}
		wg.Wait()
		if ran == 2 {
			together++
		}
		clock.jump(2 * grace) // past the grace: intents left now are a failed run's
	}
	f.set(false)
	srv.ClearFaults()
	checkOneTicketPerVuln(t, srv, stores[1], vs)
	if created+found < len(vs) {
		t.Errorf("%d created and %d found for %d vulns", created, found, len(vs))
	}
	if together == 0 || skipped+upToDate == 0 {
		t.Errorf("the exporters never met: %d rounds with both exporting, %d vulns skipped and %d up to date", together, skipped, upToDate)
	}
	t.Logf("two exporters: %d vulns linked in %d rounds (%d with both exporting), %v: %d created, %d found after a failed create, %d skipped (the other's create in progress), %d up to date; %d SDP calls",
		len(vs), rounds, together, time.Since(start).Round(time.Millisecond), created, found, skipped, upToDate, len(srv.Calls()))
}
