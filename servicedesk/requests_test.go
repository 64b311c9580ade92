package servicedesk_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/vulndesk/mesd/servicedesk"
)

func TestHeadersOnEveryCall(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t, servicedesk.WithPortalID("3"), servicedesk.WithUserAgent("faraday-bridge/2"))
	check := func(r *http.Request) {
		if got := r.Header.Get("Accept"); got != "application/vnd.manageengine.sdp.v3+json" {
			t.Errorf("Accept = %q", got)
		}
		if got := r.Header.Get("authtoken"); got != testToken {
			t.Errorf("authtoken header = %q", got)
		}
		if got := r.Header.Get("PORTALID"); got != "3" {
			t.Errorf("PORTALID = %q", got)
		}
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "faraday-bridge/2 ") || !strings.Contains(ua, "/"+servicedesk.Version) {
			t.Errorf("User-Agent = %q, want the product then the SDK version %s", ua, servicedesk.Version)
		}
	}
	var mu sync.Mutex
	var attempts int
	mock.RegisterResponder("GET", apiURL+"requests/71", func(r *http.Request) (*http.Response, error) {
		check(r)
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if attempts == 1 {
			return sdpJSON(503, "")(r) // the retry must carry the headers too
		}
		return sdpJSON(200, okRequest71)(r)
	})
	if _, err := c.Requests.Get(context.Background(), "71"); err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Fatalf("attempts = %d, want 2", attempts)
	}
}

func TestCreateSendsStrictJSONInputDataForm(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	in := &servicedesk.RequestInput{
		Subject:     `[FRD acme/123] SQL injection in "login" & <search>`,
		Description: "<p>Found &amp; confirmed</p>",
		Requester:   &servicedesk.UserRef{EmailID: "sec@example.com"},
		Priority:    &servicedesk.Ref{Name: "High"},
		Template:    &servicedesk.TemplateRef{ID: "123640000000006655"},
		DueByTime:   servicedesk.NewDateTime(time.UnixMilli(1660262400312)),
		UDFFields:   map[string]any{"udf_sline_301": "CVE-2024-0001"},
	}
	mock.RegisterResponder("POST", apiURL+"requests", func(r *http.Request) (*http.Response, error) {
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
			t.Errorf("Content-Type = %q", ct)
		}
		if r.URL.RawQuery != "" {
			t.Errorf("write carries a query %q; input_data belongs in the form body", r.URL.RawQuery)
		}
		m := inputData(t, r)
		req, _ := m["request"].(map[string]any)
		want := map[string]any{
			"subject":     in.Subject,
			"description": in.Description,
			"requester":   map[string]any{"email_id": "sec@example.com"},
			"priority":    map[string]any{"name": "High"},
			"template":    map[string]any{"id": "123640000000006655"},
			"due_by_time": map[string]any{"value": "1660262400312"},
			"udf_fields":  map[string]any{"udf_sline_301": "CVE-2024-0001"},
		}
		if !reflect.DeepEqual(req, want) {
			t.Errorf("input_data request =\n%v\nwant\n%v", req, want)
		}
		return sdpJSON(201, okRequest71)(r)
	})
	r, err := c.Requests.Create(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "71" {
		t.Fatalf("ID = %q", r.ID)
	}
}

