package engine_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/webhook"
)

// fakeFaraday starts a faradaytest server with workspace acme holding
// vulns(n) (vuln 3 unconfirmed) and returns a client of it.
func fakeFaraday(t *testing.T, n int) (*faradaytest.Server, *faraday.Client) {
	t.Helper()
	fs := faradaytest.NewServer(faradaytest.WithToken("jwt-for-tests"))
	t.Cleanup(fs.Close)
	if err := fs.AddWorkspace(faraday.Workspace{Name: "acme", Active: true}); err != nil {
		t.Fatal(err)
	}
	for _, v := range vulns(n) {
		if v.ID == 3 {
			v.Confirmed = false
		}
		if _, err := fs.AddVuln("acme", *v); err != nil {
			t.Fatal(err)
		}
	}
	fc, err := faraday.NewClient(fs.URL(), faraday.WithToken("jwt-for-tests"),
		faraday.WithRetry(1, time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fc.CloseIdleConnections)
	return fs, fc
}

// TestExportFromFaradayAndReconcileIntoIt takes the vulns from a fake
// Faraday through its REST client, page by page, exports them, and applies
// a missed ticket change back through the REST API.
func TestExportFromFaradayAndReconcileIntoIt(t *testing.T) {
	fs, fc := fakeFaraday(t, 25)
	ev := newEnv(t, nil)
	ev.prepare(t)
	ctx := context.Background()
	source := fc.Vulns.All(ctx, "acme", &faraday.ListVulnsOptions{PageSize: 10})
	rep, err := ev.eng.Export(ctx, source, nil)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if rep.Created != 24 || rep.Skipped != 1 {
		t.Fatalf("created %d skipped %d, want 24 and 1 (vuln 3 is not confirmed)", rep.Created, rep.Skipped)
	}
	var ticket string
	for _, it := range rep.Items {
		if it.Key.VulnID == 7 {
			ticket = it.TicketID
		}
	}
	if err := ev.srv.SetStatus(ticket, "Closed"); err != nil { // no webhook: the delivery is missed
		t.Fatal(err)
	}
	statuses, err := webhook.NewClientVulnStore(fc)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = ev.eng.ReconcileIncoming(ctx, fc.Vulns.All(ctx, "acme", &faraday.ListVulnsOptions{Confirmed: faraday.Ptr(true)}), statuses, nil)
	if err != nil {
		t.Fatalf("ReconcileIncoming: %v", err)
	}
	if rep.Pushed != 1 || rep.UpToDate != 23 {
		t.Fatalf("applied %d, up to date %d, want 1 and 23", rep.Pushed, rep.UpToDate)
	}
	if v, _ := fs.Vuln("acme", 7); v.Status != faraday.StatusClosed {
		t.Fatalf("vuln 7 in Faraday is %s, want closed", v.Status)
	}
}

// TestSourceFailureIsTheRunsError: a Faraday list that fails after the
// first page makes the run's error, after the first page was exported.
func TestSourceFailureIsTheRunsError(t *testing.T) {
	fs, fc := fakeFaraday(t, 25)
	ev := newEnv(t, nil)
	ev.prepare(t)
	// The first page is served, the second refused.
	source := func(yield func(*faraday.Vuln, error) bool) {
		first := true
		for v, err := range fc.Vulns.All(context.Background(), "acme", &faraday.ListVulnsOptions{PageSize: 10}) {
			if !yield(v, err) {
				return
			}
			if first && err == nil {
				first = false
				fs.Fail("GET", "/_api/v3/ws/acme/vulns", 403, 1)
			}
		}
	}
	rep, err := ev.eng.Export(context.Background(), source, nil)
	if err == nil || !errors.Is(err, faraday.ErrForbidden) || !errors.Is(rep.Err, faraday.ErrForbidden) {
		t.Fatalf("Export: %v, want the source's 403", err)
	}
	// The server lists confirmed vulns first: the first page holds 10.
	if rep.Created != 10 || rep.Failed != 1 {
		t.Fatalf("created %d failed %d, want the first page's 10 and the source's failure", rep.Created, rep.Failed)
	}
	var se *engine.SystemicError
	if errors.As(err, &se) {
		t.Fatalf("a source failure is not a systemic SDP failure: %v", err)
	}
}

// TestExportFromCSV exports Faraday's CSV export: malformed rows and a
// record with an unknown severity are reported, the others land.
func TestExportFromCSV(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	f, err := os.Open("testdata/export.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	rd, err := faraday.NewExportReader(f, faraday.WithExportWorkspace("acme"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := ev.eng.Export(context.Background(), engine.FromExport(rd.All()), nil)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	got := map[int64]engine.Outcome{}
	var rowErrs int
	for _, it := range rep.Items {
		if it.Key.VulnID == 0 {
			var re *faraday.RowError
			if !errors.As(it.Err, &re) {
				t.Fatalf("source item error %v, want a *faraday.RowError", it.Err)
			}
			rowErrs++
			continue
		}
		got[it.Key.VulnID] = it.Outcome
	}
	want := map[int64]engine.Outcome{11: engine.Created, 12: engine.Created, 14: engine.Skipped, 16: engine.Created}
	if rowErrs != 2 || len(got) != len(want) {
		t.Fatalf("%d row errors, outcomes %v; want 2 (rows 13 and 15) and %v", rowErrs, got, want)
	}
	for id, o := range want {
		if got[id] != o {
			t.Errorf("vuln %d: %s, want %s", id, got[id], o)
		}
	}
	for _, it := range rep.Items {
		if it.Key.VulnID == 11 {
			r, _ := ev.srv.Request(it.TicketID)
			if !strings.Contains(r.Description, "OpenSSL 1.0.2, which<br>is out of support") {
				t.Fatalf("multi-line CSV field not kept with its line break: %q", r.Description)
			}
		}
	}
}
