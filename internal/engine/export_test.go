package engine_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) == "1" {
		os.Exit(crashChild())
	}
	goleak.VerifyTestMain(m)
}

func TestExportCreatesOneTicketPerVulnAndLinksIt(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	ctx := context.Background()
	vs := vulns(12)
	// Two vulns are left out: one unconfirmed, one closed.
	vs[3].Confirmed = false
	vs[4].Status = faraday.StatusClosed
	var last engine.Progress
	calls := 0
	rep, err := ev.eng.Export(ctx, seq(vs), &engine.ExportOptions{Total: len(vs), Progress: func(p engine.Progress) { calls++; last = p }})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if rep.Created != 10 || rep.Skipped != 2 || rep.Failed != 0 || len(rep.Items) != 12 {
		t.Fatalf("report: created %d skipped %d failed %d items %d, want 10 2 0 12", rep.Created, rep.Skipped, rep.Failed, len(rep.Items))
	}
	if calls != 12 || last.Done != 12 || last.Total != 12 || last.Created != 10 || last.Skipped != 2 {
		t.Fatalf("progress: %d calls, last %+v", calls, last)
	}
	if n := callCount(ev.srv, http.MethodPost, "/requests"); n != 10 {
		t.Fatalf("%d creates, want 10 (one SDP call per new vuln)", n)
	}
	if n := searches(ev.srv); n != 0 {
		t.Fatalf("%d searches on a clean run, want 0", n)
	}
	m := ev.eng.Mapper()
	for _, it := range rep.Items {
		if it.Outcome != engine.Created {
			continue
		}
		if it.Err != nil {
			t.Fatalf("created %s with %v", it.Key, it.Err)
		}
		l, err := ev.links.Get(ctx, it.Key)
		if err != nil {
			t.Fatalf("link of %s: %v", it.Key, err)
		}
		if l.State != faraday.LinkLinked || l.RequestID != it.TicketID || l.URL == "" || l.URL != it.URL {
			t.Fatalf("link of %s: %+v, item %+v", it.Key, l, it)
		}
		req, ok := ev.srv.Request(l.RequestID)
		if !ok {
			t.Fatalf("ticket %s of %s not in SDP", l.RequestID, it.Key)
		}
		tag, _ := m.Tag(it.Key.Workspace, it.Key.VulnID)
		if l.Tag != tag || !mapping.HasTag(req.Subject, tag) {
			t.Fatalf("ticket subject %q, link tag %q, want tag %q", req.Subject, l.Tag, tag)
		}
		if req.Requester == nil || req.Requester.Name != "Dana Reyes" {
			t.Fatalf("requester %+v, want Dana Reyes (login dreyes)", req.Requester)
		}
		ref, ok := mapping.ParseReference(req.Description)
		if !ok || ref.Workspace != "acme" || ref.VulnID != it.Key.VulnID {
			t.Fatalf("footer reference %+v %v of %s", ref, ok, it.Key)
		}
		v := vs[it.Key.VulnID-1]
		wantPrio, _ := m.Priority(v.Severity)
		if req.Priority == nil || req.Priority.Name != wantPrio {
			t.Fatalf("priority %+v for %s, want %s", req.Priority, v.Severity, wantPrio)
		}
		if req.Group == nil || req.Group.Name != "Security Team" {
			t.Fatalf("group %+v", req.Group)
		}
	}
	for _, id := range []int64{4, 5} {
		if _, err := ev.links.Get(ctx, faraday.VulnKey{Workspace: "acme", VulnID: id}); !errors.Is(err, faraday.ErrLinkNotFound) {
			t.Fatalf("skipped vuln %d has a link: %v", id, err)
		}
	}
}