func TestListSendsListInfoInQuery(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	opts := &servicedesk.ListOptions{
		RowCount: 25, StartIndex: 51, SortField: "created_time", SortOrder: servicedesk.Descending,
		GetTotalCount: true,
		SearchFields:  map[string]string{"priority.name": "High"},
		SearchCriteria: []servicedesk.Criterion{
			{Field: "subject", Condition: servicedesk.Contains, Value: "[FRD acme/"},
			{Field: "status.name", Condition: servicedesk.Is, Values: []string{"Open", "On Hold"}, LogicalOperator: servicedesk.And,
				Children: []servicedesk.Criterion{
					{Field: "group.name", Condition: servicedesk.Is, Value: "Security"},
					{Field: "group.name", Condition: servicedesk.Is, Value: "IT", LogicalOperator: servicedesk.Or},
				}},
		},
	}
	mock.RegisterResponder("GET", apiURL+"requests", func(r *http.Request) (*http.Response, error) {
		if r.Body != nil && r.ContentLength > 0 {
			t.Errorf("list read carries a body of %d bytes", r.ContentLength)
		}
		li := listInfo(t, r.URL)
		want := map[string]any{
			"row_count": float64(25), "start_index": float64(51), "sort_field": "created_time", "sort_order": "desc",
			"get_total_count": true, "search_fields": map[string]any{"priority.name": "High"},
			"search_criteria": []any{
				map[string]any{"field": "subject", "condition": "contains", "value": "[FRD acme/"},
				map[string]any{"field": "status.name", "condition": "is", "values": []any{"Open", "On Hold"}, "logical_operator": "and",
					"children": []any{
						map[string]any{"field": "group.name", "condition": "is", "value": "Security"},
						map[string]any{"field": "group.name", "condition": "is", "value": "IT", "logical_operator": "or"},
					}},
			},
		}
		if !reflect.DeepEqual(li, want) {
			t.Errorf("list_info =\n%v\nwant\n%v", li, want)
		}
		return sdpJSON(200, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":"true","row_count":"1","start_index":51,"total_count":"77"},"requests":[{"id":98}]}`)(r)
	})
	l, err := c.Requests.List(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := servicedesk.ListInfo{HasMoreRows: true, RowCount: 1, StartIndex: 51, TotalCount: 77}
	if l.ListInfo != want || len(l.Requests) != 1 || l.Requests[0].ID != "98" {
		t.Fatalf("List = %+v (info %+v), want one request 98 and %+v", l.Requests, l.ListInfo, want)
	}
}

func TestSingleCriterionIsSentAsObject(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", func(r *http.Request) (*http.Response, error) {
		if sc, ok := listInfo(t, r.URL)["search_criteria"].(map[string]any); !ok || sc["field"] != "subject" {
			t.Errorf("search_criteria = %v, want one bare object", listInfo(t, r.URL)["search_criteria"])
		}
		return sdpJSON(200, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false},"requests":[]}`)(r)
	})
	_, err := c.Requests.List(context.Background(), &servicedesk.ListOptions{
		SearchCriteria: []servicedesk.Criterion{{Field: "subject", Condition: servicedesk.Contains, Value: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
}

// pagedResponder serves total requests with ids 1..total, honouring
// start_index and row_count.
func pagedResponder(t *testing.T, total int) httpmock.Responder {
	return func(r *http.Request) (*http.Response, error) {
		li := listInfo(t, r.URL)
		start, _ := li["start_index"].(float64)
		rows, _ := li["row_count"].(float64)
		var ids []string
		for i := int(start); i < int(start+rows) && i <= total; i++ {
			ids = append(ids, fmt.Sprintf(`{"id":"%d"}`, i))
		}
		more := int(start+rows) <= total
		return sdpJSON(200, fmt.Sprintf(`{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":%t,"start_index":%d,"row_count":%d},"requests":[%s]}`,
			more, int(start), len(ids), strings.Join(ids, ",")))(r)
	}
}

func TestAllWalksEveryPageAndCopiesOptions(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", pagedResponder(t, 7))
	opts := &servicedesk.ListOptions{RowCount: 3, SortField: "id", SortOrder: servicedesk.Ascending}
	before := *opts
	var got []string
	for r, err := range c.Requests.All(context.Background(), opts) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(r.ID))
	}
	if strings.Join(got, ",") != "1,2,3,4,5,6,7" {
		t.Fatalf("All yielded %v", got)
	}
	if !reflect.DeepEqual(*opts, before) {
		t.Fatalf("All changed the caller's options: %+v, was %+v", *opts, before)
	}
	if n := calls(mock, "GET", "requests"); n != 3 {
		t.Fatalf("pages fetched = %d, want 3", n)
	}
}

