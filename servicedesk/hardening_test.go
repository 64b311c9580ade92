package servicedesk_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vulndesk/mesd/servicedesk"
	"golang.org/x/time/rate"
)

// newServerClient returns a client of a real httptest server (for the
// layers that httpmock bypasses: timeouts, TLS), with its own transport
// whose idle connections are closed at the end of the test.
func newServerClient(t *testing.T, h http.HandlerFunc, opts ...servicedesk.Option) *servicedesk.Client {
	t.Helper()
	s := httptest.NewServer(h)
	tr := &http.Transport{}
	t.Cleanup(func() { tr.CloseIdleConnections(); s.Close() })
	base := []servicedesk.Option{
		servicedesk.WithAuthToken(testToken),
		servicedesk.WithHTTPClient(&http.Client{Transport: tr}),
		servicedesk.WithRetry(2, time.Millisecond, 2*time.Millisecond),
	}
	c, err := servicedesk.NewClient(s.URL, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func TestFormattingNeverRevealsTheAuthToken(t *testing.T) {
	t.Parallel()
	c, err := servicedesk.NewClient(testBase, servicedesk.WithAuthToken(testToken))
	if err != nil {
		t.Fatal(err)
	}
	auth, err := servicedesk.AuthToken(testToken)
	if err != nil {
		t.Fatal(err)
	}
	holder := struct{ Auth servicedesk.Authenticator }{auth} // an exported field reaches the methods
	hex := fmt.Sprintf("%x", testToken)
	values := map[string]any{
		// The copy is made through reflect: copying a Client is otherwise
		// something vet refuses (it may hold locks).
		"*Client": c, "Client": reflect.ValueOf(c).Elem().Interface(), "option": servicedesk.WithAuthToken(testToken),
		"Authenticator": auth, "struct holding it": holder, "pointer to it": &holder,
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%b", "%o", "%e", "%U", "%c", "%T", "%p", "%10.3s"}
	for name, v := range values {
		for _, verb := range verbs {
			s := fmt.Sprintf(verb, v)
			if strings.Contains(s, testToken) || strings.Contains(s, hex) || strings.Contains(strings.ToLower(s), strings.ToLower(hex)) {
				t.Errorf("%s formatted with %s reveals the token: %s", name, verb, s)
			}
		}
	}
	if s := fmt.Sprint(c); !strings.Contains(s, "https://sdp.test/api/v3/") || !strings.Contains(s, "on-premises") {
		t.Errorf("client summary %q lacks the base URL or the edition", s)
	}
}

func TestRateLimitWaitDoesNotEatTheAttemptTimeout(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	c := newServerClient(t, func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, okRequest71)
	}, servicedesk.WithTimeout(50*time.Millisecond), servicedesk.WithRateLimit(rate.Every(200*time.Millisecond), 1))
	start := time.Now()
	for i := range 2 {
		if _, err := c.Requests.Get(context.Background(), "71"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("two calls took %v: the second did not wait for the limiter", d)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("server saw %d attempts, want 2", n)
	}
}

func TestAttemptTimeoutStillBoundsASlowServer(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	c := newServerClient(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}, servicedesk.WithTimeout(30*time.Millisecond), servicedesk.WithRetry(1, time.Millisecond, time.Millisecond))
	start := time.Now()
	_, err := c.Requests.Get(context.Background(), "71")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error %v: want a timeout", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the call took %v: the per-attempt timeout did not apply", d)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("server saw %d attempts, want 2 (a timed-out GET is retried once)", n)
	}
}

