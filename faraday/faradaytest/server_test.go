package faradaytest_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seeded starts a server with workspace "acme" holding n vulns: ids 1..n,
// severities cycling through the six, every third unconfirmed, even ids
// web vulns on service 9.
func seeded(t *testing.T, n int, opts ...faradaytest.Option) *faradaytest.Server {
	t.Helper()
	srv := faradaytest.NewServer(opts...)
	t.Cleanup(srv.Close)
	if err := srv.AddWorkspace(faraday.Workspace{Name: "acme", Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddWorkspace(faraday.Workspace{Name: "frozen", ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	sevs := faraday.Severities()
	for i := 1; i <= n; i++ {
		v := faraday.Vuln{
			Name: fmt.Sprintf("vuln %02d", i), Desc: fmt.Sprintf("description of vuln %d", i),
			Severity: sevs[i%len(sevs)], Confirmed: i%3 != 0, Target: fmt.Sprintf("10.0.0.%d", i),
			Date: faraday.NewTime(time.Date(2026, 1, 1, 0, i, 0, 0, time.UTC)),
		}
		if i%2 == 0 {
			v.Type = faraday.TypeVulnerabilityWeb
			v.Service = &faraday.Service{ID: 9, Port: 443, Protocol: "tcp", Name: "https", Status: "open"}
		}
		id, err := srv.AddVuln("acme", v)
		if err != nil || id != int64(i) {
			t.Fatalf("AddVuln = %d, %v", id, err)
		}
	}
	return srv
}

func client(t *testing.T, srv *faradaytest.Server, opts ...faraday.Option) *faraday.Client {
	t.Helper()
	c, err := faraday.NewClient(srv.URL(), append([]faraday.Option{faraday.WithRetry(1, time.Millisecond, time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func TestAuth(t *testing.T) {
	srv := seeded(t, 1, faradaytest.WithToken("tok"), faradaytest.WithUser("alice", "pw"))
	for name, h := range map[string]string{
		"none": "", "wrong token": "Token nope", "bearer": "Bearer tok", "no space": "Tokentok",
		"wrong password": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:x")),
		"bad base64":     "Basic !!!",
	} {
		req := httptest.NewRequest("GET", "/_api/v3/ws", nil)
		if h != "" {
			req.Header.Set("Authorization", h)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s: %d", name, rec.Code)
		}
	}
	for name, opt := range map[string]faraday.Option{"token": faraday.WithToken("tok"), "basic": faraday.WithBasicAuth("alice", "pw")} {
		if _, err := client(t, srv, opt).Workspaces.List(context.Background()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The type is compared without case, as Faraday does.
	req := httptest.NewRequest("GET", "/_api/v3/ws", nil)
	req.Header.Set("Authorization", "token tok")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("lower-case type: %d", rec.Code)
	}
	_, err := client(t, srv, faraday.WithToken("bad")).Workspaces.List(context.Background())
	if !errors.Is(err, faraday.ErrUnauthorized) {
		t.Errorf("bad token: %v", err)
	}
}

func TestListFiltersAndPages(t *testing.T) {
	srv := seeded(t, 12)
	c := client(t, srv)
	ctx := context.Background()
	page, err := c.Vulns.List(ctx, "acme", &faraday.ListVulnsOptions{Confirmed: faraday.Ptr(true), Type: faraday.TypeVulnerabilityWeb, Sort: "id"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, v := range page.Vulns {
		ids = append(ids, v.ID)
	}
	if fmt.Sprint(ids) != "[2 4 8 10]" || page.Count != 4 {
		t.Errorf("confirmed web ids = %v, count %d", ids, page.Count)
	}
	page, err = c.Vulns.List(ctx, "acme", &faraday.ListVulnsOptions{Severity: faraday.SeverityMedium, Search: "VULN 0"})
	if err != nil || page.Count != 2 || page.Vulns[0].Severity != faraday.SeverityMedium {
		t.Errorf("medium = %+v, %v", page, err)
	}
	// Pages of 5 in id order, descending.
	page, err = c.Vulns.List(ctx, "acme", &faraday.ListVulnsOptions{Page: 2, PageSize: 5, Sort: "id", SortDir: faraday.SortDesc})
	if err != nil || page.Count != 12 || len(page.Vulns) != 5 || page.Vulns[0].ID != 7 || page.Vulns[4].ID != 3 {
		t.Errorf("page 2 = %+v, %v", page, err)
	}
	var all []int64
	for v, err := range c.Vulns.All(ctx, "acme", &faraday.ListVulnsOptions{PageSize: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, v.ID)
	}
	if len(all) != 12 {
		t.Errorf("All gave %v", all)
	}
	// Default order: confirmed first, then severity ascending.
	page, _ = c.Vulns.List(ctx, "acme", nil)
	for i := 1; i < len(page.Vulns); i++ {
		a, b := page.Vulns[i-1], page.Vulns[i]
		if a.Confirmed == b.Confirmed && a.Severity > b.Severity || !a.Confirmed && b.Confirmed {
			t.Errorf("default order broken at %d: %v/%v then %v/%v", i, a.Confirmed, a.Severity, b.Confirmed, b.Severity)
		}
	}
	if _, err := c.Vulns.List(ctx, "nope", nil); !errors.Is(err, faraday.ErrNotFound) {
		t.Errorf("unknown workspace: %v", err)
	}
}

func TestFilter(t *testing.T) {
	srv := seeded(t, 12)
	c := client(t, srv)
	ctx := context.Background()
	page, err := c.Vulns.Filter(ctx, "acme", faraday.FilterQuery{
		Filters: []faraday.Filter{
			{Or: []faraday.Filter{
				{Name: "severity", Op: "in", Val: []string{"critical", "high"}},
				{Name: "name", Op: "ilike", Val: "%VULN 1_"},
			}},
			{Name: "id", Op: ">=", Val: 2},
		},
		OrderBy: []faraday.Order{{Field: "id", Direction: faraday.SortDesc}},
		Limit:   3, Offset: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, v := range page.Vulns {
		ids = append(ids, v.ID)
		if v.Desc != "" || v.Description != "" {
			t.Errorf("filter answer holds the description of %d", v.ID)
		}
	}
	// Severities() runs from critical down, so id i has sevs[i%6]: high for
	// 1 and 7, critical for 6 and 12; names "vuln 10".."vuln 12" match the
	// pattern. With id >= 2: {6, 7, 10, 11, 12}; descending, offset 1,
	// limit 3.
	if fmt.Sprint(ids) != "[11 10 7]" || page.Count != 5 {
		t.Errorf("ids = %v count %d", ids, page.Count)
	}
	// API short forms are not database values.
	_, err = c.Vulns.Filter(ctx, "acme", faraday.FilterQuery{Filters: []faraday.Filter{{Name: "severity", Op: "eq", Val: "med"}}})
	if !errors.Is(err, faraday.ErrBadRequest) {
		t.Errorf("med in a filter: %v", err)
	}
	_, err = c.Vulns.Filter(ctx, "acme", faraday.FilterQuery{Filters: []faraday.Filter{{Name: "nope", Op: "eq", Val: 1}}})
	if !errors.Is(err, faraday.ErrBadRequest) {
		t.Errorf("unknown field: %v", err)
	}
}

func TestUpdatesAndReadOnly(t *testing.T) {
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	srv := seeded(t, 3, faradaytest.WithClock(func() time.Time { return at }))
	c := client(t, srv)
	ctx := context.Background()
	v, err := c.Vulns.UpdateStatus(ctx, "acme", 2, faraday.StatusRiskAccepted)
	if err != nil || v.Status != faraday.StatusRiskAccepted || !v.UpdateDate.Equal(at) {
		t.Fatalf("patch = %+v, %v", v, err)
	}
	if got, _ := srv.Vuln("acme", 2); got.Status != faraday.StatusRiskAccepted {
		t.Errorf("stored status %v", got.Status)
	}
	if _, err := c.Vulns.UpdateStatus(ctx, "acme", 99, faraday.StatusClosed); !errors.Is(err, faraday.ErrNotFound) {
		t.Errorf("unknown vuln: %v", err)
	}
	n, err := c.Vulns.BulkUpdateStatus(ctx, "acme", []int64{1, 3, 3, 77}, faraday.StatusClosed)
	if err != nil || n != 2 {
		t.Errorf("bulk = %d, %v", n, err)
	}
	_, err = c.Vulns.BulkUpdateStatus(ctx, "frozen", []int64{1}, faraday.StatusClosed)
	if !errors.Is(err, faraday.ErrReadOnlyWorkspace) {
		t.Errorf("read-only bulk: %v", err)
	}
	if err := srv.SetReadOnly("acme", true); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Vulns.UpdateStatus(ctx, "acme", 1, faraday.StatusOpen); !errors.Is(err, faraday.ErrReadOnlyWorkspace) {
		t.Errorf("read-only patch: %v", err)
	}
	if got, _ := srv.Vuln("acme", 1); got.Status != faraday.StatusClosed {
		t.Errorf("read-only workspace changed: %v", got.Status)
	}
}

// TestBulkIDsMustBeIntegers: like Faraday, ids that are not JSON integers
// are dropped.
func TestBulkIDsMustBeIntegers(t *testing.T) {
	srv := seeded(t, 3)
	body := `{"ids": [1, "2", 3.0], "status": "closed"}`
	req := httptest.NewRequest("PATCH", "/_api/v3/ws/acme/vulns", strings.NewReader(body))
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	out, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || strings.TrimSpace(string(out)) != `{"updated":1}` {
		t.Errorf("answer %d %s", rec.Code, out)
	}
	for id, want := range map[int64]faraday.Status{1: faraday.StatusClosed, 2: faraday.StatusOpen, 3: faraday.StatusOpen} {
		if v, _ := srv.Vuln("acme", id); v.Status != want {
			t.Errorf("vuln %d: %v", id, v.Status)
		}
	}
	req = httptest.NewRequest("PATCH", "/_api/v3/ws/acme/vulns", strings.NewReader(`{"status": "closed"}`))
	rec = httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 400 {
		t.Errorf("no ids: %d", rec.Code)
	}
}

func TestSeedingErrors(t *testing.T) {
	srv := faradaytest.NewServer()
	defer srv.Close()
	if err := srv.AddWorkspace(faraday.Workspace{}); err == nil {
		t.Error("empty workspace name accepted")
	}
	if err := srv.AddWorkspace(faraday.Workspace{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddWorkspace(faraday.Workspace{Name: "a"}); err == nil {
		t.Error("duplicate workspace accepted")
	}
	for name, v := range map[string]faraday.Vuln{"no name": {Severity: faraday.SeverityLow}, "no severity": {Name: "x"}} {
		if _, err := srv.AddVuln("a", v); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := srv.AddVuln("b", faraday.Vuln{Name: "x", Severity: faraday.SeverityLow}); err == nil {
		t.Error("unknown workspace accepted")
	}
	if _, err := srv.AddVuln("a", faraday.Vuln{ID: 5, Name: "x", Severity: faraday.SeverityLow}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.AddVuln("a", faraday.Vuln{ID: 5, Name: "y", Severity: faraday.SeverityLow}); err == nil {
		t.Error("duplicate id accepted")
	}
	if id, _ := srv.AddVuln("a", faraday.Vuln{Name: "z", Severity: faraday.SeverityLow}); id != 6 {
		t.Errorf("next id %d", id)
	}
	// Vuln returns a copy.
	v, ok := srv.Vuln("a", 5)
	v.Name = "changed"
	if again, _ := srv.Vuln("a", 5); !ok || again.Name != "x" || again.Hostnames == nil || again.WorkspaceName != "a" {
		t.Errorf("stored = %+v", again)
	}
}

// TestConcurrentUse hammers one server from many goroutines (run with
// -race).
func TestConcurrentUse(t *testing.T) {
	srv := seeded(t, 20)
	c := client(t, srv)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				id := int64((g*10+i)%20 + 1)
				st := faraday.Statuses()[i%4]
				if _, err := c.Vulns.UpdateStatus(ctx, "acme", id, st); err != nil {
					errs <- err
					return
				}
				if _, err := c.Vulns.List(ctx, "acme", &faraday.ListVulnsOptions{PageSize: 7}); err != nil {
					errs <- err
					return
				}
				if _, err := c.Vulns.BulkUpdateStatus(ctx, "acme", []int64{id, id%20 + 1}, st); err != nil {
					errs <- err
					return
				}
				_, _ = srv.Vuln("acme", id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestFaultsAndRequestLog: injected failures are retried by the client
// where its policy says so; the log shows every attempt.
func TestFaultsAndRequestLog(t *testing.T) {
	srv := seeded(t, 2)
	c := client(t, srv) // one retry
	ctx := context.Background()
	srv.Fail("PATCH", "/_api/v3/ws/acme/vulns/1", http.StatusServiceUnavailable, 1)
	srv.Fail("GET", "/_api/v3/ws/acme/vulns/2", http.StatusInternalServerError, 1)
	if _, err := c.Vulns.UpdateStatus(ctx, "acme", 1, faraday.StatusClosed); err != nil {
		t.Errorf("503 then success: %v", err)
	}
	if _, err := c.Vulns.Get(ctx, "acme", 2); !errors.Is(err, faraday.ErrServer) {
		t.Errorf("500: %v", err)
	}
	if _, err := c.Vulns.Get(ctx, "acme", 2); err != nil {
		t.Errorf("after the fault: %v", err)
	}
	want := []faradaytest.Request{
		{Method: "PATCH", Path: "/_api/v3/ws/acme/vulns/1"},
		{Method: "PATCH", Path: "/_api/v3/ws/acme/vulns/1"},
		{Method: "GET", Path: "/_api/v3/ws/acme/vulns/2"},
		{Method: "GET", Path: "/_api/v3/ws/acme/vulns/2"},
	}
	if got := srv.Requests(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests = %v", got)
	}
	if v, _ := srv.Vuln("acme", 1); v.Status != faraday.StatusClosed {
		t.Errorf("status %v", v.Status)
	}
}
