package engine_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
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
	return withWebhookLinks(t, ev, ev.links)
}

// withWebhookLinks is withWebhook with the handler on links of its own.
func withWebhookLinks(t *testing.T, ev *env, links faraday.LinkStore) *hook {
	t.Helper()
	tokens := faraday.NewMemoryTokenStore()
	_, token, err := faraday.IssueToken(context.Background(), tokens, faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		t.Fatal(err)
	}
	hk := &hook{vulns: webhook.NewMemoryVulnStore()}
	hk.h, err = webhook.NewHandler(webhook.Config{
		Tokens: tokens, Links: links, Statuses: ev.eng.Mapper(), Vulns: hk.vulns,
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
	t.Run("memory", func(t *testing.T) {
		ev := newEnv(t, nil)
		ev.prepare(t)
		testEcho(t, ev, withWebhook(t, ev))
	})
	// The engine and the webhook each open the link file, as two
	// processes do.
	t.Run("file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "links.json")
		open := func() *faraday.FileLinkStore {
			s, err := faraday.OpenFileLinkStore(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		}
		ev := newEnv(t, func(_ *mapping.Config, c *engine.Config) { c.Links = open() })
		ev.prepare(t)
		testEcho(t, ev, withWebhookLinks(t, ev, open()))
	})
}

func testEcho(t *testing.T, ev *env, hk *hook) {
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

// TestIncomingReconcileCatchesMissedDelivery loses two webhook deliveries
// and lets the incoming reconcile apply them, once.
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

// closureRule answers every close with the error SDP gives when closure
// rules want fields filled: 4003, or 4012 as for any mandatory field
// (hand-written after the documented error table; sdptest has no closure
// rules).
func closureRule(code int) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/close") {
				w.Header().Set("Content-Type", "application/json;charset=UTF-8")
				w.WriteHeader(http.StatusBadRequest)
				_, _ = fmt.Fprintf(w, `{"response_status":{"status_code":4000,"status":"failed","messages":[`+
					`{"status_code":%d,"type":"failed","message":"Closure rule violation: following fields should be filled","fields":["resolution","closure_code"]}]}}`, code)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// TestClosureRuleReported: a close refused by a closure rule is reported
// for that vuln with the fields SDP wants, the link keeps the earlier push,
// and the other vulns' pushes go on.
func TestClosureRuleReported(t *testing.T) {
	for _, code := range []int{4003, 4012} {
		t.Run(fmt.Sprint(code), func(t *testing.T) { testClosureRule(t, code) })
	}
}

func testClosureRule(t *testing.T, code int) {
	ev := newEnvFront(t, closureRule(code), nil)
	ev.prepare(t)
	ctx := context.Background()
	vs := vulns(3)
	if _, err := ev.eng.Export(ctx, seq(vs), nil); err != nil {
		t.Fatal(err)
	}
	vs[0].Status = faraday.StatusClosed       // a close: refused
	vs[1].Status = faraday.StatusRiskAccepted // an update to On Hold
	rep, err := ev.eng.Export(ctx, seq(vs), &engine.ExportOptions{PushStatus: true})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	byID := map[int64]engine.Item{}
	for _, it := range rep.Items {
		byID[it.Key.VulnID] = it
	}
	it := byID[1]
	want := servicedesk.ErrClosureRule
	if code == 4012 {
		want = servicedesk.ErrMandatoryField
	}
	if it.Outcome != engine.Failed || !errors.Is(it.Err, want) {
		t.Fatalf("vuln 1: %s %v, want failed with %v", it.Outcome, it.Err, want)
	}
	for _, f := range []string{"resolution", "closure_code", "Closure rule violation"} {
		if !strings.Contains(it.Err.Error(), f) {
			t.Errorf("error %q does not name %q", it.Err, f)
		}
	}
	if byID[2].Outcome != engine.Pushed || byID[2].Status != "On Hold" || byID[3].Outcome != engine.UpToDate {
		t.Fatalf("vulns 2 and 3: %+v %+v", byID[2], byID[3])
	}
	l, err := ev.links.Get(ctx, vulnKey(vs[0]))
	if err != nil || l.LastPushedStatus != "Open" || !l.EchoConsumed {
		t.Fatalf("link of vuln 1 after the refused close: %+v %v, want the creation's push kept", l.ServiceDeskEntry, err)
	}
	if r, _ := ev.srv.Request(byID[2].TicketID); r.Status.Name != "On Hold" {
		t.Fatalf("ticket of vuln 2 is %q", r.Status.Name)
	}
}

// TestIncomingReconcileResendsLostPush: a close whose every attempt met a
// gateway error may or may not have been applied, so the link keeps the
// push; the ticket, not updated since, still says Open. The incoming
// reconcile must not take that Open for a change made in SDP (that would
// re-open the vuln): it sends the close again, and its echo changes
// nothing.
func TestIncomingReconcileResendsLostPush(t *testing.T) {
	// ServiceDesk's clock runs a minute behind ours: the ticket's last
	// update is well before the push even by the skew's measure.
	ev := newEnv(t, nil, sdptest.WithClock(func() time.Time { return time.Now().Add(-time.Minute) }))
	ev.prepare(t)
	hk := withWebhook(t, ev)
	ctx := context.Background()
	v := vuln(1, faraday.SeverityMedium)
	key := vulnKey(v)
	hk.vulns.Put(key, v.Status)
	rep, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ticket := rep.Items[0].TicketID
	if err := ev.srv.AddFault(sdptest.Fault{Kind: sdptest.ServerError, Status: 502, Method: http.MethodPut, Path: "/requests/*/close"}); err != nil {
		t.Fatal(err)
	}
	v.Status = faraday.StatusClosed
	hk.vulns.Put(key, v.Status)
	rep, err = ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), &engine.ExportOptions{PushStatus: true})
	if err != nil || rep.Failed != 1 {
		t.Fatalf("push through a failing gateway: %v %+v", err, rep.Items)
	}
	if l, _ := ev.links.Get(ctx, key); l.LastPushedStatus != "Closed" {
		t.Fatalf("the uncertain push was not kept in the link: %+v", l.ServiceDeskEntry)
	}
	ev.srv.ClearFaults()
	rep, err = ev.eng.ReconcileIncoming(ctx, seq([]*faraday.Vuln{v}), hk.vulns, nil)
	if err != nil || rep.Pushed != 1 || rep.Items[0].Status != "Closed" {
		t.Fatalf("reconcile: %v %+v", err, rep.Items)
	}
	if r, _ := ev.srv.Request(ticket); r.Status.Name != "Closed" {
		t.Fatalf("ticket is %q, want Closed", r.Status.Name)
	}
	waitDeliveries(t, ev.srv, 1)
	if st, _ := hk.vulns.Status(ctx, key); st != faraday.StatusClosed || hk.vulns.Sets() != 0 {
		t.Fatalf("vuln %s after %d sets", st, hk.vulns.Sets())
	}
	if outs := hk.outcomes(); len(outs) != 1 || outs[0].Reason != webhook.ReasonEcho {
		t.Fatalf("webhook outcomes %+v, want one echo", outs)
	}
}

// TestIncomingReconcileAmbiguousChange: the ticket was last touched
// within the clock skew of a push it does not show; the reconcile cannot
// tell a lost push from a technician's change made right after it, so it
// changes nothing on either side and says so.
func TestIncomingReconcileAmbiguousChange(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	ctx := context.Background()
	v := vuln(1, faraday.SeverityMedium)
	rep, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ticket := rep.Items[0].TicketID
	v.Status = faraday.StatusRiskAccepted
	if _, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), &engine.ExportOptions{PushStatus: true}); err != nil {
		t.Fatal(err)
	}
	if err := ev.srv.SetStatus(ticket, "Open"); err != nil { // at once, within the skew
		t.Fatal(err)
	}
	vst := webhook.NewMemoryVulnStore()
	vst.Put(vulnKey(v), v.Status)
	ev.srv.ResetCalls()
	rep, err = ev.eng.ReconcileIncoming(ctx, seq([]*faraday.Vuln{v}), vst, nil)
	if err != nil || rep.Failed != 1 || !errors.Is(rep.Items[0].Err, engine.ErrAmbiguousChange) {
		t.Fatalf("reconcile: %v %+v", err, rep.Items)
	}
	if vst.Sets() != 0 || statusOf(t, ev, ticket) != "Open" {
		t.Fatalf("something changed: %d sets, ticket %q", vst.Sets(), statusOf(t, ev, ticket))
	}
	if n := callCount(ev.srv, http.MethodGet, "/requests/"+ticket); n != 1 {
		t.Fatalf("%d reads of the ticket, want one (its last-updated time)", n)
	}
}