func TestSuccessNeedsASuccessfulResponseStatus(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{}`, `{"error":"proxy says no"}`, `{"response_status":null}`, `{"response_status":[]}`, `{"response_status":{}}`, `{"response_status":{"status_code":3000}}`} {
		c, mock := newMockClient(t)
		mock.RegisterResponder("PUT", apiURL+"requests/71/close", sdpJSON(200, body))
		err := c.Requests.Close(context.Background(), "71", nil)
		if !errors.Is(err, servicedesk.ErrUnexpectedContent) {
			t.Errorf("close answered 200 %s: error %v, want ErrUnexpectedContent", body, err)
			continue
		}
		if se := asError(t, err); se.Method != "PUT" || se.HTTPStatus != 200 || !strings.Contains(se.Error(), "/api/v3/requests/71/close") {
			t.Errorf("error %q does not name the call", se.Error())
		}
	}
	for _, body := range []string{`{"response_status":{"status_code":2000}}`, `{"response_status":[{"status":"success"}]}`, `{"response_status":{"status_code":"2000","status":"success"}}`} {
		c, mock := newMockClient(t)
		mock.RegisterResponder("PUT", apiURL+"requests/71/close", sdpJSON(200, body))
		if err := c.Requests.Close(context.Background(), "71", nil); err != nil {
			t.Errorf("close answered 200 %s: %v", body, err)
		}
	}
}

func TestFailureSignalledOnlyByStatusCodeOnHTTP200(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("PUT", apiURL+"requests/71/close",
		sdpJSON(200, `{"response_status":{"status_code":4000,"messages":[{"status_code":4012,"field":"subject"}]}}`))
	err := c.Requests.Close(context.Background(), "71", nil)
	se := asError(t, err)
	if se.HTTPStatus != 200 || se.StatusCode != 4000 || !errors.Is(err, servicedesk.ErrMandatoryField) {
		t.Errorf("error %+v: want HTTP 200, status 4000, matching ErrMandatoryField", se)
	}
	if f := se.Fields(); len(f) != 1 || f[0] != "subject" {
		t.Errorf("Fields() = %q, want [subject]", f)
	}
}

const listPage = `{"requests":[{"id":"1"},{"id":"2"}],"list_info":{"has_more_rows":true,"start_index":1,"row_count":2},"response_status":[{"status_code":2000,"status":"success"}]}`

func TestAllStopsWhenTheServerIgnoresStartIndex(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", sdpJSON(200, listPage))
	n := 0
	var last error
	for r, err := range c.Requests.All(context.Background(), &servicedesk.ListOptions{RowCount: 2}) {
		if err != nil {
			last = err
			break
		}
		if r == nil {
			t.Fatal("nil row without an error")
		}
		if n++; n > 10 {
			t.Fatal("All keeps yielding rows from a server that ignores start_index")
		}
	}
	if n != 2 || !errors.Is(last, servicedesk.ErrUnexpectedContent) || !strings.Contains(last.Error(), "from row 3") {
		t.Errorf("yielded %d rows, then %v: want the first page's 2 rows, then an error naming row 3", n, last)
	}
	if got := calls(mock, "GET", "requests"); got != 2 {
		t.Errorf("%d pages asked, want 2", got)
	}
}

func TestAllStopsOnAnEmptyPageWithMoreRows(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", sdpJSON(200,
		`{"requests":[],"list_info":{"has_more_rows":true},"response_status":[{"status_code":2000,"status":"success"}]}`))
	var errs []error
	for r, err := range c.Requests.All(context.Background(), nil) {
		if r != nil {
			t.Errorf("row %v from an empty page", r)
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 || errs[0] == nil || !strings.Contains(errs[0].Error(), "empty page") {
		t.Errorf("errors %v: want one error about the empty page", errs)
	}
}

func TestNullListRowsAreReportedNotYielded(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", sdpJSON(200,
		`{"requests":[{"id":"1"},null],"list_info":{"has_more_rows":false},"response_status":[{"status_code":2000,"status":"success"}]}`))
	mock.RegisterResponder("GET", apiURL+"requests/1/notes", sdpJSON(200,
		`{"notes":[null],"list_info":{"has_more_rows":false},"response_status":[{"status_code":2000,"status":"success"}]}`))
	ctx := context.Background()
	if _, err := c.Requests.List(ctx, nil); !errors.Is(err, servicedesk.ErrUnexpectedContent) || !strings.Contains(err.Error(), "requests[1]") {
		t.Errorf("List: %v, want ErrUnexpectedContent naming requests[1]", err)
	}
	for r, err := range c.Requests.All(ctx, nil) {
		if r == nil && err == nil {
			t.Error("All yielded (nil, nil)")
		}
	}
	if _, err := c.Requests.ListNotes(ctx, "1", nil); !errors.Is(err, servicedesk.ErrUnexpectedContent) || !strings.Contains(err.Error(), "notes[0]") {
		t.Errorf("ListNotes: %v, want ErrUnexpectedContent naming notes[0]", err)
	}
}

func TestOversizedAnswerKeepsItsStatus(t *testing.T) {
	t.Parallel()
	huge := `{"response_status":{"status_code":4000,"messages":[{"status_code":4007,"message":"` + strings.Repeat("A", 5000) + `"}]}}`
	for _, tc := range []struct {
		status   int
		sentinel error
	}{{404, servicedesk.ErrNotFound}, {401, servicedesk.ErrUnauthorized}, {200, servicedesk.ErrUnexpectedContent}} {
		c, mock := newMockClient(t, servicedesk.WithMaxBodySize(1000), servicedesk.WithRetry(0, 0, 0))
		mock.RegisterResponder("GET", apiURL+"requests/71", sdpJSON(tc.status, huge))
		_, err := c.Requests.Get(context.Background(), "71")
		se := asError(t, err)
		if se.HTTPStatus != tc.status || !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), "exceeds 1000 bytes") {
			t.Errorf("HTTP %d oversized: %v, want an *Error with the status matching %v", tc.status, err, tc.sentinel)
		}
		if len(err.Error()) > 300 {
			t.Errorf("error is %d bytes long", len(err.Error()))
		}
	}
}

func TestUndecodableAnswerNamesTheCallNotTheBody(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"request":{"id":"71","created_time":{"value":"` + inputMarker + `"}},"response_status":{"status_code":2000,"status":"success"}}`,
		`{"request":{"id":"71","subject":["` + inputMarker + `"]},"response_status":{"status_code":2000,"status":"success"}}`,
		`{"request":{"id":"71","subject":"` + inputMarker + `"},"response_status":{"status_code":2000,"status":"success"}` + "\x01",
	} {
		c, mock := newMockClient(t)
		mock.RegisterResponder("GET", apiURL+"requests/71", sdpJSON(200, body))
		_, err := c.Requests.Get(context.Background(), "71")
		if !errors.Is(err, servicedesk.ErrUnexpectedContent) {
			t.Errorf("body %.60s: error %v, want ErrUnexpectedContent", body, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "GET /api/v3/requests/71") || !strings.Contains(msg, "does not decode") {
			t.Errorf("error %q does not name the call and the cause", msg)
		}
		assertClean(t, "decode error", err.Error())
	}
}

