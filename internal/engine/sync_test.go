package engine_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
	"github.com/vulndesk/mesd/webhook"
)

// hook is the webhook handler of an env, served over HTTP, with the
// outcomes it gave.
type hook struct {
	h     *webhook.Handler
	vulns *webhook.MemoryVulnStore
	mu    sync.Mutex
	out   []webhook.Outcome
}

func (h *hook) outcomes() []webhook.Outcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhook.Outcome(nil), h.out...)
}

// withWebhook serves a webhook handler sharing the env's link store and
// installs the seed's trigger (edits that modify the status) pointing at
// it, with the seed's payload.
func withWebhook(t *testing.T, ev *env) *hook {
	t.Helper()
	tokens := faraday.NewMemoryTokenStore()
	_, token, err := faraday.IssueToken(context.Background(), tokens, faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		t.Fatal(err)
	}
	hk := &hook{vulns: webhook.NewMemoryVulnStore()}
	hk.h, err = webhook.NewHandler(webhook.Config{
		Tokens: tokens, Links: ev.links, Statuses: ev.eng.Mapper(), Vulns: hk.vulns,
		Logger:    slog.New(slog.DiscardHandler),
		OnOutcome: func(o webhook.Outcome) { hk.mu.Lock(); hk.out = append(hk.out, o); hk.mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(hk.h)
	t.Cleanup(hs.Close)
	err = ev.srv.AddTrigger(sdptest.Trigger{
		Name: "Faraday Status Sync", On: []sdptest.TriggerAction{sdptest.OnEdit}, Modified: []string{"status.name"},
		URL: hs.URL + webhook.Path, Headers: map[string]string{webhook.HeaderToken: "1"},
		Payload: `{"status": "${{request.status}}", "desc": "${{request.description}}", "Authorization": "` + token + `"}`,
	})
	if err != nil {
		t.Fatal(err)
	}
	return hk
}

func waitDeliveries(t *testing.T, srv *sdptest.Server, n int) []sdptest.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := srv.Wait(ctx, n)
	if err != nil {
		t.Fatalf("waiting for %d deliveries: %v (got %d)", n, err, len(ds))
	}
	return ds
}

// TestStatusPushEchoChangesNothing pushes closed and then re-opened to a
// ticket; each push's echo comes back through sdptest's trigger to the
// webhook handler, which must recognise it. The map is asymmetric:
// re-opened goes out as "Open", and "Open" comes in as open, so an echo
// taken for a change would turn the re-opened vuln into an open one.
func TestStatusPushEchoChangesNothing(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	hk := withWebhook(t, ev)
	ctx := context.Background()
	v := vuln(1, faraday.SeverityHigh)
	key := faraday.VulnKey{Workspace: "acme", VulnID: 1}
	hk.vulns.Put(key, v.Status)
	rep, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), nil)
	if err != nil || rep.Created != 1 {
		t.Fatalf("export: %v %+v", err, rep)
	}
	ticket := rep.Items[0].TicketID
	push := &engine.ExportOptions{PushStatus: true}

	// Closed: a close, since "Closed" is the instance's closed status.
	v.Status = faraday.StatusClosed
	hk.vulns.Put(key, v.Status)
	rep, err = ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), push)
	if err != nil || rep.Pushed != 1 || rep.Items[0].Status != "Closed" {
		t.Fatalf("push closed: %v %+v", err, rep.Items)
	}
	if n := callCount(ev.srv, "PUT", "/requests/"+ticket+"/close"); n != 1 {
		t.Fatalf("%d close calls, want 1", n)
	}
	waitDeliveries(t, ev.srv, 1)
	if r, _ := ev.srv.Request(ticket); r.Status.Name != "Closed" {
		t.Fatalf("ticket status %q", r.Status.Name)
	}

	// Re-opened: pushed as "Open", whose echo maps to open.
	v.Status = faraday.StatusReopened
	hk.vulns.Put(key, v.Status)
	rep, err = ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), push)
	if err != nil || rep.Pushed != 1 || rep.Items[0].Status != "Open" {
		t.Fatalf("push re-opened: %v %+v", err, rep.Items)
	}
	ds := waitDeliveries(t, ev.srv, 2)
	for _, d := range ds {
		if d.Status != 200 {
			t.Fatalf("delivery answered %d: %s", d.Status, d.Answer)
		}
	}
	outs := hk.outcomes()
	if len(outs) != 2 {
		t.Fatalf("%d webhook outcomes, want 2", len(outs))
	}
	for i, o := range outs {
		if o.Result != webhook.ResultUnchanged || o.Reason != webhook.ReasonEcho {
			t.Fatalf("delivery %d: %s/%s, want unchanged/echo", i+1, o.Result, o.Reason)
		}
	}
	if st, _ := hk.vulns.Status(ctx, key); st != faraday.StatusReopened || hk.vulns.Sets() != 0 {
		t.Fatalf("vuln is %s after %d sets, want re-opened and none", st, hk.vulns.Sets())
	}

	// A second push run has nothing to do.
	ev.srv.ResetCalls()
	rep, err = ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), push)
	if err != nil || rep.UpToDate != 1 || len(ev.srv.Calls()) != 0 {
		t.Fatalf("second push: %v %+v, %d calls", err, rep.Items, len(ev.srv.Calls()))
	}

	// A technician's own change still comes through.
	if err := ev.srv.SetStatus(ticket, "Resolved"); err != nil {
		t.Fatal(err)
	}
	waitDeliveries(t, ev.srv, 3)
	if st, _ := hk.vulns.Status(ctx, key); st != faraday.StatusClosed || hk.vulns.Sets() != 1 {
		t.Fatalf("after Resolved in SDP the vuln is %s (%d sets), want closed", st, hk.vulns.Sets())
	}
	// And the next push sees that "Resolved" already stands for closed.
	v.Status = faraday.StatusClosed
	ev.srv.ResetCalls()
	rep, err = ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), push)
	if err != nil || rep.UpToDate != 1 || len(ev.srv.Calls()) != 0 {
		t.Fatalf("push after an incoming change: %v %+v", err, rep.Items)
	}
}