// TestIncomingReconcileLostPushOvertaken: the lost close was overtaken in
// Faraday (the vuln re-opened), so the ticket's Open is right after all:
// nothing is sent, and the link learns the ticket's status.
func TestIncomingReconcileLostPushOvertaken(t *testing.T) {
	ev := newEnv(t, nil, sdptest.WithClock(func() time.Time { return time.Now().Add(-time.Minute) }))
	ev.prepare(t)
	ctx := context.Background()
	v := vuln(1, faraday.SeverityMedium)
	if _, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), nil); err != nil {
		t.Fatal(err)
	}
	if err := ev.srv.AddFault(sdptest.Fault{Kind: sdptest.ServerError, Status: 504, Method: http.MethodPut, Path: "/requests/*/close"}); err != nil {
		t.Fatal(err)
	}
	v.Status = faraday.StatusClosed
	if _, err := ev.eng.Export(ctx, seq([]*faraday.Vuln{v}), &engine.ExportOptions{PushStatus: true}); err != nil {
		t.Fatal(err)
	}
	ev.srv.ClearFaults()
	vst := webhook.NewMemoryVulnStore()
	vst.Put(vulnKey(v), faraday.StatusReopened)
	ev.srv.ResetCalls()
	rep, err := ev.eng.ReconcileIncoming(ctx, seq([]*faraday.Vuln{v}), vst, nil)
	if err != nil || rep.UpToDate != 1 || vst.Sets() != 0 {
		t.Fatalf("reconcile: %v %+v, %d sets", err, rep.Items, vst.Sets())
	}
	if n := callCount(ev.srv, http.MethodPut, "/requests/"); n != 0 {
		t.Fatalf("%d writes to the ticket, want none", n)
	}
	if l, _ := ev.links.Get(ctx, vulnKey(v)); l.LastPushedStatus != "Open" || !l.EchoConsumed {
		t.Fatalf("link %+v, want the ticket's Open recorded", l.ServiceDeskEntry)
	}
	ev.srv.ResetCalls()
	if rep, err := ev.eng.ReconcileIncoming(ctx, seq([]*faraday.Vuln{v}), vst, nil); err != nil || rep.UpToDate != 1 || len(ev.srv.Calls()) != 1 {
		t.Fatalf("second reconcile: %v, %d calls", err, len(ev.srv.Calls()))
	}
}

