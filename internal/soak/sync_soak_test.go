package soak

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
	"github.com/vulndesk/mesd/webhook"
)

// syncVulns is the Faraday side of the status sync soak: a vuln store in
// memory that counts every successful SetStatus per vuln (so that a change
// applied twice, even to the same status, shows) and fails the first
// failures[key] calls for chosen vulns (so that the handler answers 503).
type syncVulns struct {
	*webhook.MemoryVulnStore
	mu       sync.Mutex
	sets     map[faraday.VulnKey]int
	failures map[faraday.VulnKey]int
	failed   int
}

var errFaradayDown = errors.New("faraday: 502 Bad Gateway")

func (s *syncVulns) SetStatus(ctx context.Context, key faraday.VulnKey, st faraday.Status) error {
	s.mu.Lock()
	if s.failures[key] > 0 {
		s.failures[key]--
		s.failed++
		s.mu.Unlock()
		return errFaradayDown
	}
	s.mu.Unlock()
	if err := s.MemoryVulnStore.SetStatus(ctx, key, st); err != nil {
		return err
	}
	s.mu.Lock()
	s.sets[key]++
	s.mu.Unlock()
	return nil
}

func (s *syncVulns) setCount(key faraday.VulnKey) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sets[key]
}

// jumpClock is the wall clock plus an offset the test moves forward
// between phases, so that SDP's, the engine's and the handler's times tell
// a push from a later change as they would minutes apart (the engine's
// reconcile refuses to guess within Config.ClockSkew).
type jumpClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *jumpClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *jumpClock) jump(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// settle waits until sdptest has no delivery in flight.
func settle(t *testing.T, srv *sdptest.Server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for srv.PendingDeliveries() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still pending", srv.PendingDeliveries())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestStatusSyncUnderFaults sends 100 status changes out (200 with
// MESD_SOAK=full) and takes as many in, both ways under faults: the
// pushes through 20% faulted SDP calls, re-run until done, their echoes
// coming back through sdptest's trigger; the incoming changes made in the
// fake UI, their deliveries failed (never reaching the handler), doubled,
// or answered 503 because Faraday is down for that vuln. The engine's
// incoming reconcile, itself under faults and re-run until done, catches
// what the webhook missed; another reconcile races the webhook while the
// deliveries arrive. In the end each incoming change is applied to its vuln
// exactly once, no echo is applied, and every ticket has the
// pushed status.
func TestStatusSyncUnderFaults(t *testing.T) {
	changes := soakSize(100, 500)
	vs := soakVulns(2 * changes) // odd ids: changed in Faraday; even: in SDP
	ctx := context.Background()
	clock := &jumpClock{}
	srv := sdptest.NewServer(sdptest.WithClock(clock.Now))
	defer srv.Close()
	f := newFaulter(t, srv, 0.2, 30)
	defer f.close()
	links := faraday.NewMemoryLinkStore()

	// Export with no fault.
	c, err := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken),
		servicedesk.WithHTTPClient(&http.Client{Transport: f}), servicedesk.WithRetry(3, time.Millisecond, 4*time.Millisecond),
		servicedesk.WithMaxRetryAfter(5*time.Millisecond), servicedesk.WithTimeout(attemptTimeout))
	if err != nil {
		t.Fatal(err)
	}
	newEngine := func() *engine.Engine {
		eng, err := engine.New(engine.Config{SDP: c, Mapping: loadEngineConfig(t), Links: links, Concurrency: 4, Now: clock.Now,
			ClosureInfo: &servicedesk.ClosureInfo{ClosureComments: "closed in Faraday"}})
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if err = eng.Prepare(ctx); err == nil {
				return eng
			}
		}
		t.Fatalf("Prepare: %v", err)
		return nil
	}
	eng := newEngine()
	rep, err := eng.Export(ctx, seqOf(vs), nil)
	if err != nil || rep.Created != len(vs) {
		t.Fatalf("export: %d created of %d: %v", rep.Created, len(vs), err)
	}
	tickets := map[int64]string{}
	for _, it := range rep.Items {
		tickets[it.Key.VulnID] = it.TicketID
	}

	// The webhook, over the same link store, behind the seed's trigger with
	// the recommended payload.
	fv := &syncVulns{MemoryVulnStore: webhook.NewMemoryVulnStore(), sets: map[faraday.VulnKey]int{}, failures: map[faraday.VulnKey]int{}}
	for _, v := range vs {
		fv.Put(faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID}, v.Status)
	}
	tokens := faraday.NewMemoryTokenStore()
	_, token, err := faraday.IssueToken(ctx, tokens, faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	outcomes := map[webhook.Result]int{}
	dead := 0
	h, err := webhook.NewHandler(webhook.Config{
		Tokens: tokens, Links: links, Statuses: eng.Mapper(), Vulns: fv, IDPolicy: webhook.IDRequired,
		Logger:     slog.New(slog.DiscardHandler),
		Now:        clock.Now,
		Retry:      webhook.Retry{Attempts: 2, Wait: time.Millisecond},
		Limits:     webhook.Limits{Deliveries: 1e6, DeliveryBurst: 10 * changes},
		DeadLetter: func(webhook.DeadLetter) { mu.Lock(); dead++; mu.Unlock() }, // not replayed: the reconcile must catch them
		OnOutcome:  func(o webhook.Outcome) { mu.Lock(); outcomes[o.Result]++; mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	defer hs.Close()
	err = srv.AddTrigger(sdptest.Trigger{
		Name: "Faraday Status Sync", On: []sdptest.TriggerAction{sdptest.OnEdit}, Modified: []string{"status.name"},
		URL: hs.URL + webhook.Path, Headers: map[string]string{webhook.HeaderToken: "1"},
		Payload: `{"status": "${{request.status}}", "desc": "${{request.description}}", "id": "${{request.id}}", "Authorization": "` + token + `"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(30, 3))
	scheduleDeliveryFault := func() {
		t.Helper()
		var k sdptest.FaultKind
		switch x := r.IntN(10); {
		case x < 1:
			k = sdptest.DeliveryFailed
		case x < 2:
			k = sdptest.DeliveryTwice
		default:
			return
		}
		if err := srv.AddDeliveryFault(sdptest.DeliveryFault{Kind: k, Times: 1}); err != nil {
			t.Fatal(err)
		}
	}

	// Out: odd vulns are accepted as a risk in Faraday; the engine pushes
	// "On Hold" under faults until every push is done. Each push's echo
	// comes back through the trigger, some failed or doubled.
	for _, v := range vs {
		if v.ID%2 == 1 {
			v.Status = faraday.StatusRiskAccepted
			fv.Put(faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID}, v.Status)
			scheduleDeliveryFault()
		}
	}
	clock.jump(time.Minute)
	f.set(true)
	outRuns := 0
	for done := false; !done; {
		outRuns++
		if outRuns > 40 {
			t.Fatal("pushes not done after 40 runs")
		}
		rep, err := newEngine().Export(ctx, seqOf(vs), &engine.ExportOptions{PushStatus: true})
		done = err == nil && rep.Failed == 0 && rep.NotAttempted == 0
	}
	settle(t, srv)
	clock.jump(time.Minute)

	// In: even vulns' tickets are resolved in the UI. A tenth of the
	// deliveries fail, a tenth come twice, and Faraday is down (the
	// handler answers 503) for another tenth of the vulns. Meanwhile an
	// incoming reconcile runs again and again, racing the webhook for the
	// same changes.
	racer := newEngine()
	stop := make(chan struct{})
	var racing sync.WaitGroup
	raced, racedRuns, racedResent := 0, 0, 0
	racing.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			rep, _ := racer.ReconcileIncoming(ctx, seqOf(vs), fv, nil)
			racedRuns++
			if rep != nil {
				for _, it := range rep.Items {
					switch {
					case it.Outcome != engine.Pushed:
					case it.Key.VulnID%2 == 0:
						raced++
					default:
						racedResent++
					}
				}
			}
		}
	})
	for _, v := range vs {
		if v.ID%2 == 0 {
			if r.IntN(10) == 0 {
				fv.mu.Lock()
				fv.failures[faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID}] = 2
				fv.mu.Unlock()
			}
			scheduleDeliveryFault()
			if err := srv.SetStatus(tickets[v.ID], "Resolved"); err != nil {
				t.Fatal(err)
			}
		}
	}
	settle(t, srv)
	close(stop)
	racing.Wait()
	viaWebhook := 0
	for _, v := range vs {
		if v.ID%2 == 0 && fv.setCount(faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID}) > 0 {
			viaWebhook++
		}
	}
	viaWebhook -= raced // the sets so far were the webhook's or the racing reconcile's

	// The incoming reconcile, under faults, until done; it also re-sends
	// the pushes whose outcome the out phase could not know and that never
	// reached their ticket.
	clock.jump(time.Minute)
	inRuns, byReconcile, resent := 0, 0, racedResent
	for done := false; !done; {
		inRuns++
		if inRuns > 40 {
			t.Fatal("incoming reconcile not done after 40 runs")
		}
		rep, err := newEngine().ReconcileIncoming(ctx, seqOf(vs), fv, nil)
		done = err == nil && rep.Failed == 0 && rep.NotAttempted == 0
		if !done {
			reasons := map[string]int{}
			for _, it := range rep.Items {
				if it.Outcome == engine.Failed {
					msg := it.Err.Error()
					reasons[msg[:min(len(msg), 90)]]++
				}
			}
			t.Logf("reconcile run %d failures: %v", inRuns, reasons)
			t.Logf("reconcile run %d: %d failed, %d not attempted, stopped by %v", inRuns, rep.Failed, rep.NotAttempted, err)
		}
		for _, it := range rep.Items {
			if it.Outcome == engine.Pushed {
				if it.Key.VulnID%2 == 0 {
					byReconcile++
				} else {
					resent++
				}
			}
		}
	}
	f.set(false)
	srv.ClearFaults()
	settle(t, srv)

	for _, v := range vs {
		key := faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID}
		st, _ := fv.Status(ctx, key)
		req, ok := srv.Request(tickets[v.ID])
		if !ok {
			t.Fatalf("ticket %s of vuln %d is gone", tickets[v.ID], v.ID)
		}
		if v.ID%2 == 1 {
			if st != faraday.StatusRiskAccepted || req.Status == nil || req.Status.Name != "On Hold" || fv.setCount(key) != 0 {
				t.Errorf("pushed vuln %d: %v with %d sets, ticket %v; want risk-accepted, no set, On Hold", v.ID, st, fv.setCount(key), req.Status)
			}
			continue
		}
		if st != faraday.StatusClosed || fv.setCount(key) != 1 {
			t.Errorf("vuln %d: %v after %d sets; want closed after exactly 1", v.ID, st, fv.setCount(key))
		}
	}
	counts := map[sdptest.FaultKind]int{}
	for _, k := range []sdptest.FaultKind{sdptest.DeliveryFailed, sdptest.DeliveryTwice, sdptest.TooManyRequests, sdptest.ServerError, sdptest.Latency, sdptest.DropAfterCommit} {
		counts[k] = srv.FaultCount(k)
	}
	if counts[sdptest.DeliveryFailed] == 0 || counts[sdptest.DeliveryTwice] == 0 || dead == 0 {
		t.Errorf("faults fired: %v, %d answered 503; want failed and doubled deliveries and 503s", counts, dead)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("status sync: %d changes out in %d runs (%d pushes of unknown outcome re-sent by the reconcile), %d in: %d applied by the webhook, %d by a reconcile racing it (%d runs), %d by the final reconcile in %d runs; %d deliveries (%v), %d answered 503; faults %v",
		changes, outRuns, resent, changes, viaWebhook, raced, racedRuns, byReconcile, inRuns, len(srv.Deliveries()), outcomes, dead, counts)
}
