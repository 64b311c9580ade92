package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
	"github.com/vulndesk/mesd/webhook"
)

// inflight counts the creates being served at once.
type inflight struct {
	now, peak atomic.Int64
}

func (f *inflight) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		n := f.now.Add(1)
		for {
			p := f.peak.Load()
			if n <= p || f.peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		next.ServeHTTP(w, r)
		f.now.Add(-1)
	})
}

func TestConcurrencyAndRateBound(t *testing.T) {
	f := &inflight{}
	ev := newEnvFront(t, f.wrap, func(_ *mapping.Config, c *engine.Config) { c.Concurrency = 3 })
	ev.prepare(t)
	var last engine.Progress
	rep, err := ev.eng.Export(context.Background(), seq(vulns(30)), &engine.ExportOptions{Progress: func(p engine.Progress) { last = p }})
	if err != nil || rep.Created != 30 {
		t.Fatalf("export: %v, %d created", err, rep.Created)
	}
	if p := f.peak.Load(); p > 3 || p < 2 {
		t.Fatalf("%d creates at once, want 2 or 3 with Concurrency 3", p)
	}
	if last.Rate <= 0 || last.Elapsed <= 0 {
		t.Fatalf("progress rate %v elapsed %v", last.Rate, last.Elapsed)
	}

	// 10 writes at 500 per second with a burst of 1 take at least 18ms.
	ev = newEnv(t, func(_ *mapping.Config, c *engine.Config) { c.Rate, c.Burst = rate.Limit(500), 1 })
	ev.prepare(t)
	start := time.Now()
	if _, err := ev.eng.Export(context.Background(), seq(vulns(10)), nil); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 18*time.Millisecond {
		t.Fatalf("10 creates at 500/s took %v", el)
	}
}