func TestCriterionProblemsNameTheirPath(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", sdpJSON(200, `{"requests":[],"list_info":{"has_more_rows":false},"response_status":{"status_code":2000}}`))
	ctx := context.Background()
	list := func(cs ...servicedesk.Criterion) error {
		_, err := c.Requests.List(ctx, &servicedesk.ListOptions{SearchCriteria: cs})
		return err
	}
	err := list(servicedesk.Criterion{Field: "subject", Condition: servicedesk.Is, Value: "x"},
		servicedesk.Criterion{Field: "id", Condition: servicedesk.Is, Value: make(chan int), LogicalOperator: servicedesk.And})
	if err == nil || !strings.Contains(err.Error(), "list_info.search_criteria[1].value") {
		t.Errorf("unencodable value: %v, want an error naming list_info.search_criteria[1].value", err)
	}
	for _, cr := range []servicedesk.Criterion{
		{Field: "created_time", Condition: servicedesk.Between, Value: "1"},
		{Field: "created_time", Condition: servicedesk.NotBetween, Values: []string{"1"}},
		{Field: "created_time", Condition: "Between", Values: []string{"1", "2", "3"}},
	} {
		if err := list(cr); err == nil || !strings.Contains(err.Error(), "exactly two values") || !strings.Contains(err.Error(), "search_criteria[0]") {
			t.Errorf("%+v: %v, want an error asking for two values", cr, err)
		}
	}
	if err := list(servicedesk.Criterion{Field: "created_time", Condition: servicedesk.Between, Values: []string{"1", "2"}}); err != nil {
		t.Errorf("between with two values: %v", err)
	}
	if n := calls(mock, "GET", "requests"); n != 1 {
		t.Errorf("%d calls sent, want 1 (only the valid one)", n)
	}
}