func TestAllStopsWhenTheLoopBreaks(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", pagedResponder(t, 500))
	n := 0
	for _, err := range c.Requests.All(context.Background(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 5 {
			break
		}
	}
	if got := calls(mock, "GET", "requests"); got != 1 {
		t.Fatalf("pages fetched = %d, want 1", got)
	}
}

func TestAllYieldsPageErrorOnce(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", sdpJSON(400, failed(4001, "Invalid Input")))
	var errs int
	for r, err := range c.Requests.All(context.Background(), nil) {
		if r != nil || !errors.Is(err, servicedesk.ErrInvalidInput) {
			t.Fatalf("yield (%v, %v)", r, err)
		}
		errs++
	}
	if errs != 1 {
		t.Fatalf("errors yielded = %d, want 1", errs)
	}
}

func TestAllRejectsEndlessEmptyPages(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", sdpJSON(200, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":true},"requests":[]}`))
	var last error
	for _, err := range c.Requests.All(context.Background(), nil) {
		last = err
	}
	if last == nil || !strings.Contains(last.Error(), "empty page") {
		t.Fatalf("last error = %v, want the empty-page error", last)
	}
}

func TestCloseSendsClosureInfo(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("PUT", apiURL+"requests/71/close", func(r *http.Request) (*http.Response, error) {
		m := inputData(t, r)
		want := map[string]any{"request": map[string]any{"closure_info": map[string]any{
			"requester_ack_resolution": true, "closure_comments": "fixed in Faraday", "closure_code": map[string]any{"name": "Success"},
		}}}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("input_data = %v, want %v", m, want)
		}
		return sdpJSON(200, `{"response_status":{"status_code":2000,"messages":[{"status_code":2000,"type":"success","message":"Request(s) closed successfully."}],"status":"success"}}`)(r)
	})
	err := c.Requests.Close(context.Background(), "71", &servicedesk.ClosureInfo{
		RequesterAckResolution: true, ClosureComments: "fixed in Faraday", ClosureCode: &servicedesk.Ref{Name: "Success"}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRetriedCloseAnsweredAlreadyClosedIsSuccess(t *testing.T) {
	t.Parallel()
	already := failed(4001, "Request is already closed")
	c, mock := newMockClient(t)
	mock.RegisterResponder("PUT", apiURL+"requests/71/close",
		httpmock.NewErrorResponder(timeoutError{}).Then(sdpJSON(400, already)))
	if err := c.Requests.Close(context.Background(), "71", nil); err != nil {
		t.Fatalf("retried close answered already closed: %v, want nil", err)
	}
	if n := calls(mock, "PUT", "requests/71/close"); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}

	// After a 503 the first close may have worked: also a success.
	c3, mock3 := newMockClient(t)
	mock3.RegisterResponder("PUT", apiURL+"requests/71/close", sdpJSON(503, "").Then(sdpJSON(400, already)))
	if err := c3.Requests.Close(context.Background(), "71", nil); err != nil {
		t.Fatalf("close retried after 503 answered already closed: %v, want nil", err)
	}

	// After a 429 SDP did not act: someone else closed the request.
	c4, mock4 := newMockClient(t)
	mock4.RegisterResponder("PUT", apiURL+"requests/71/close", sdpJSON(429, failed(4015, "rate limit")).Then(sdpJSON(400, already)))
	if err := c4.Requests.Close(context.Background(), "71", nil); !errors.Is(err, servicedesk.ErrAlreadyClosed) {
		t.Fatalf("close retried after 429 answered already closed: %v, want ErrAlreadyClosed", err)
	}
	if n := calls(mock4, "PUT", "requests/71/close"); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}

	// The same answer to a first attempt is reported.
	c2, mock2 := newMockClient(t)
	mock2.RegisterResponder("PUT", apiURL+"requests/71/close", sdpJSON(400, already))
	err := c2.Requests.Close(context.Background(), "71", nil)
	if !errors.Is(err, servicedesk.ErrAlreadyClosed) || !errors.Is(err, servicedesk.ErrInvalidInput) {
		t.Fatalf("first-attempt already closed: %v, want ErrAlreadyClosed and ErrInvalidInput", err)
	}
}

func TestNotesUseTheEditionKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, key, url string
		opts           []servicedesk.Option
	}{
		{"on-premises", "note", apiURL, nil},
		{"cloud", "request_note", testBase + "/app/itdesk/api/v3/", []servicedesk.Option{
			servicedesk.WithCloudPortal("itdesk")}},
	} {
		mock := httpmock.NewMockTransport()
		auth := servicedesk.Authenticator(nil)
		if tc.name == "cloud" {
			auth = &fakeOAuth{token: "a1"}
		} else {
			auth, _ = servicedesk.AuthToken(testToken)
		}
		c, err := servicedesk.NewClient(testBase, append(tc.opts, servicedesk.WithAuthenticator(auth),
			servicedesk.WithHTTPClient(&http.Client{Transport: mock}))...)
		if err != nil {
			t.Fatal(err)
		}
		mock.RegisterResponder("POST", tc.url+"requests/71/notes", func(r *http.Request) (*http.Response, error) {
			m := inputData(t, r)
			n, ok := m[tc.key].(map[string]any)
			if !ok || n["description"] != "<p>Status set to Re-opened in Faraday</p>" || n["show_to_requester"] != false {
				t.Errorf("%s: input_data = %v, want the note under %q", tc.name, m, tc.key)
			}
			return sdpJSON(201, `{"`+tc.key+`":{"id":"337","description":"<p>x</p>","added_time":{"value":"1660057676069","display_value":"x"}},"response_status":{"status_code":2000,"status":"success"}}`)(r)
		})
		mock.RegisterResponder("GET", tc.url+"requests/71/notes", sdpJSON(200,
			`{"`+tc.key+`s":[{"id":"332"},{"id":"200"}],"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"has_more_rows":false,"row_count":2}}`))
		n, err := c.Requests.AddNote(context.Background(), "71", &servicedesk.NoteInput{Description: "<p>Status set to Re-opened in Faraday</p>"})
		if err != nil {
			t.Fatalf("%s: AddNote: %v", tc.name, err)
		}
		if n.ID != "337" || n.AddedTime == nil || n.AddedTime.Millis != 1660057676069 {
			t.Fatalf("%s: note = %+v", tc.name, n)
		}
		l, err := c.Requests.ListNotes(context.Background(), "71", &servicedesk.ListOptions{RowCount: 10})
		if err != nil {
			t.Fatalf("%s: ListNotes: %v", tc.name, err)
		}
		if len(l.Notes) != 2 || l.Notes[1].ID != "200" || l.ListInfo.RowCount != 2 {
			t.Fatalf("%s: notes = %+v", tc.name, l)
		}
	}
}