// TestClosureRuleReported: a close refused by a closure rule (4003) is
// reported with SDP's message, and the link keeps the earlier push.
func TestIncomingReconcileCatchesMissedDelivery(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	hk := withWebhook(t, ev)
	ctx := context.Background()
	vs := vulns(5)
	for _, v := range vs {
		hk.vulns.Put(vulnKey(v), v.Status)
	}
	rep, err := ev.eng.Export(ctx, seq(vs), nil)
	if err != nil || rep.Created != 5 {
		t.Fatalf("export: %v", err)
	}
	tickets := map[int64]string{}
	for _, it := range rep.Items {
		tickets[it.Key.VulnID] = it.TicketID
	}
	// Two deliveries are lost: vuln 2's ticket resolved, vuln 3's put on
	// hold. Vuln 4's ticket is resolved and delivered. Vuln 5's ticket
	// is canceled, which the map ignores.
	if err := ev.srv.AddDeliveryFault(sdptest.DeliveryFault{Kind: sdptest.DeliveryFailed, Times: 2}); err != nil {
		t.Fatal(err)
	}
	for id, st := range map[int64]string{2: "Resolved", 3: "On Hold"} {
		if err := ev.srv.SetStatus(tickets[id], st); err != nil {
			t.Fatal(err)
		}
	}
	waitDeliveries(t, ev.srv, 2)
	for id, st := range map[int64]string{4: "Resolved", 5: "Canceled"} {
		if err := ev.srv.SetStatus(tickets[id], st); err != nil {
			t.Fatal(err)
		}
	}
	waitDeliveries(t, ev.srv, 4)
	if hk.vulns.Sets() != 1 {
		t.Fatalf("%d vuln changes through the webhook, want 1 (vuln 4)", hk.vulns.Sets())
	}

	ev.srv.ResetCalls()
	rep, err = ev.eng.ReconcileIncoming(ctx, seq(vs), hk.vulns, nil)
	if err != nil {
		t.Fatalf("ReconcileIncoming: %v", err)
	}
	want := map[int64]engine.Outcome{1: engine.UpToDate, 2: engine.Pushed, 3: engine.Pushed, 4: engine.UpToDate, 5: engine.Skipped}
	for _, it := range rep.Items {
		if it.Outcome != want[it.Key.VulnID] {
			t.Errorf("vuln %d: %s (%s, %v), want %s", it.Key.VulnID, it.Outcome, it.Reason, it.Err, want[it.Key.VulnID])
		}
	}
	wantStatus := map[int64]faraday.Status{1: faraday.StatusOpen, 2: faraday.StatusClosed, 3: faraday.StatusRiskAccepted, 4: faraday.StatusClosed, 5: faraday.StatusOpen}
	for id, st := range wantStatus {
		if got, _ := hk.vulns.Status(ctx, faraday.VulnKey{Workspace: "acme", VulnID: id}); got != st {
			t.Errorf("vuln %d is %s, want %s", id, got, st)
		}
	}
	if n := len(ev.srv.Calls()); n != 1 {
		t.Errorf("%d SDP calls, want 1 (one page of 5 tickets)", n)
	}
	// The lost deliveries, sent again late, change nothing.
	sets := hk.vulns.Sets()
	for _, d := range ev.srv.Deliveries()[:2] {
		o := hk.h.Replay(ctx, webhook.DeadLetter{DeliveryID: "late-" + d.RequestID, TicketID: d.RequestID, SDPStatus: statusOf(t, ev, d.RequestID)})
		if o.Result != webhook.ResultUnchanged {
			t.Errorf("late delivery for ticket %s: %s/%s", d.RequestID, o.Result, o.Reason)
		}
	}
	if hk.vulns.Sets() != sets {
		t.Errorf("late deliveries changed vulns")
	}
	// A second reconcile finds nothing to do.
	rep, err = ev.eng.ReconcileIncoming(ctx, seq(vs), hk.vulns, nil)
	if err != nil || rep.Pushed != 0 {
		t.Fatalf("second reconcile: %v, %d applied", err, rep.Pushed)
	}
}

func statusOf(t *testing.T, ev *env, ticket string) string {
	r, ok := ev.srv.Request(ticket)
	if !ok {
		t.Fatalf("no ticket %s", ticket)
	}
	return r.Status.Name
}

func vulnKey(v *faraday.Vuln) faraday.VulnKey {
	return faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID}
}
