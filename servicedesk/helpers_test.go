package servicedesk_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/servicedesk"
)

const (
	testBase  = "https://sdp.test"
	testToken = "TOKEN-5f0e1c2d-do-not-leak"
	apiURL    = testBase + "/api/v3/"
)

// newMockClient returns a client whose base transport is an httpmock
// MockTransport in instance mode: the mock sits under the auth, limiter and
// retry layers, so every attempt is counted by it. Waits are milliseconds.
func newMockClient(t *testing.T, opts ...servicedesk.Option) (*servicedesk.Client, *httpmock.MockTransport) {
	t.Helper()
	mock := httpmock.NewMockTransport()
	mock.RegisterNoResponder(func(r *http.Request) (*http.Response, error) {
		t.Errorf("unexpected call %s %s", r.Method, r.URL.Path)
		return httpmock.NewStringResponse(http.StatusTeapot, ""), nil
	})
	base := []servicedesk.Option{
		servicedesk.WithAuthToken(testToken),
		servicedesk.WithHTTPClient(&http.Client{Transport: mock}),
		servicedesk.WithRetry(3, time.Millisecond, 2*time.Millisecond),
		servicedesk.WithMaxRetryAfter(30 * time.Millisecond),
	}
	c, err := servicedesk.NewClient(testBase, append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, mock
}

// sdpJSON returns a responder answering status with body as an SDP JSON
// answer.
func sdpJSON(status int, body string) httpmock.Responder {
	return func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(status, body)
		r.Header.Set("Content-Type", "application/json;charset=UTF-8")
		return r, nil
	}
}

const okRequest71 = `{"request":{"id":"71","subject":"Printer on fire","status":{"id":"2","name":"Open"}},"response_status":{"status_code":2000,"status":"success"}}`

func failed(code int, msg string) string {
	b, _ := json.Marshal(map[string]any{"response_status": map[string]any{
		"status_code": 4000, "status": "failed",
		"messages": []any{map[string]any{"status_code": code, "type": "failed", "message": msg}},
	}})
	return string(b)
}

// timeoutError is a net.Error whose Timeout is true: a response lost in
// flight.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout (simulated)" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func calls(mock *httpmock.MockTransport, method, path string) int {
	return mock.GetCallCountInfo()[method+" "+apiURL+path]
}

// inputData decodes the input_data form field of a write.
func inputData(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	if err := r.ParseForm(); err != nil {
		t.Errorf("ParseForm: %v", err)
		return nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(r.PostForm.Get("input_data"))))
	if err := dec.Decode(&m); err != nil {
		t.Errorf("input_data is not JSON: %v", err)
	}
	return m
}

// listInfo decodes list_info from the input_data query parameter.
func listInfo(t *testing.T, u *url.URL) map[string]any {
	t.Helper()
	var m struct {
		ListInfo map[string]any `json:"list_info"`
	}
	if err := json.Unmarshal([]byte(u.Query().Get("input_data")), &m); err != nil {
		t.Errorf("input_data query is not JSON: %v", err)
	}
	return m.ListInfo
}

func newTestLogger() (*slog.Logger, *testutil.SyncBuffer) {
	buf := &testutil.SyncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

func asError(t *testing.T, err error) *servicedesk.Error {
	t.Helper()
	var se *servicedesk.Error
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a *servicedesk.Error", err, err)
	}
	return se
}