func TestUnexpectedContentOn2xx(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests/71", func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(200, "<!DOCTYPE html><html><title>Zoho Accounts</title><form>sign in</form></html>")
		r.Header.Set("Content-Type", "text/html;charset=UTF-8")
		return r, nil
	})
	_, err := c.Requests.Get(context.Background(), "71")
	if !errors.Is(err, servicedesk.ErrUnexpectedContent) {
		t.Fatalf("error %v, want ErrUnexpectedContent", err)
	}
	if se := asError(t, err); se.HTTPStatus != 200 || se.ContentType != "text/html;charset=UTF-8" {
		t.Fatalf("error %+v", se)
	}
	if strings.Contains(err.Error(), "sign in") {
		t.Fatalf("error quotes the body: %v", err)
	}
}

func TestFailureInsideHTTP200IsAnError(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("PUT", apiURL+"requests/71", sdpJSON(200, `{"response_status":[{"status_code":4000,"status":"failed","messages":[{"status_code":"4012","fields":["udf_fields.udf_sline_301","category"],"type":"failed"}]}]}`))
	_, err := c.Requests.Update(context.Background(), "71", &servicedesk.RequestInput{Subject: "x"})
	if !errors.Is(err, servicedesk.ErrMandatoryField) {
		t.Fatalf("error %v, want ErrMandatoryField", err)
	}
	if se := asError(t, err); !reflect.DeepEqual(se.Fields(), []string{"udf_fields.udf_sline_301", "category"}) {
		t.Fatalf("Fields() = %q", se.Fields())
	}
}

func TestAnswerOverTheSizeCapIsAnError(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t, servicedesk.WithMaxBodySize(64))
	mock.RegisterResponder("GET", apiURL+"requests/71", sdpJSON(200, okRequest71))
	_, err := c.Requests.Get(context.Background(), "71")
	if err == nil || !strings.Contains(err.Error(), "exceeds 64 bytes") {
		t.Fatalf("error %v, want the size cap", err)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests/71", func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(302, "")
		r.Header.Set("Location", "https://elsewhere.test/login")
		return r, nil
	})
	_, err := c.Requests.Get(context.Background(), "71")
	if se := asError(t, err); se.HTTPStatus != 302 {
		t.Fatalf("error %+v, want the 302 itself", se)
	}
	if n := mock.GetTotalCallCount(); n != 1 {
		t.Fatalf("calls = %d, want 1 (no request to the redirect target)", n)
	}
}

