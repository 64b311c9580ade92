package faradaytest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
)

const parityToken = "parity-token"

func readClientFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../testdata/client/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// dropKeys removes keys from a hand-written JSON object, as the filter
// endpoint leaves text fields out.
func dropKeys(t *testing.T, obj string, keys ...string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(obj), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		delete(m, k)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func envelopeOf(count int, ids []int64, objs ...string) string {
	rows := make([]string, len(objs))
	for i, o := range objs {
		rows[i] = fmt.Sprintf(`{"id": %d, "key": %d, "value": %s}`, ids[i], ids[i], o)
	}
	return fmt.Sprintf(`{"vulnerabilities": [%s], "count": %d}`, strings.Join(rows, ", "), count)
}

func jsonResp(status int, body string) httpmock.Responder {
	return httpmock.NewStringResponder(status, body).HeaderSet(http.Header{"Content-Type": {"application/json"}})
}

// results is what one backend answered to the same sequence of calls.
type results struct {
	workspaces []faraday.Workspace
	workspace  *faraday.Workspace
	list       *faraday.VulnPage
	filter     *faraday.VulnPage
	get        *faraday.Vuln
	patched    *faraday.Vuln
	updated    int
	readOnly   error
	notFound   error
}

func runCalls(t *testing.T, c *faraday.Client) results {
	t.Helper()
	ctx := context.Background()
	var r results
	var err error
	if r.workspaces, err = c.Workspaces.List(ctx); err != nil {
		t.Fatal(err)
	}
	if r.workspace, err = c.Workspaces.Get(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if r.list, err = c.Vulns.List(ctx, "acme", &faraday.ListVulnsOptions{Confirmed: faraday.Ptr(true), Sort: "id", SortDir: faraday.SortAsc}); err != nil {
		t.Fatal(err)
	}
	if r.filter, err = c.Vulns.Filter(ctx, "acme", faraday.FilterQuery{
		Filters: []faraday.Filter{{Name: "severity", Op: "eq", Val: faraday.SeverityCritical.String()}},
	}); err != nil {
		t.Fatal(err)
	}
	if r.get, err = c.Vulns.Get(ctx, "acme", 40); err != nil {
		t.Fatal(err)
	}
	if r.patched, err = c.Vulns.UpdateStatus(ctx, "acme", 40, faraday.StatusClosed); err != nil {
		t.Fatal(err)
	}
	if r.updated, err = c.Vulns.BulkUpdateStatus(ctx, "acme", []int64{12, 40, 999}, faraday.StatusRiskAccepted); err != nil {
		t.Fatal(err)
	}
	_, r.readOnly = c.Vulns.UpdateStatus(ctx, "archive-2025", 1, faraday.StatusClosed)
	_, r.notFound = c.Vulns.Get(ctx, "acme", 999)
	return r
}

// TestParity sends the same calls to httpmock answering hand-written
// responses and to faradaytest seeded with the same data: the client must
// decode the same values from both.
func TestParity(t *testing.T) {
	v12, v40 := readClientFile(t, "vuln_12.json"), readClientFile(t, "vuln_40.json")
	wsText := readClientFile(t, "workspaces.json")
	var wsRaw []json.RawMessage
	if err := json.Unmarshal([]byte(wsText), &wsRaw); err != nil {
		t.Fatal(err)
	}

	// Backend 1: httpmock with hand-written answers.
	mock := httpmock.NewMockTransport()
	mock.RegisterNoResponder(httpmock.NewNotFoundResponder(t.Error))
	const api = "https://faraday.example.com/_api/v3"
	mock.RegisterResponder("GET", api+"/ws", jsonResp(200, wsText))
	mock.RegisterResponder("GET", api+"/ws/acme", jsonResp(200, string(wsRaw[0])))
	mock.RegisterResponder("GET", api+"/ws/acme/vulns", jsonResp(200, envelopeOf(2, []int64{12, 40}, v12, v40)))
	omitted := []string{"_attachments", "description", "desc", "refs", "request", "resolution", "response", "policyviolations", "data"}
	mock.RegisterResponder("GET", api+"/ws/acme/vulns/filter", jsonResp(200, envelopeOf(1, []int64{12}, dropKeys(t, v12, omitted...))))
	mock.RegisterResponder("GET", api+"/ws/acme/vulns/40", jsonResp(200, v40))
	closed := strings.Replace(v40, `"status": "re-opened"`, `"status": "closed"`, 1)
	mock.RegisterResponder("PATCH", api+"/ws/acme/vulns/40", jsonResp(200, closed))
	mock.RegisterResponder("PATCH", api+"/ws/acme/vulns", jsonResp(200, `{"updated": 2}`))
	mock.RegisterResponder("PATCH", api+"/ws/archive-2025/vulns/1", jsonResp(403, readClientFile(t, "readonly_403.json")))
	mock.RegisterResponder("GET", api+"/ws/acme/vulns/999", jsonResp(404, `{"message": "Vulnerability 999 not found in workspace acme"}`))
	mc, err := faraday.NewClient("https://faraday.example.com", faraday.WithHTTPClient(&http.Client{Transport: mock}), faraday.WithToken(parityToken))
	if err != nil {
		t.Fatal(err)
	}

	// Backend 2: faradaytest seeded with the same data. Its clock is the
	// update date written in vuln_40.json, which the PATCH answer keeps.
	at, _ := time.Parse(time.RFC3339, "2026-07-01T09:30:00+00:00")
	srv := faradaytest.NewServer(faradaytest.WithToken(parityToken), faradaytest.WithClock(func() time.Time { return at }))
	defer srv.Close()
	for _, raw := range wsRaw {
		var w faraday.Workspace
		if err := json.Unmarshal(raw, &w); err != nil {
			t.Fatal(err)
		}
		if err := srv.AddWorkspace(w); err != nil {
			t.Fatal(err)
		}
	}
	for _, text := range []string{v12, v40} {
		var v faraday.Vuln
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Fatal(err)
		}
		if _, err := srv.AddVuln("acme", v); err != nil {
			t.Fatal(err)
		}
	}
	fc, err := faraday.NewClient(srv.URL(), faraday.WithToken(parityToken))
	if err != nil {
		t.Fatal(err)
	}
	defer fc.CloseIdleConnections()

	a, b := runCalls(t, mc), runCalls(t, fc)
	check := func(name string, x, y any) {
		t.Helper()
		if !reflect.DeepEqual(x, y) {
			t.Errorf("%s differs:\nhttpmock:    %+v\nfaradaytest: %+v", name, x, y)
		}
	}
	check("workspaces", a.workspaces, b.workspaces)
	check("workspace", a.workspace, b.workspace)
	check("list", a.list, b.list)
	check("filter", a.filter, b.filter)
	check("get", a.get, b.get)
	check("patched", a.patched, b.patched)
	check("updated", a.updated, b.updated)
	for name, pair := range map[string][2]error{"read-only": {a.readOnly, b.readOnly}, "not found": {a.notFound, b.notFound}} {
		var ea, eb *faraday.Error
		if !errors.As(pair[0], &ea) || !errors.As(pair[1], &eb) || ea.StatusCode != eb.StatusCode || ea.Message != eb.Message {
			t.Errorf("%s: %v / %v", name, pair[0], pair[1])
		}
	}
	if !errors.Is(b.readOnly, faraday.ErrReadOnlyWorkspace) || !errors.Is(b.notFound, faraday.ErrNotFound) {
		t.Errorf("sentinels: %v / %v", b.readOnly, b.notFound)
	}
	// The filter answers lack the text fields.
	if f := b.filter.Vulns[0]; f.Desc != "" || f.Description != "" || f.Refs != nil || f.Resolution != "" || f.Name != "Apache Log4j RCE" {
		t.Errorf("filter vuln keeps text fields: %+v", f)
	}
	// The fake's state changed as the calls said.
	if v, _ := srv.Vuln("acme", 40); v.Status != faraday.StatusRiskAccepted {
		t.Errorf("vuln 40 status %v after the bulk update", v.Status)
	}
}
