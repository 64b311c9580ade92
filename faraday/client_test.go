package faraday_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"go.uber.org/goleak"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
)

const (
	testBase  = "https://faraday.example.com/prefix"
	testAPI   = testBase + "/_api/v3"
	testToken = "eyJhbGciOiJIUzUxMiJ9.secret-jwt-value.sig"
)

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/client/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listBody assembles the list envelope of faraday-api.md §7 around the
// hand-written vulns.
func listBody(t *testing.T, count int, names ...string) string {
	t.Helper()
	var rows []string
	for _, n := range names {
		body := readFile(t, n)
		var id struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal([]byte(body), &id); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, fmt.Sprintf(`{"id": %d, "key": %d, "value": %s}`, id.ID, id.ID, body))
	}
	return fmt.Sprintf(`{"vulnerabilities": [%s], "count": %d}`, strings.Join(rows, ", "), count)
}

func decodeVuln(t *testing.T, name string) faraday.Vuln {
	t.Helper()
	var v faraday.Vuln
	if err := json.Unmarshal([]byte(readFile(t, name)), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// recorder keeps the requests a responder saw (responders may run on
// another goroutine).
type recorder struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	method, path string
	query        url.Values
	header       http.Header
	body         string
}

func (r *recorder) wrap(next httpmock.Responder) httpmock.Responder {
	return func(req *http.Request) (*http.Response, error) {
		var body []byte
		if req.Body != nil {
			body, _ = io.ReadAll(req.Body)
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.URL.Query(), req.Header.Clone(), string(body)})
		r.mu.Unlock()
		return next(req)
	}
}

func (r *recorder) all() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

func jsonResponder(status int, body string) httpmock.Responder {
	return httpmock.NewStringResponder(status, body).HeaderSet(http.Header{"Content-Type": {"application/json"}})
}

// setup returns a client whose transport is an httpmock instance (below the
// limiter and the retry layer), with millisecond retries.
func setup(t *testing.T, opts ...faraday.Option) (*faraday.Client, *httpmock.MockTransport) {
	t.Helper()
	mock := httpmock.NewMockTransport()
	mock.RegisterNoResponder(httpmock.NewNotFoundResponder(t.Error))
	all := append([]faraday.Option{
		faraday.WithHTTPClient(&http.Client{Transport: mock}),
		faraday.WithToken(testToken),
		faraday.WithRetry(2, time.Millisecond, 2*time.Millisecond),
	}, opts...)
	c, err := faraday.NewClient(testBase, all...)
	if err != nil {
		t.Fatal(err)
	}
	return c, mock
}

func TestNewClientValidation(t *testing.T) {
	t.Parallel()
	bad := map[string]struct {
		url  string
		opts []faraday.Option
	}{
		"scheme":        {"ftp://faraday.example.com", nil},
		"no host":       {"https://", nil},
		"credentials":   {"https://admin:hunter2@faraday.example.com", nil},
		"query":         {"https://faraday.example.com/?x=1", nil},
		"api path":      {"https://faraday.example.com/_api/v3", nil},
		"unparsable":    {"https://fa raday.example.com:hunter2x/%zz", nil},
		"empty token":   {testBase, []faraday.Option{faraday.WithToken("")}},
		"token newline": {testBase, []faraday.Option{faraday.WithToken("hunter2\r\nX-Evil: 1")}},
		"two auths":     {testBase, []faraday.Option{faraday.WithToken("a"), faraday.WithBasicAuth("u", "p")}},
		"basic colon":   {testBase, []faraday.Option{faraday.WithBasicAuth("u:x", "hunter2")}},
		"empty pass":    {testBase, []faraday.Option{faraday.WithBasicAuth("u", "")}},
		"nil option":    {testBase, []faraday.Option{nil}},
		"nil client":    {testBase, []faraday.Option{faraday.WithHTTPClient(nil)}},
		"neg timeout":   {testBase, []faraday.Option{faraday.WithTimeout(-time.Second)}},
		"retry bounds":  {testBase, []faraday.Option{faraday.WithRetry(1, time.Second, time.Millisecond)}},
		"rate burst":    {testBase, []faraday.Option{faraday.WithRateLimit(1, 0)}},
		"nil limiter":   {testBase, []faraday.Option{faraday.WithLimiter(nil)}},
		"ua":            {testBase, []faraday.Option{faraday.WithUserAgent("a\nb")}},
		"body size":     {testBase, []faraday.Option{faraday.WithMaxBodySize(0)}},
		"nil logger":    {testBase, []faraday.Option{faraday.WithLogger(nil)}},
	}
	for name, c := range bad {
		_, err := faraday.NewClient(c.url, c.opts...)
		if !errors.Is(err, faraday.ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: error shows the secret: %v", name, err)
		}
	}
	c, err := faraday.NewClient("https://faraday.example.com/prefix")
	if err != nil || c.BaseURL() != "https://faraday.example.com/prefix/" {
		t.Errorf("base = %v, %v", c, err)
	}
}