// fakeOAuth is a Reauthenticator that renews its token on demand.
type fakeOAuth struct {
	mu       sync.Mutex
	token    string
	renewals int
	rejected []string
	fail     error
}

func (f *fakeOAuth) Authenticate(r *http.Request) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Header.Set("Authorization", "Zoho-oauthtoken "+f.token)
	return nil
}

func (f *fakeOAuth) Reauthenticate(_ context.Context, rejected *http.Request) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rejected = append(f.rejected, rejected.Header.Get("Authorization"))
	if f.fail != nil {
		return false, f.fail
	}
	f.renewals++
	f.token = "a" + strconv.Itoa(f.renewals+1)
	return true, nil
}

func newCloudMock(t *testing.T, auth servicedesk.Authenticator) (*servicedesk.Client, *httpmock.MockTransport) {
	t.Helper()
	mock := httpmock.NewMockTransport()
	c, err := servicedesk.NewClient("https://sdpondemand.manageengine.eu",
		servicedesk.WithCloudPortal("itdesk"), servicedesk.WithAuthenticator(auth),
		servicedesk.WithHTTPClient(&http.Client{Transport: mock}), servicedesk.WithRetry(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if c.Edition() != servicedesk.Cloud || c.BaseURL() != "https://sdpondemand.manageengine.eu/app/itdesk/api/v3/" {
		t.Fatalf("edition %v base %s", c.Edition(), c.BaseURL())
	}
	return c, mock
}

func TestReauthenticateOnceOn401(t *testing.T) {
	t.Parallel()
	auth := &fakeOAuth{token: "a1"}
	c, mock := newCloudMock(t, auth)
	const u = "https://sdpondemand.manageengine.eu/app/itdesk/api/v3/requests"
	mock.RegisterResponder("POST", u, func(r *http.Request) (*http.Response, error) {
		if r.Header.Get("Authorization") == "Zoho-oauthtoken a2" {
			return sdpJSON(201, okRequest71)(r)
		}
		return httpmock.NewStringResponse(401, `{"response_status":{"status_code":4000,"status":"failed","messages":[{"status_code":4022,"type":"failed","message":"Invalid API key"}]}}`), nil
	})
	if _, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "x"}); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if auth.renewals != 1 || !reflect.DeepEqual(auth.rejected, []string{"Zoho-oauthtoken a1"}) {
		t.Fatalf("renewals %d, rejected %q: want one renewal of the rejected a1", auth.renewals, auth.rejected)
	}
	if n := mock.GetCallCountInfo()["POST "+u]; n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
}

func TestReauthenticateNeverLoops(t *testing.T) {
	t.Parallel()
	auth := &fakeOAuth{token: "a1"}
	c, mock := newCloudMock(t, auth)
	const u = "https://sdpondemand.manageengine.eu/app/itdesk/api/v3/requests/71"
	mock.RegisterResponder("GET", u, httpmock.NewStringResponder(401, ""))
	_, err := c.Requests.Get(context.Background(), "71")
	if !errors.Is(err, servicedesk.ErrUnauthorized) {
		t.Fatalf("error %v, want ErrUnauthorized", err)
	}
	if auth.renewals != 1 || mock.GetCallCountInfo()["GET "+u] != 2 {
		t.Fatalf("renewals %d, calls %d: want 1 and 2", auth.renewals, mock.GetCallCountInfo()["GET "+u])
	}

	failing := &fakeOAuth{token: "a1", fail: errors.New("refresh refused")}
	c2, mock2 := newCloudMock(t, failing)
	mock2.RegisterResponder("GET", u, httpmock.NewStringResponder(401, ""))
	_, err = c2.Requests.Get(context.Background(), "71")
	if !errors.Is(err, servicedesk.ErrUnauthorized) || !strings.Contains(err.Error(), "refresh refused") {
		t.Fatalf("error %v, want ErrUnauthorized with the renewal failure", err)
	}
	if n := mock2.GetCallCountInfo()["GET "+u]; n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
}

func TestStaticAuthTokenIsNotReauthenticated(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests/71", sdpJSON(401, failed(4022, "Invalid API key")))
	_, err := c.Requests.Get(context.Background(), "71")
	if !errors.Is(err, servicedesk.ErrUnauthorized) {
		t.Fatalf("error %v", err)
	}
	if n := calls(mock, "GET", "requests/71"); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
}
