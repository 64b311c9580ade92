package engine_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// TestMandatoryFieldStopsTheRunOnce: the seed's vulnerability template
// requires a category and the CVE field; the configuration gives only the
// category. The first create is answered 4012 and the run stops there,
// once, instead of failing 200 vulns alike; the next Prepare reports the
// field as a configuration problem before any ticket is made.
func TestMandatoryFieldStopsTheRunOnce(t *testing.T) {
	logs := &testutil.SyncBuffer{}
	ev := newEnv(t, func(c *mapping.Config, e *engine.Config) {
		c.Templates[0] = mapping.Template{Name: sdptest.VulnTemplate, Fields: []mapping.Field{
			{Field: "category", Type: mapping.Dropdown, Value: []byte(`{"category": "Security", "subcategory": "Vulnerability", "item": "Network"}`)},
		}}
		e.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	ev.prepare(t)
	ctx := context.Background()
	vs := vulns(200)
	rep, err := ev.eng.Export(ctx, seq(vs), nil)
	var se *engine.SystemicError
	if !errors.As(err, &se) || !errors.Is(err, servicedesk.ErrMandatoryField) {
		t.Fatalf("Export: %v, want a *SystemicError matching ErrMandatoryField", err)
	}
	if len(se.MandatoryFields) == 0 || !strings.Contains(strings.Join(se.MandatoryFields, ","), sdptest.VulnUDF) {
		t.Fatalf("mandatory fields %v, want %s among them", se.MandatoryFields, sdptest.VulnUDF)
	}
	if !errors.Is(rep.Err, se) {
		t.Fatalf("Report.Err %v differs from the error returned", rep.Err)
	}
	posts := callCount(ev.srv, http.MethodPost, "/requests")
	if posts < 1 || posts > 4 {
		t.Fatalf("%d creates, want at most one per worker (4)", posts)
	}
	// The source is not read past the stop.
	if rep.Failed != posts || len(rep.Items) >= len(vs)/2 || rep.Created != 0 {
		t.Fatalf("failed %d, not attempted %d, created %d", rep.Failed, rep.NotAttempted, rep.Created)
	}
	if n := strings.Count(logs.String(), "\n"); n != 1 || !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("%d log lines, want the stop logged once:\n%s", n, logs.String())
	}
	// Refused creates leave no pending intent behind: the next run makes
	// no search.
	for _, v := range vs {
		if _, err := ev.links.Get(ctx, vulnKey(v)); !errors.Is(err, faraday.ErrLinkNotFound) {
			t.Fatalf("vuln %d has a link after a refused create: %v", v.ID, err)
		}
	}
	ev.srv.ResetCalls()
	err = ev.eng.Prepare(ctx)
	var ce *engine.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(ce.Error(), sdptest.VulnUDF) {
		t.Fatalf("second Prepare: %v, want a ConfigError naming %s", err, sdptest.VulnUDF)
	}
	if n := callCount(ev.srv, http.MethodPost, "/requests"); n != 0 {
		t.Fatalf("Prepare created %d tickets", n)
	}
}

// TestMixedBatch: three creates fail with a server error, one vuln cannot
// be mapped, one create's answer is lost after SDP made the ticket; the
// others land. A re-run finishes the job with exactly one ticket per vuln,
// and searches only for the vulns whose outcome was unknown.
func TestMixedBatch(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	ctx := context.Background()
	vs := vulns(30)
	vs[7].Severity = 0 // not a severity: mapping refuses it
	for _, f := range []sdptest.Fault{
		{Kind: sdptest.ServerError, Method: http.MethodPost, Path: "/requests", Status: 500, Times: 3},
		{Kind: sdptest.DropAfterCommit, Method: http.MethodPost, Path: "/requests", Times: 1},
	} {
		if err := ev.srv.AddFault(f); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := ev.eng.Export(ctx, seq(vs), nil)
	if err != nil {
		t.Fatalf("Export stopped: %v", err)
	}
	if rep.Failed != 5 || rep.Created != 25 {
		t.Fatalf("failed %d created %d, want 5 and 25", rep.Failed, rep.Created)
	}
	var unmappable int
	for _, it := range rep.Items {
		if it.Outcome == engine.Failed {
			if it.Err == nil {
				t.Fatalf("failed item %s without error", it.Key)
			}
			if errors.Is(it.Err, mapping.ErrUnmappable) {
				unmappable++
				if it.Key.VulnID != 8 {
					t.Fatalf("vuln %d unmappable", it.Key.VulnID)
				}
			}
		}
	}
	if unmappable != 1 {
		t.Fatalf("%d unmappable, want 1", unmappable)
	}
	ev.srv.ClearFaults()
	ev.srv.ResetCalls()
	vs[7].Severity = faraday.SeverityLow
	rep, err = ev.eng.Export(ctx, seq(vs), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The four whose creates may have been made are searched for; one is
	// found, three are created; the fixed vuln 8 is created without search.
	if rep.Found != 1 || rep.Created != 4 || rep.UpToDate != 25 || rep.Failed != 0 {
		t.Fatalf("re-run: found %d created %d up to date %d failed %d", rep.Found, rep.Created, rep.UpToDate, rep.Failed)
	}
	if n := searches(ev.srv); n != 4 {
		t.Fatalf("%d searches, want 4", n)
	}
	for id, n := range ticketsByTag(t, ev.srv, ev.eng.Mapper(), vs) {
		if n != 1 {
			t.Fatalf("vuln %d has %d tickets", id, n)
		}
	}
}

// TestCancelLeavesConsistentLinks cancels an export midway; every vuln
// then has either no link, a pending intent or a link to its one ticket,
// and a re-run ends with one ticket per vuln.
func TestCancelLeavesConsistentLinks(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	vs := vulns(60)
	ctx, cancel := context.WithCancel(context.Background())
	rep, err := ev.eng.Export(ctx, seq(vs), &engine.ExportOptions{Progress: func(p engine.Progress) {
		if p.Created == 20 {
			cancel()
		}
	}})
	cancel()
	if !errors.Is(err, context.Canceled) || rep.Created >= len(vs) || len(rep.Items) >= len(vs) {
		t.Fatalf("Export: %v, %d not attempted, created %d failed %d items %d", err, rep.NotAttempted, rep.Created, rep.Failed, len(rep.Items))
	}
	bg := context.Background()
	for _, v := range vs {
		l, err := ev.links.Get(bg, vulnKey(v))
		if errors.Is(err, faraday.ErrLinkNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if l.State == faraday.LinkLinked {
			if r, ok := ev.srv.Request(l.RequestID); !ok || !mapping.HasTag(r.Subject, l.Tag) {
				t.Fatalf("vuln %d linked to ticket %s which does not carry its tag", v.ID, l.RequestID)
			}
		}
	}
	if _, err := ev.eng.Export(bg, seq(vs), nil); err != nil {
		t.Fatal(err)
	}
	for id, n := range ticketsByTag(t, ev.srv, ev.eng.Mapper(), vs) {
		if n != 1 {
			t.Fatalf("vuln %d has %d tickets", id, n)
		}
	}
}

// TestReconcileOptionFindsExistingTickets: with a new link store, an SDP
// that already holds the tickets gets no duplicate.
func TestReconcileOptionFindsExistingTickets(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	ctx := context.Background()
	vs := vulns(10)
	if _, err := ev.eng.Export(ctx, seq(vs[:6]), nil); err != nil {
		t.Fatal(err)
	}
	fresh, err := engine.New(engine.Config{SDP: ev.sdp, Mapping: ev.cfg, Links: faraday.NewMemoryLinkStore()})
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	ev.srv.ResetCalls()
	rep, err := fresh.Export(ctx, seq(vs), &engine.ExportOptions{Reconcile: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Found != 6 || rep.Created != 4 {
		t.Fatalf("found %d created %d, want 6 and 4", rep.Found, rep.Created)
	}
	if n := searches(ev.srv); n != 10 {
		t.Fatalf("%d searches, want one per vuln", n)
	}
	for id, n := range ticketsByTag(t, ev.srv, ev.eng.Mapper(), vs) {
		if n != 1 {
			t.Fatalf("vuln %d has %d tickets", id, n)
		}
	}
}

// TestUnauthorizedStopsOnce: a wrong authtoken stops the run at the first
// call.
func TestUnauthorizedStopsOnce(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	bad, err := servicedesk.NewClient(ev.srv.URL(), servicedesk.WithAuthToken("wrong-token"),
		servicedesk.WithHTTPClient(ev.srv.Client()), servicedesk.WithRetry(0, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Config{SDP: bad, Mapping: ev.cfg, Links: ev.links, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Prepare(context.Background()); !errors.Is(err, servicedesk.ErrUnauthorized) {
		t.Fatalf("Prepare with a wrong token: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := engine.New(engine.Config{Concurrency: -1, Rate: 5, ClaimTimeout: -1, ClockSkew: -time.Second, PendingGrace: -time.Minute})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"SDP client is nil", "Mapping config is nil", "Links store is nil", "Concurrency -1", "Burst 0",
		"ClaimTimeout -1ns", "ClockSkew -1s", "PendingGrace -1m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