// TestRevokedTokenStopsTheExportOnce: the authtoken is refused after
// Prepare (revoked meanwhile); the export stops at the first answer.
func TestRevokedTokenStopsTheExportOnce(t *testing.T) {
	var posts atomic.Int64
	revoked := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				posts.Add(1)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = io.WriteString(w, `{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4022,"type":"failed","message":"Invalid API key received"}]}}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	ev := newEnvFront(t, revoked, func(_ *mapping.Config, c *engine.Config) { c.Concurrency = 2 })
	ev.prepare(t)
	rep, err := ev.eng.Export(context.Background(), seq(vulns(100)), nil)
	var se *engine.SystemicError
	if !errors.As(err, &se) || !errors.Is(err, servicedesk.ErrUnauthorized) {
		t.Fatalf("Export: %v", err)
	}
	if n := posts.Load(); n > 2 || rep.Failed != int(n) {
		t.Fatalf("%d creates sent and %d failed, want at most one per worker", n, rep.Failed)
	}
	for _, it := range rep.Items {
		if it.Outcome == engine.NotAttempted && !errors.Is(it.Err, engine.ErrStopped) {
			t.Fatalf("not attempted item error %v", it.Err)
		}
	}
}

// TestPendingWithDuplicateTickets: an earlier setup left two tickets with
// the vuln's tag; finishing the pending intent links the older one and
// reports the other.
func TestPendingWithDuplicateTickets(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	ctx := context.Background()
	v := vuln(5, faraday.SeverityHigh)
	in, err := ev.eng.Mapper().Request(v, ev.eng.RequesterID())
	if err != nil {
		t.Fatal(err)
	}
	first, err := ev.sdp.Requests.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	second, err := ev.sdp.Requests.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := ev.eng.Mapper().Tag("acme", 5)
	if _, err := ev.links.CompareAndSet(ctx, faraday.Link{Key: vulnKey(v), ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkPending, Tag: tag}}, 0); err != nil {
		t.Fatal(err)
	}
	rep, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), nil)
	if err != nil {
		t.Fatal(err)
	}
	it := rep.Items[0]
	var dup *servicedesk.DuplicateError
	if it.Outcome != engine.Found || it.TicketID != string(first.ID) || !errors.As(it.Err, &dup) || len(dup.Duplicates) != 1 || dup.Duplicates[0] != second.ID {
		t.Fatalf("item %+v, want found %s with %s reported as duplicate", it, first.ID, second.ID)
	}
	if n := callCount(ev.srv, http.MethodPost, "/requests"); n != 2 {
		t.Fatalf("%d creates, want only the two of the test", n)
	}
}

// gatedStatuses is a vuln status store whose SetStatus waits for release.
type gatedStatuses struct {
	*webhook.MemoryVulnStore
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedStatuses) SetStatus(ctx context.Context, key faraday.VulnKey, st faraday.Status) error {
	g.once.Do(func() { close(g.entered) })
	<-g.release
	return g.MemoryVulnStore.SetStatus(ctx, key, st)
}

// TestReconcileAndWebhookApplyOnce: the incoming reconcile claims a change
// and, while it sets the vuln, the webhook's delivery of the same change
// arrives: the handler sees the claim and applies nothing. One change,
// one status set.
func TestReconcileAndWebhookApplyOnce(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	hk := withWebhook(t, ev)
	ctx := context.Background()
	v := vuln(1, faraday.SeverityLow)
	key := vulnKey(v)
	rep, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ticket := rep.Items[0].TicketID
	// The delivery is held back while the reconcile runs.
	if err := ev.srv.AddDeliveryFault(sdptest.DeliveryFault{Kind: sdptest.DeliveryFailed, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if err := ev.srv.SetStatus(ticket, "Resolved"); err != nil {
		t.Fatal(err)
	}
	waitDeliveries(t, ev.srv, 1)
	g := &gatedStatuses{MemoryVulnStore: hk.vulns, entered: make(chan struct{}), release: make(chan struct{})}
	hk.vulns.Put(key, faraday.StatusOpen)
	done := make(chan *engine.Report)
	go func() {
		rep, _ := ev.eng.ReconcileIncoming(ctx, seq([]*faraday.Vuln{v}), g, nil)
		done <- rep
	}()
	<-g.entered
	o := hk.h.Replay(ctx, webhook.DeadLetter{DeliveryID: "late", TicketID: ticket, SDPStatus: "Resolved"})
	close(g.release)
	rep = <-done
	if o.Result != webhook.ResultUnchanged || o.Reason != webhook.ReasonDuplicate {
		t.Fatalf("webhook during the reconcile: %s/%s, want unchanged/duplicate", o.Result, o.Reason)
	}
	if rep.Pushed != 1 || hk.vulns.Sets() != 1 {
		t.Fatalf("reconcile applied %d, %d sets, want 1 and 1", rep.Pushed, hk.vulns.Sets())
	}
	if st, _ := hk.vulns.Status(ctx, key); st != faraday.StatusClosed {
		t.Fatalf("vuln is %s", st)
	}
	l, _ := ev.links.Get(ctx, key)
	if l.LastIncoming == nil || l.LastIncoming.Status != "Resolved" || l.LastIncoming.ChangeID == "" || l.LastIncoming.ChangeID[:6] == "claim:" {
		t.Fatalf("last incoming %+v, want the settled change", l.LastIncoming)
	}
	// Once settled, the same delivery again is already set.
	if o := hk.h.Replay(ctx, webhook.DeadLetter{DeliveryID: "later", TicketID: ticket, SDPStatus: "Resolved"}); o.Result != webhook.ResultUnchanged || o.Reason != webhook.ReasonAlreadySet {
		t.Fatalf("replay after the reconcile: %s/%s", o.Result, o.Reason)
	}
}

// TestReconcileRespectsWebhookClaims: a change the webhook has claimed and
// not settled is left to it while the claim is fresh; a claim whose
// process died before setting the vuln (older than ClaimTimeout) no longer
// holds the change back, and is not taken for a change applied.
func TestReconcileRespectsWebhookClaims(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	ev := newEnv(t, func(_ *mapping.Config, c *engine.Config) { c.Now, c.ClaimTimeout = now, time.Minute })
	ev.prepare(t)
	ctx := context.Background()
	v := vuln(1, faraday.SeverityLow)
	key := vulnKey(v)
	rep, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.srv.SetStatus(rep.Items[0].TicketID, "Resolved"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clock = time.Now() // after the ticket's update, as a webhook would see it
	mu.Unlock()
	_, err = faraday.UpdateLink(ctx, ev.links, key, 0, func(l *faraday.Link) error {
		l.LastIncoming = &faraday.IncomingChange{Status: "Resolved", ChangeID: "claim:delivery-1", At: faraday.NewTime(now())}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	vst := webhook.NewMemoryVulnStore()
	vst.Put(key, faraday.StatusOpen)
	// A fresh claim: the webhook is applying the change; left alone.
	rep, err = ev.eng.ReconcileIncoming(ctx, seq([]*faraday.Vuln{v}), vst, nil)
	if err != nil || rep.UpToDate != 1 || vst.Sets() != 0 {
		t.Fatalf("with a fresh claim: %v %+v, %d sets", err, rep.Items, vst.Sets())
	}
	mu.Lock()
	clock = clock.Add(2 * time.Minute)
	mu.Unlock()
	rep, err = ev.eng.ReconcileIncoming(ctx, seq([]*faraday.Vuln{v}), vst, nil)
	if err != nil || rep.Pushed != 1 || vst.Sets() != 1 {
		t.Fatalf("with a stale claim: %v %+v, %d sets", err, rep.Items, vst.Sets())
	}
	if st, _ := vst.Status(ctx, key); st != faraday.StatusClosed {
		t.Fatalf("vuln is %s", st)
	}
}

// TestUnreachableStopsOnce: ServiceDesk goes away after Prepare; the
// refused connections stop the run at once instead of failing every vuln.
func TestUnreachableStopsOnce(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	ev.srv.Close()
	rep, err := ev.eng.Export(context.Background(), seq(vulns(100)), nil)
	var se *engine.SystemicError
	if !errors.As(err, &se) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Export: %v, want a *SystemicError for the refused connection", err)
	}
	// A create sent on a kept-alive connection the server closed meets an
	// EOF instead, which is not certain to have been refused: that vuln
	// fails alone and keeps its intent; the refused ones stop the run.
	if rep.Failed < 1 || rep.Failed > 8 || rep.Created != 0 || len(rep.Items) > 20 {
		t.Fatalf("failed %d created %d items %d", rep.Failed, rep.Created, len(rep.Items))
	}
	for _, it := range rep.Items {
		l, err := ev.links.Get(context.Background(), it.Key)
		refused := errors.Is(it.Err, syscall.ECONNREFUSED)
		switch {
		case it.Outcome == engine.Failed && refused && err == nil:
			t.Fatalf("vuln %s refused at connect time, yet left with a %s link", it.Key, l.State)
		case it.Outcome == engine.Failed && !refused && (err != nil || l.State != faraday.LinkPending):
			t.Fatalf("vuln %s failed with %v, which may have reached SDP, yet has no pending intent (%v)", it.Key, it.Err, err)
		}
	}
}

// dropUrgency removes the urgency from create answers, as SDP does with a
// dropdown value it does not take.
func dropUrgency(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err == nil {
			if req, ok := body["request"].(map[string]any); ok {
				req["urgency"] = nil
			}
		}
		out, _ := json.Marshal(body)
		w.Header().Set("Content-Type", rec.Header().Get("Content-Type"))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(out)
	})
}

func TestDroppedFieldReported(t *testing.T) {
	ev := newEnvFront(t, dropUrgency, nil)
	ev.prepare(t)
	rep, err := ev.eng.Export(context.Background(), seq(vulns(2)), nil)
	if err != nil || rep.Created != 2 {
		t.Fatalf("export: %v %+v", err, rep)
	}
	for _, it := range rep.Items {
		if !errors.Is(it.Err, engine.ErrFieldDropped) || !strings.Contains(it.Err.Error(), "without urgency") {
			t.Fatalf("item %s: %v, want ErrFieldDropped naming urgency", it.Key, it.Err)
		}
		if l, err := ev.links.Get(context.Background(), it.Key); err != nil || l.State != faraday.LinkLinked {
			t.Fatalf("the ticket must still be linked: %+v %v", l, err)
		}
	}
}

// TestExportToCloud runs an export against the cloud flavour: OAuth
// tokens from the Zoho accounts endpoint, 18-digit ids with display ids,
// and the cloud UI's links.
func TestExportToCloud(t *testing.T) {
	srv := sdptest.NewServer(sdptest.WithCloud(""))
	t.Cleanup(srv.Close)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	zs, err := servicedesk.NewZohoTokenSource(servicedesk.ZohoConfig{
		ClientID: sdptest.DefaultClientID, ClientSecret: sdptest.DefaultClientSecret, RefreshToken: sdptest.DefaultRefreshToken,
		AccountsURL: srv.AccountsURL(), HTTPClient: hc,
	})
	if err != nil {
		t.Fatal(err)
	}
	sdp, err := servicedesk.NewClient(srv.URL(), servicedesk.WithCloudPortal(srv.Portal()), servicedesk.WithAuthenticator(zs),
		servicedesk.WithHTTPClient(hc), servicedesk.WithRetry(1, time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	links := faraday.NewMemoryLinkStore()
	eng, err := engine.New(engine.Config{SDP: sdp, Mapping: loadConfig(t), Links: links})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := eng.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := eng.Export(ctx, seq(vulns(3)), nil)
	if err != nil || rep.Created != 3 {
		t.Fatalf("export: %v", err)
	}
	for _, it := range rep.Items {
		if len(it.TicketID) < 15 || it.DisplayID == "" || it.DisplayID == it.TicketID {
			t.Fatalf("ticket id %q display id %q", it.TicketID, it.DisplayID)
		}
		if !strings.Contains(it.URL, "/app/"+srv.Portal()+"/ui/requests/"+it.TicketID+"/details") {
			t.Fatalf("UI link %q", it.URL)
		}
	}
	if srv.TokenGrants() != 1 {
		t.Fatalf("%d access tokens issued, want 1", srv.TokenGrants())
	}
}

// TestRateLimitedCreatesFailAloneAndLeaveNoIntent: SDP rate-limits the
// creates (its clock frozen, so the window never turns); the refused ones
// fail one by one after the client's retries, without stopping the run,
// and leave no intent behind, so the re-run creates them without a search.
func TestRateLimitedCreatesFailAloneAndLeaveNoIntent(t *testing.T) {
	frozen := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := newEnv(t, nil, sdptest.WithClock(func() time.Time { return frozen }))
	ev.prepare(t)
	if err := ev.srv.AddFault(sdptest.Fault{Kind: sdptest.RateLimit, Method: http.MethodPost, Path: "/requests", PerSecond: 5}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vs := vulns(12)
	rep, err := ev.eng.Export(ctx, seq(vs), nil)
	if err != nil {
		t.Fatalf("Export stopped: %v", err)
	}
	if rep.Created != 5 || rep.Failed != 7 {
		t.Fatalf("created %d failed %d, want 5 and 7", rep.Created, rep.Failed)
	}
	for _, it := range rep.Items {
		if it.Outcome == engine.Failed && !errors.Is(it.Err, servicedesk.ErrRateLimited) {
			t.Fatalf("vuln %s: %v, want ErrRateLimited", it.Key, it.Err)
		}
	}
	ev.srv.ClearFaults()
	ev.srv.ResetCalls()
	rep, err = ev.eng.Export(ctx, seq(vs), nil)
	if err != nil || rep.Created != 7 || searches(ev.srv) != 0 {
		t.Fatalf("re-run: %v, created %d, %d searches", err, rep.Created, searches(ev.srv))
	}
}

// TestPendingGrace: a fresh pending intent is another run's create in
// progress and is left alone; once older than the grace it is finished.
func TestPendingGrace(t *testing.T) {
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	ev := newEnv(t, func(_ *mapping.Config, c *engine.Config) { c.PendingGrace, c.Now = time.Minute, now })
	ev.prepare(t)
	ctx := context.Background()
	v := vuln(2, faraday.SeverityHigh)
	tag, _ := ev.eng.Mapper().Tag("acme", 2)
	if _, err := ev.links.CompareAndSet(ctx, faraday.Link{Key: vulnKey(v), ServiceDeskEntry: faraday.ServiceDeskEntry{
		State: faraday.LinkPending, Tag: tag, CreatedAt: faraday.NewTime(now())}}, 0); err != nil {
		t.Fatal(err)
	}
	ev.srv.ResetCalls()
	rep, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), nil)
	if err != nil || rep.Skipped != 1 || len(ev.srv.Calls()) != 0 {
		t.Fatalf("fresh intent: %v %+v, %d calls", err, rep.Items, len(ev.srv.Calls()))
	}
	mu.Lock()
	clock = clock.Add(2 * time.Minute)
	mu.Unlock()
	rep, err = ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), nil)
	if err != nil || rep.Created != 1 || searches(ev.srv) != 1 {
		t.Fatalf("stale intent: %v %+v, %d searches", err, rep.Items, searches(ev.srv))
	}
}

// TestTwoReplicasExportOnce: two engines (two replicas) share a link store
// and export the same vulns at the same time; with PendingGrace each vuln
// gets exactly one ticket.
func TestTwoReplicasExportOnce(t *testing.T) {
	ev := newEnv(t, func(_ *mapping.Config, c *engine.Config) { c.PendingGrace = time.Minute })
	ev.prepare(t)
	other, err := engine.New(engine.Config{SDP: ev.sdp, Mapping: ev.cfg, Links: ev.links, Concurrency: 4, PendingGrace: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	vs := vulns(120)
	var wg sync.WaitGroup
	reps := make([]*engine.Report, 2)
	for i, eng := range []*engine.Engine{ev.eng, other} {
		wg.Go(func() {
			rep, err := eng.Export(context.Background(), seq(vs), nil)
			if err != nil {
				t.Error(err)
			}
			reps[i] = rep
		})
	}
	wg.Wait()
	if reps[0] == nil || reps[1] == nil {
		t.FailNow()
	}
	if c := reps[0].Created + reps[1].Created; c != len(vs) {
		t.Fatalf("%d + %d created, want %d in all", reps[0].Created, reps[1].Created, len(vs))
	}
	for id, n := range ticketsByTag(t, ev.srv, ev.eng.Mapper(), vs) {
		if n != 1 {
			t.Fatalf("vuln %d has %d tickets", id, n)
		}
	}
}

// TestPendingUnderAnOldTag: the tag format changed between a crashed run
// and the next. The ticket made under the old tag is found by it; a vuln
// whose ticket was never made gets one under the new tag.
func TestPendingUnderAnOldTag(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	ctx := context.Background()
	made, lost := vuln(1, faraday.SeverityHigh), vuln(2, faraday.SeverityHigh)
	old := func(id int64) string { return fmt.Sprintf("[OLD acme/%d]", id) }
	// The crashed run created vuln 1's ticket under the old tag.
	in, err := ev.eng.Mapper().Request(made, ev.eng.RequesterID())
	if err != nil {
		t.Fatal(err)
	}
	in.Subject = old(1) + " " + made.Name
	ticket, err := ev.sdp.Requests.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []*faraday.Vuln{made, lost} {
		if _, err := ev.links.CompareAndSet(ctx, faraday.Link{Key: vulnKey(v), ServiceDeskEntry: faraday.ServiceDeskEntry{
			State: faraday.LinkPending, Tag: old(v.ID)}}, 0); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{made, lost}), nil)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int64]engine.Item{}
	for _, it := range rep.Items {
		byID[it.Key.VulnID] = it
	}
	if it := byID[1]; it.Outcome != engine.Found || it.TicketID != string(ticket.ID) {
		t.Fatalf("vuln 1: %+v, want found %s", it, ticket.ID)
	}
	if it := byID[2]; it.Outcome != engine.Created {
		t.Fatalf("vuln 2: %+v, want created", it)
	}
	newTag, _ := ev.eng.Mapper().Tag("acme", 2)
	l, _ := ev.links.Get(ctx, vulnKey(lost))
	if l.Tag != newTag {
		t.Fatalf("vuln 2 linked under tag %q, want the new %q", l.Tag, newTag)
	}
	if r, _ := ev.srv.Request(l.RequestID); !mapping.HasTag(r.Subject, newTag) {
		t.Fatalf("vuln 2's ticket subject %q lacks %q", r.Subject, newTag)
	}
	if n := callCount(ev.srv, http.MethodPost, "/requests"); n != 2 {
		t.Fatalf("%d creates, want the test's and vuln 2's", n)
	}
}