func TestExportRerunCreatesNothingAndSearchesNothing(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	ctx := context.Background()
	vs := vulns(20)
	if _, err := ev.eng.Export(ctx, seq(vs), nil); err != nil {
		t.Fatal(err)
	}
	ev.srv.ResetCalls()
	rep, err := ev.eng.Export(ctx, seq(vs), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.UpToDate != 20 || rep.Created != 0 {
		t.Fatalf("re-run: up to date %d created %d, want 20 0", rep.UpToDate, rep.Created)
	}
	if calls := ev.srv.Calls(); len(calls) != 0 {
		t.Fatalf("re-run made %d SDP calls (first %s %s), want none", len(calls), calls[0].Method, calls[0].Path)
	}
	for id, n := range ticketsByTag(t, ev.srv, ev.eng.Mapper(), vs) {
		if n != 1 {
			t.Fatalf("vuln %d has %d tickets", id, n)
		}
	}
}

func TestExportSelection(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	vs := vulns(12) // severities cycle critical, high, medium, low, info, unclassified
	vs[0].Status = faraday.StatusRiskAccepted
	rep, err := ev.eng.Export(context.Background(), seq(vs), &engine.ExportOptions{
		IDs:         []int64{1, 2, 3, 4, 7, 8, 9},
		MinSeverity: faraday.SeverityMedium,
		Statuses:    []faraday.Status{faraday.StatusOpen, faraday.StatusRiskAccepted},
	})
	if err != nil {
		t.Fatal(err)
	}
	var created []int64
	for _, it := range rep.Items {
		if it.Outcome == engine.Created {
			created = append(created, it.Key.VulnID)
		}
	}
	// 1 (critical, risk-accepted and selected), 2, 3, 7, 8, 9; 4 is low.
	want := map[int64]bool{1: true, 2: true, 3: true, 7: true, 8: true, 9: true}
	if len(created) != len(want) {
		t.Fatalf("created %v, want %v", created, want)
	}
	for _, id := range created {
		if !want[id] {
			t.Fatalf("created %v, want %v", created, want)
		}
	}
}

func TestPrepareReportsConfigProblemsOnceBeforeAnyTicket(t *testing.T) {
	ev := newEnv(t, func(c *mapping.Config, _ *engine.Config) {
		c.Priorities["critical"] = "Critical"
		c.Outgoing["closed"] = "Close"
		c.Templates[0].Fields[0].Value = []byte(`"Securty Team"`)
	})
	err := ev.eng.Prepare(context.Background())
	var ce *engine.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("Prepare: %v, want a *ConfigError", err)
	}
	got := map[string]string{}
	for _, p := range ce.Problems {
		got[p.Path] = p.Suggestion
	}
	want := map[string]string{"priorities.critical": "Urgent", "outgoing.closed": "Closed", "templates[0].fields[0].value": "Security Team"}
	for path, sug := range want {
		if got[path] != sug {
			t.Errorf("problem at %s: suggestion %q, want %q (all: %v)", path, got[path], sug, ce.Problems)
		}
	}
	if !errors.Is(err, mapping.ErrInvalidConfig) {
		t.Errorf("ConfigError does not match mapping.ErrInvalidConfig")
	}
	if _, err := ev.eng.Export(context.Background(), seq(vulns(3)), nil); !errors.Is(err, engine.ErrNotPrepared) {
		t.Fatalf("Export before a successful Prepare: %v", err)
	}
	if n := callCount(ev.srv, http.MethodPost, "/requests"); n != 0 {
		t.Fatalf("%d creates", n)
	}
}