func TestSubjectRejectsControlCharacters(t *testing.T) {
	t.Parallel()
	c, _ := newMockClient(t) // any call would fail the test through the no-responder
	for _, subj := range []string{"a\tb", "a\x00b", "a\x7fb", "a\u0085b", "a\u2028b", "a\rb", "a\nb"} {
		_, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: subj})
		if err == nil || !strings.Contains(err.Error(), "request.subject") {
			t.Errorf("subject %q: error %v, want one naming request.subject", subj, err)
		}
		_, err = c.Requests.Update(context.Background(), "71", &servicedesk.RequestInput{Subject: subj})
		if err == nil {
			t.Errorf("update with subject %q accepted", subj)
		}
	}
}

func TestErrorPrintsAtMostFiveMessages(t *testing.T) {
	t.Parallel()
	e := &servicedesk.Error{Method: "POST", Path: "/api/v3/requests", HTTPStatus: 400, StatusCode: 4000}
	for i := range 8 {
		e.Messages = append(e.Messages, servicedesk.Message{StatusCode: 4001, Message: fmt.Sprintf("message-%d", i)})
	}
	msg := e.Error()
	if !strings.Contains(msg, "message-4") || strings.Contains(msg, "message-5") || !strings.HasSuffix(msg, "and 3 more") {
		t.Errorf("Error() = %q: want messages 0..4, then \"and 3 more\"", msg)
	}
	if len(e.Codes()) != 8 {
		t.Errorf("Codes() lost messages: %v", e.Codes())
	}
}

func TestCertificateErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, okRequest71)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes
	s.StartTLS()
	tr := &http.Transport{} // does not trust the test certificate
	t.Cleanup(func() { tr.CloseIdleConnections(); s.Close() })
	c, err := servicedesk.NewClient(s.URL, servicedesk.WithAuthToken(testToken),
		servicedesk.WithHTTPClient(&http.Client{Transport: tr}), servicedesk.WithRetry(3, time.Millisecond, 2*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Requests.Get(context.Background(), "71")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("error %v: want a certificate error", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections made, want 1: a certificate error must not be retried", n)
	}
}

// TestFormattingNeverRevealsZohoSecrets: the cloud token source holds a
// client secret, a refresh token and, once fetched, an access token; no fmt
// verb on the source, on a client using it or on a copy of that client
// shows any of them.
func TestFormattingNeverRevealsZohoSecrets(t *testing.T) {
	t.Parallel()
	const (
		secret  = "zoho-client-secret-0123456789"
		refresh = "1000.zoho-refresh-token-abcdef"
		access  = "1000.zoho-access-token-fedcba"
	)
	accounts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"access_token":"`+access+`","expires_in":3600,"api_domain":"https://www.zohoapis.com","token_type":"Bearer"}`)
	}))
	defer accounts.Close()
	src, err := servicedesk.NewZohoTokenSource(servicedesk.ZohoConfig{
		ClientID: "client-id", ClientSecret: secret, RefreshToken: refresh, AccountsURL: accounts.URL,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := src.Token(context.Background()); err != nil || tok != access {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	c, err := servicedesk.NewClient("https://sdpondemand.manageengine.com", servicedesk.WithCloudPortal("itdesk"),
		servicedesk.WithAuthenticator(src))
	if err != nil {
		t.Fatal(err)
	}
	holder := struct{ Auth servicedesk.Authenticator }{src}
	values := map[string]any{
		"source": src, "source value": reflect.ValueOf(src).Elem().Interface(),
		"*Client": c, "Client": reflect.ValueOf(c).Elem().Interface(),
		"struct holding it": holder, "pointer to it": &holder,
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%b", "%o", "%e", "%U", "%c", "%p", "%10.3s"}
	for name, v := range values {
		for _, verb := range verbs {
			s := fmt.Sprintf(verb, v)
			for _, sec := range []string{secret, refresh, access} {
				if strings.Contains(s, sec) || strings.Contains(strings.ToLower(s), fmt.Sprintf("%x", sec)) {
					t.Errorf("%s formatted with %s reveals a secret: %s", name, verb, s)
				}
			}
		}
	}
}