// TestIncomingReconcileEdges: vulns without a ticket or with an unfinished
// one are skipped, a ticket SDP no longer has fails its vuln alone, and a
// page SDP cannot serve fails its vulns without stopping the run.
func TestIncomingReconcileEdges(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	ctx := context.Background()
	vs := vulns(4)
	if _, err := ev.eng.Export(ctx, seq(vs[:2]), nil); err != nil {
		t.Fatal(err)
	}
	tag, _ := ev.eng.Mapper().Tag("acme", 3)
	if _, err := ev.links.CompareAndSet(ctx, faraday.Link{Key: vulnKey(vs[2]), ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkPending, Tag: tag}}, 0); err != nil {
		t.Fatal(err)
	}
	// Vuln 2's link points at a ticket SDP does not have.
	if _, err := faraday.UpdateLink(ctx, ev.links, vulnKey(vs[1]), 0, func(l *faraday.Link) error { l.RequestID = "999999"; return nil }); err != nil {
		t.Fatal(err)
	}
	vst := webhook.NewMemoryVulnStore()
	for _, v := range vs {
		vst.Put(vulnKey(v), v.Status)
	}
	rep, err := ev.eng.ReconcileIncoming(ctx, seq(vs), vst, &engine.ReconcileOptions{Total: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]engine.Outcome{1: engine.UpToDate, 2: engine.Failed, 3: engine.Skipped, 4: engine.Skipped}
	for _, it := range rep.Items {
		if it.Outcome != want[it.Key.VulnID] {
			t.Errorf("vuln %d: %s (%s %v), want %s", it.Key.VulnID, it.Outcome, it.Reason, it.Err, want[it.Key.VulnID])
		}
		if it.Key.VulnID == 2 && !errors.Is(it.Err, servicedesk.ErrNotFound) {
			t.Errorf("vuln 2: %v, want ErrNotFound", it.Err)
		}
	}
	if err := ev.srv.AddFault(sdptest.Fault{Kind: sdptest.ServerError, Status: 503, Method: http.MethodGet, Path: "/requests"}); err != nil {
		t.Fatal(err)
	}
	rep, err = ev.eng.ReconcileIncoming(ctx, seq(vs), vst, nil)
	if err != nil || rep.Failed != 2 || rep.Skipped != 2 {
		t.Fatalf("with SDP failing: %v, failed %d skipped %d", err, rep.Failed, rep.Skipped)
	}
}