func TestPrepareRequester(t *testing.T) {
	for _, tc := range []struct {
		name, login string
		want        string
	}{
		{"unknown", "nobody-here", "no ServiceDesk user"},
		{"ambiguous", sdptest.SharedUserName, "names 2 ServiceDesk users"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := newEnv(t, func(c *mapping.Config, _ *engine.Config) { c.Requester.LoginName = tc.login })
			err := ev.eng.Prepare(context.Background())
			var ce *engine.ConfigError
			if !errors.As(err, &ce) || len(ce.Problems.At("requester.login_name")) != 1 {
				t.Fatalf("Prepare: %v", err)
			}
			if msg := ce.Problems.At("requester.login_name")[0].Message; !strings.Contains(msg, tc.want) {
				t.Fatalf("message %q, want it to contain %q", msg, tc.want)
			}
		})
	}
	ev := newEnv(t, nil)
	ev.prepare(t)
	id, ok := ev.srv.ID("user", "dreyes")
	if !ok || string(ev.eng.RequesterID()) != id {
		t.Fatalf("requester id %q, want %q", ev.eng.RequesterID(), id)
	}

	// By id: checked to exist.
	ev = newEnv(t, func(c *mapping.Config, _ *engine.Config) { c.Requester = mapping.Requester{ID: id} })
	ev.prepare(t)
	if string(ev.eng.RequesterID()) != id {
		t.Fatalf("requester id %q, want %q", ev.eng.RequesterID(), id)
	}
	ev = newEnv(t, func(c *mapping.Config, _ *engine.Config) { c.Requester = mapping.Requester{ID: "987654"} })
	err := ev.eng.Prepare(context.Background())
	var ce *engine.ConfigError
	if !errors.As(err, &ce) || len(ce.Problems.At("requester.id")) != 1 {
		t.Fatalf("Prepare with an unknown requester id: %v", err)
	}
}

func TestPrepareCatalogAndWarnings(t *testing.T) {
	ev := newEnv(t, func(c *mapping.Config, _ *engine.Config) {
		c.Templates[0].Fields = append(c.Templates[0].Fields,
			mapping.Field{Field: "category", Type: mapping.Dropdown, Value: []byte(`{"category": "Security", "subcategory": "Vulnerability", "item": "Host"}`)})
	})
	ev.prepare(t)
	cat := ev.eng.Catalog()
	want := []string{"Low", "Medium", "High", "Urgent"}
	if strings.Join(cat.Priorities, ",") != strings.Join(want, ",") {
		t.Fatalf("priorities %v, want %v", cat.Priorities, want)
	}
	var items []string
	for _, c := range cat.Categories {
		for _, s := range c.Subcategories {
			if c.Name == "Security" && s.Name == "Vulnerability" {
				items = s.Items
			}
		}
	}
	if strings.Join(items, ",") != "Web Application,Network,Host" {
		t.Fatalf("items of Security > Vulnerability: %v", items)
	}
	if got := strings.Join(cat.Options["urgency"], ","); got != "Low,Normal,High,Urgent" || len(ev.eng.Warnings()) != 0 {
		t.Fatalf("urgency options %q, warnings %q", got, ev.eng.Warnings())
	}
	rep, err := ev.eng.Export(context.Background(), seq(vulns(1)), nil)
	if err != nil || rep.Created != 1 {
		t.Fatalf("export: %v", err)
	}
	if r, _ := ev.srv.Request(rep.Items[0].TicketID); r.Item == nil || r.Item.Name != "Host" || r.Urgency == nil || r.Urgency.Name != "High" {
		t.Fatalf("ticket item %+v urgency %+v", r.Item, r.Urgency)
	}

	// A dropdown whose options the API does not list: no dropdown value
	// is checked, and the engine says so.
	ev = newEnv(t, func(c *mapping.Config, _ *engine.Config) {
		c.Templates[0].Fields = append(c.Templates[0].Fields,
			mapping.Field{Field: "udf_fields." + sdptest.VulnUDF, Type: mapping.Dropdown, Value: []byte(`"P1"`)})
	})
	ev.prepare(t)
	if w := ev.eng.Warnings(); len(w) != 1 || !strings.Contains(w[0], sdptest.VulnUDF) || ev.eng.Catalog().Options != nil {
		t.Fatalf("warnings %q, options %v", w, ev.eng.Catalog().Options)
	}
}

func TestExportRejectsBadOptions(t *testing.T) {
	ev := newEnv(t, nil)
	ev.prepare(t)
	_, err := ev.eng.Export(context.Background(), seq(vulns(1)), &engine.ExportOptions{
		MinSeverity: 9, Statuses: []faraday.Status{faraday.StatusOpen, 0}, IDs: []int64{3, -1}, Total: -2,
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"MinSeverity 9", "Statuses[1] 0", "IDs[1] -1", "Total -2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if n := callCount(ev.srv, http.MethodPost, "/requests"); n != 0 {
		t.Fatalf("%d creates", n)
	}
}