func TestVulnsList(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	var rec recorder
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns", rec.wrap(jsonResponder(200, listBody(t, 7, "vuln_12.json", "vuln_40.json"))))

	page, err := c.Vulns.List(context.Background(), "acme", &faraday.ListVulnsOptions{
		Confirmed: faraday.Ptr(true), Severity: faraday.SeverityMedium, Status: faraday.StatusReopened,
		Type: faraday.TypeVulnerabilityWeb, Target: "10.203", Search: "xss",
		Page: 2, PageSize: 2, Sort: "severity", SortDir: faraday.SortDesc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 7 || len(page.Vulns) != 2 {
		t.Fatalf("count %d, %d vulns", page.Count, len(page.Vulns))
	}
	if !reflect.DeepEqual(page.Vulns[0], decodeVuln(t, "vuln_12.json")) || !reflect.DeepEqual(page.Vulns[1], decodeVuln(t, "vuln_40.json")) {
		t.Error("list values differ from the single-vuln decoding")
	}
	// Hand-read values of the envelope's second entry.
	v := page.Vulns[1]
	if v.ID != 40 || v.Severity != faraday.SeverityMedium || v.Status != faraday.StatusReopened || v.Service == nil ||
		v.Service.Port != 443 || v.ParentType != faraday.ParentService || *v.StatusCode != 200 || v.Desc != `The "q" parameter is echoed.` {
		t.Errorf("vuln 40 = %+v", v)
	}
	reqs := rec.all()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	want := url.Values{
		"confirmed": {"true"}, "severity": {"med"}, "status": {"re-opened"}, "type": {"VulnerabilityWeb"},
		"target": {"10.203"}, "search": {"xss"}, "page": {"2"}, "page_size": {"2"}, "sort": {"severity"}, "sort_dir": {"desc"},
	}
	if !reflect.DeepEqual(r.query, want) {
		t.Errorf("query = %v\nwant    %v", r.query, want)
	}
	if got := r.header.Get("Authorization"); got != "Token "+testToken {
		t.Errorf("Authorization = %q", got)
	}
	if r.header.Get("Accept") != "application/json" || !strings.HasPrefix(r.header.Get("User-Agent"), "mesd-faraday/") {
		t.Errorf("headers = %v", r.header)
	}
	if r.path != "/prefix/_api/v3/ws/acme/vulns" {
		t.Errorf("path = %s", r.path)
	}
}

func TestVulnsListOptionErrors(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	for name, o := range map[string]*faraday.ListVulnsOptions{
		"severity": {Severity: 99},
		"status":   {Status: 42},
		"type":     {Type: "VulnerabilityCode"},
		"page":     {Page: 2},
		"negative": {PageSize: -1},
		"sort dir": {Sort: "id", SortDir: "up"},
		"dir only": {SortDir: faraday.SortAsc},
	} {
		if _, err := c.Vulns.List(context.Background(), "acme", o); !errors.Is(err, faraday.ErrInvalidOption) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	for _, ws := range []string{"", "..", "a/b"} {
		if _, err := c.Vulns.List(context.Background(), ws, nil); !errors.Is(err, faraday.ErrInvalidOption) {
			t.Errorf("ws %q: err = %v", ws, err)
		}
	}
	if n := mock.GetTotalCallCount(); n != 0 {
		t.Errorf("%d calls made for invalid options", n)
	}
}

func TestVulnsAllPages(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	var rec recorder
	mock.RegisterResponderWithQuery("GET", testAPI+"/ws/acme/vulns", "page=1&page_size=1&confirmed=true",
		rec.wrap(jsonResponder(200, listBody(t, 2, "vuln_12.json"))))
	mock.RegisterResponderWithQuery("GET", testAPI+"/ws/acme/vulns", "page=2&page_size=1&confirmed=true",
		rec.wrap(jsonResponder(200, listBody(t, 2, "vuln_40.json"))))
	opts := &faraday.ListVulnsOptions{Confirmed: faraday.Ptr(true), PageSize: 1}
	var ids []int64
	for v, err := range c.Vulns.All(context.Background(), "acme", opts) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	if !reflect.DeepEqual(ids, []int64{12, 40}) || len(rec.all()) != 2 {
		t.Errorf("ids %v after %d calls", ids, len(rec.all()))
	}
	if opts.Page != 0 {
		t.Error("All modified the caller's options")
	}
	// Breaking out stops fetching.
	for _, err := range c.Vulns.All(context.Background(), "acme", opts) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if len(rec.all()) != 3 {
		t.Errorf("%d calls after an early break, want 3", len(rec.all()))
	}
	// An error is yielded once and ends the loop.
	mock.RegisterResponderWithQuery("GET", testAPI+"/ws/gone/vulns", "page=1&page_size=100", jsonResponder(404, `{"message": "No such workspace: gone"}`))
	n := 0
	for v, err := range c.Vulns.All(context.Background(), "gone", nil) {
		n++
		if v != nil || !errors.Is(err, faraday.ErrNotFound) {
			t.Errorf("got %v, %v", v, err)
		}
	}
	if n != 1 {
		t.Errorf("%d yields", n)
	}
}

func TestVulnsFilter(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	var rec recorder
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/filter", rec.wrap(jsonResponder(200, listBody(t, 1, "vuln_12.json"))))
	page, err := c.Vulns.Filter(context.Background(), "acme", faraday.FilterQuery{
		Filters: []faraday.Filter{
			{Name: "confirmed", Op: "==", Val: true},
			{Or: []faraday.Filter{
				{Name: "severity", Op: "eq", Val: faraday.SeverityCritical.String()},
				{Name: "severity", Op: "eq", Val: faraday.SeverityMedium.String()},
			}},
			{Name: "external_id", Op: "is_null"},
		},
		OrderBy: []faraday.Order{{Field: "id", Direction: faraday.SortAsc}},
		Limit:   10,
	})
	if err != nil {
		t.Fatal(err)
	}
	if page.Count != 1 || len(page.Vulns) != 1 || page.Vulns[0].ID != 12 {
		t.Errorf("page = %+v", page)
	}
	q := rec.all()[0].query.Get("q")
	want := `{"filters":[{"name":"confirmed","op":"==","val":true},{"or":[{"name":"severity","op":"eq","val":"critical"},` +
		`{"name":"severity","op":"eq","val":"medium"}]},{"name":"external_id","op":"is_null"}],"order_by":[{"field":"id","direction":"asc"}],"limit":10}`
	if q != want {
		t.Errorf("q = %s\nwant %s", q, want)
	}
	for name, f := range map[string]faraday.Filter{
		"empty": {},
		"both":  {Name: "x", Op: "eq", Val: 1, And: []faraday.Filter{}},
		"two":   {And: []faraday.Filter{}, Or: []faraday.Filter{}},
	} {
		if _, err := c.Vulns.Filter(context.Background(), "acme", faraday.FilterQuery{Filters: []faraday.Filter{f}}); !errors.Is(err, faraday.ErrInvalidOption) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestVulnsGetAndUpdateStatus(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	var rec recorder
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/40", rec.wrap(jsonResponder(200, readFile(t, "vuln_40.json"))))
	closed := strings.Replace(readFile(t, "vuln_40.json"), `"status": "re-opened"`, `"status": "closed"`, 1)
	mock.RegisterResponder("PATCH", testAPI+"/ws/acme/vulns/40", rec.wrap(jsonResponder(200, closed)))

	v, err := c.Vulns.Get(context.Background(), "acme", 40)
	if err != nil || !reflect.DeepEqual(*v, decodeVuln(t, "vuln_40.json")) {
		t.Fatalf("get = %+v, %v", v, err)
	}
	v, err = c.Vulns.UpdateStatus(context.Background(), "acme", 40, faraday.StatusClosed)
	if err != nil || v.Status != faraday.StatusClosed || v.ID != 40 {
		t.Fatalf("update = %+v, %v", v, err)
	}
	reqs := rec.all()
	if reqs[1].method != "PATCH" || reqs[1].body != `{"status":"closed"}` || reqs[1].header.Get("Content-Type") != "application/json" {
		t.Errorf("patch = %+v", reqs[1])
	}
	if _, err := c.Vulns.Get(context.Background(), "acme", 0); !errors.Is(err, faraday.ErrInvalidOption) {
		t.Errorf("id 0: %v", err)
	}
	if _, err := c.Vulns.UpdateStatus(context.Background(), "acme", 1, 0); !errors.Is(err, faraday.ErrInvalidOption) {
		t.Errorf("status 0: %v", err)
	}
}

func TestVulnsBulkUpdateStatus(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	var rec recorder
	mock.RegisterResponder("PATCH", testAPI+"/ws/acme/vulns", rec.wrap(jsonResponder(200, `{"updated": 2}`)))
	n, err := c.Vulns.BulkUpdateStatus(context.Background(), "acme", []int64{12, 40, 9007199254740993}, faraday.StatusRiskAccepted)
	if err != nil || n != 2 {
		t.Fatalf("n = %d, %v", n, err)
	}
	body := rec.all()[0].body
	// The ids must be JSON integers, not strings or floats.
	var raw struct {
		IDs    []json.RawMessage `json:"ids"`
		Status string            `json:"status"`
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, id := range raw.IDs {
		ids = append(ids, string(id))
	}
	if !reflect.DeepEqual(ids, []string{"12", "40", "9007199254740993"}) || raw.Status != "risk-accepted" {
		t.Errorf("body = %s", body)
	}
	for name, ids := range map[string][]int64{"none": nil, "zero": {1, 0}} {
		if _, err := c.Vulns.BulkUpdateStatus(context.Background(), "acme", ids, faraday.StatusOpen); !errors.Is(err, faraday.ErrInvalidOption) {
			t.Errorf("%s: %v", name, err)
		}
	}
	mock.RegisterResponder("PATCH", testAPI+"/ws/odd/vulns", jsonResponder(200, `{"ok": true}`))
	if _, err := c.Vulns.BulkUpdateStatus(context.Background(), "odd", []int64{1}, faraday.StatusOpen); !errors.Is(err, faraday.ErrUnexpectedResponse) {
		t.Errorf("missing count: %v", err)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	mock.RegisterResponder("PATCH", testAPI+"/ws/archive-2025/vulns/1", jsonResponder(403, readFile(t, "readonly_403.json")))
	mock.RegisterResponder("PATCH", testAPI+"/ws/acme/vulns/1", jsonResponder(403, `{"message": "You don't have permission"}`))
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/2", jsonResponder(404, `{"message": "Not Found"}`))
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/3", httpmock.NewStringResponder(401, "<html>Unauthorized</html>"))
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/4", jsonResponder(400, `{"messages": {"json": {"status": ["Not a valid choice."]}}}`))
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/5", httpmock.NewStringResponder(200, "<html>login</html>").HeaderSet(http.Header{"Content-Type": {"text/html"}}))
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/6", jsonResponder(200, `{"id": "not a number"`))

	_, err := c.Vulns.UpdateStatus(context.Background(), "archive-2025", 1, faraday.StatusClosed)
	var fe *faraday.Error
	if !errors.Is(err, faraday.ErrReadOnlyWorkspace) || !errors.Is(err, faraday.ErrForbidden) || !errors.As(err, &fe) ||
		fe.StatusCode != 403 || fe.Message != "Altering a readonly workspace is not allowed" {
		t.Errorf("read-only: %v", err)
	}
	_, err = c.Vulns.UpdateStatus(context.Background(), "acme", 1, faraday.StatusClosed)
	if !errors.Is(err, faraday.ErrForbidden) || errors.Is(err, faraday.ErrReadOnlyWorkspace) {
		t.Errorf("plain 403: %v", err)
	}
	cases := map[int64]error{2: faraday.ErrNotFound, 3: faraday.ErrUnauthorized, 4: faraday.ErrBadRequest, 5: faraday.ErrUnexpectedResponse, 6: faraday.ErrUnexpectedResponse}
	for id, want := range cases {
		_, err := c.Vulns.Get(context.Background(), "acme", id)
		if !errors.Is(err, want) {
			t.Errorf("id %d: err = %v, want %v", id, err, want)
		}
		if err != nil && strings.Contains(err.Error(), testToken) {
			t.Errorf("id %d: error shows the token", id)
		}
	}
	_, err = c.Vulns.Get(context.Background(), "acme", 4)
	if !strings.Contains(err.Error(), "Not a valid choice.") || !strings.Contains(err.Error(), "400") {
		t.Errorf("400 message: %v", err)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/12",
		jsonResponder(503, `{"message": "busy"}`).Then(jsonResponder(200, readFile(t, "vuln_12.json"))))
	mock.RegisterResponder("PATCH", testAPI+"/ws/acme/vulns/12",
		jsonResponder(502, "").Then(jsonResponder(200, readFile(t, "vuln_12.json"))))
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/13",
		jsonResponder(429, `{}`).HeaderSet(http.Header{"Retry-After": {"0"}}).Then(jsonResponder(200, readFile(t, "vuln_12.json"))))
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/14", jsonResponder(503, `{"message": "down"}`))
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/15", jsonResponder(500, `{"message": "boom"}`))

	if _, err := c.Vulns.Get(context.Background(), "acme", 12); err != nil {
		t.Errorf("503 then 200: %v", err)
	}
	if _, err := c.Vulns.UpdateStatus(context.Background(), "acme", 12, faraday.StatusOpen); err != nil {
		t.Errorf("PATCH 502 then 200: %v", err)
	}
	if _, err := c.Vulns.Get(context.Background(), "acme", 13); err != nil {
		t.Errorf("429 then 200: %v", err)
	}
	_, err := c.Vulns.Get(context.Background(), "acme", 14)
	if !errors.Is(err, faraday.ErrServer) || !strings.Contains(err.Error(), "down") {
		t.Errorf("503 to the end: %v", err)
	}
	if _, err := c.Vulns.Get(context.Background(), "acme", 15); !errors.Is(err, faraday.ErrServer) {
		t.Errorf("500: %v", err)
	}
	calls := mock.GetCallCountInfo()
	for key, want := range map[string]int{
		"GET " + testAPI + "/ws/acme/vulns/12":   2,
		"PATCH " + testAPI + "/ws/acme/vulns/12": 2,
		"GET " + testAPI + "/ws/acme/vulns/13":   2,
		"GET " + testAPI + "/ws/acme/vulns/14":   3, // 1 + 2 retries
		"GET " + testAPI + "/ws/acme/vulns/15":   1, // 500 is not retried
	} {
		if calls[key] != want {
			t.Errorf("%s: %d calls, want %d", key, calls[key], want)
		}
	}
}

func TestTransportErrorsAreSanitized(t *testing.T) {
	t.Parallel()
	c, mock := setup(t, faraday.WithoutRetries())
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns/filter", httpmock.NewErrorResponder(errors.New("connection reset by peer")))
	_, err := c.Vulns.Filter(context.Background(), "acme", faraday.FilterQuery{Filters: []faraday.Filter{{Name: "name", Op: "eq", Val: "hunter2-secret"}}})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Contains(msg, "hunter2-secret") || strings.Contains(msg, testToken) || !strings.Contains(msg, "q=REDACTED") || !strings.Contains(msg, "connection reset") {
		t.Errorf("error = %s", msg)
	}
	var ue *url.Error
	if errors.As(err, &ue) && strings.Contains(ue.URL, "hunter2") {
		t.Errorf("url.Error keeps the query: %s", ue.URL)
	}
}

func TestBasicAuthAndBodyCap(t *testing.T) {
	t.Parallel()
	c, mock := setup(t, faraday.WithMaxBodySize(100))
	_ = c
	mock2 := httpmock.NewMockTransport()
	cb, err := faraday.NewClient(testBase, faraday.WithHTTPClient(&http.Client{Transport: mock2}), faraday.WithBasicAuth("alice", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	mock2.RegisterResponder("GET", testAPI+"/ws", rec.wrap(jsonResponder(200, readFile(t, "workspaces.json"))))
	ws, err := cb.Workspaces.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if u, p, ok := (&http.Request{Header: rec.all()[0].header}).BasicAuth(); !ok || u != "alice" || p != "s3cret" {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
	if len(ws) != 2 || ws[0].Name != "acme" || ws[0].ReadOnly || !ws[0].Active || ws[0].Customer != "ACME Corp" ||
		ws[1].Name != "archive-2025" || !ws[1].ReadOnly || ws[1].Active ||
		ws[0].UpdateDate.String() != "2026-06-30T15:10:07.123456+00:00" {
		t.Errorf("workspaces = %+v", ws)
	}
	mock.RegisterResponder("GET", testAPI+"/ws/acme", jsonResponder(200, readFile(t, "workspaces.json")[4:]))
	if _, err := c.Workspaces.Get(context.Background(), "acme"); !errors.Is(err, faraday.ErrBodyTooLarge) {
		t.Errorf("large body: %v", err)
	}
}

func TestWorkspacesGet(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	var list []json.RawMessage
	if err := json.Unmarshal([]byte(readFile(t, "workspaces.json")), &list); err != nil {
		t.Fatal(err)
	}
	mock.RegisterResponder("GET", testAPI+"/ws/archive-2025", jsonResponder(200, string(list[1])))
	mock.RegisterResponder("GET", testAPI+"/ws/nope", jsonResponder(404, `{"message": "Workspace not found"}`))
	w, err := c.Workspaces.Get(context.Background(), "archive-2025")
	if err != nil || w.ID != 2 || !w.ReadOnly || w.CreateDate.String() != "2025-01-05T08:00:00+00:00" {
		t.Errorf("get = %+v, %v", w, err)
	}
	if _, err := c.Workspaces.Get(context.Background(), "nope"); !errors.Is(err, faraday.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
}

// countingLimiter counts waits; every attempt, retries included, must wait.
type countingLimiter struct{ n atomic.Int32 }

func (l *countingLimiter) Wait(ctx context.Context) error {
	l.n.Add(1)
	return ctx.Err()
}

func TestLimiterWaitsOnEveryAttempt(t *testing.T) {
	t.Parallel()
	lim := &countingLimiter{}
	c, mock := setup(t, faraday.WithLimiter(lim))
	mock.RegisterResponder("GET", testAPI+"/ws", jsonResponder(503, "").Then(jsonResponder(503, "")).Then(jsonResponder(200, "[]")))
	if _, err := c.Workspaces.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lim.n.Load(); got != 3 {
		t.Errorf("limiter waited %d times for 3 attempts", got)
	}
}

func TestContextCanceled(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	mock.RegisterResponder("GET", testAPI+"/ws", jsonResponder(503, ""))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Workspaces.List(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

// TestClientAgainstFakeLeavesNoGoroutine runs real HTTP through the client
// against faradaytest and checks, after closing idle connections, that no
// goroutine is left behind.
func TestClientAgainstFakeLeavesNoGoroutine(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	srv := faradaytest.NewServer(faradaytest.WithToken(testToken))
	defer srv.Close()
	if err := srv.AddWorkspace(faraday.Workspace{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	c, err := faraday.NewClient(srv.URL(), faraday.WithToken(testToken), faraday.WithRetry(1, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	if _, err := c.Vulns.List(context.Background(), "acme", nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	if _, err := c.Workspaces.List(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("expired context: %v", err)
	}
}

// refusingLimiter refuses every wait, as rate.Limiter does when the wait
// would pass the context's deadline.
type refusingLimiter struct{ n atomic.Int32 }

var errTooLong = errors.New("would exceed context deadline")

func (l *refusingLimiter) Wait(context.Context) error {
	l.n.Add(1)
	return errTooLong
}

func TestLimiterRefusalIsNotRetried(t *testing.T) {
	t.Parallel()
	lim := &refusingLimiter{}
	c, mock := setup(t, faraday.WithLimiter(lim))
	_, err := c.Workspaces.List(context.Background())
	if !errors.Is(err, errTooLong) || lim.n.Load() != 1 || mock.GetTotalCallCount() != 0 {
		t.Errorf("err %v after %d waits and %d calls", err, lim.n.Load(), mock.GetTotalCallCount())
	}
}

// TestVulnsAllStopsWhenTheServerDoesNotPage: a server answering the whole
// list to a paged request is read once, without repeating vulns.
func TestVulnsAllStopsWhenTheServerDoesNotPage(t *testing.T) {
	t.Parallel()
	c, mock := setup(t)
	mock.RegisterResponder("GET", testAPI+"/ws/acme/vulns", jsonResponder(200, listBody(t, 0, "vuln_12.json", "vuln_40.json")))
	var ids []int64
	for v, err := range c.Vulns.All(context.Background(), "acme", &faraday.ListVulnsOptions{PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	if !reflect.DeepEqual(ids, []int64{12, 40}) || mock.GetTotalCallCount() != 1 {
		t.Errorf("ids %v after %d calls", ids, mock.GetTotalCallCount())
	}
}
