package faraday

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBackoffHonoursRetryAfterWithinCap(t *testing.T) {
	withHeader := func(v string) http.Header { return http.Header{"Retry-After": {v}} }
	if d := backoffFor(time.Millisecond, 5*time.Millisecond, 0, withHeader("120")); d != 5*time.Millisecond {
		t.Errorf("Retry-After 120 s capped at 5 ms: got %v", d)
	}
	if d := backoffFor(time.Millisecond, time.Second, 0, withHeader("0")); d != 0 {
		t.Errorf("Retry-After 0: got %v", d)
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if d := backoffFor(time.Millisecond, 7*time.Millisecond, 0, withHeader(future)); d != 7*time.Millisecond {
		t.Errorf("Retry-After date capped: got %v", d)
	}
	for attempt := range 40 {
		d := backoffFor(2*time.Millisecond, 50*time.Millisecond, attempt, withHeader("soon"))
		if d < 2*time.Millisecond || d > 50*time.Millisecond {
			t.Errorf("attempt %d: %v outside [2ms, 50ms]", attempt, d)
		}
	}
	if d := backoffFor(time.Millisecond, 9*time.Millisecond, 0, withHeader("99999999999999999")); d != 9*time.Millisecond {
		t.Errorf("huge Retry-After: %v", d)
	}
	if _, ok := retryAfter("-3", time.Now()); ok {
		t.Error("negative Retry-After accepted")
	}
}

func TestCheckRetryPolicy(t *testing.T) {
	idem := context.WithValue(context.Background(), idempotentKey, true)
	post := context.WithValue(context.Background(), idempotentKey, false)
	netErr := &url.Error{Op: "Post", URL: "https://x", Err: errors.New("connection reset by peer")}
	refused := &url.Error{Op: "Post", URL: "https://x", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name string
		ctx  context.Context
		code int // 0: no response
		err  error
		want bool
	}{
		{"GET 503", idem, 503, nil, true},
		{"GET 502", idem, 502, nil, true},
		{"GET 504", idem, 504, nil, true},
		{"GET 500", idem, 500, nil, false},
		{"GET 404", idem, 404, nil, false},
		{"GET reset", idem, 0, netErr, true},
		{"POST 503", post, 503, nil, false},
		{"POST 429", post, 429, nil, true},
		{"POST reset", post, 0, netErr, false},
		{"POST refused", post, 0, refused, true},
		{"GET x509", idem, 0, &url.Error{Op: "Get", URL: "https://x", Err: errors.New("tls: failed to verify certificate: x509: unknown authority")}, false},
		{"limiter", idem, 0, &url.Error{Op: "Get", URL: "https://x", Err: &limiterError{err: errors.New("no")}}, false},
	}
	for _, c := range cases {
		var resp *http.Response
		if c.code != 0 {
			resp = &http.Response{StatusCode: c.code, Body: http.NoBody}
		}
		got, err := checkRetry(c.ctx, resp, c.err)
		if got != c.want || err != nil {
			t.Errorf("%s: retry %v, %v; want %v", c.name, got, err, c.want)
		}
	}
	done, cancel := context.WithCancel(idem)
	cancel()
	if got, err := checkRetry(done, &http.Response{StatusCode: 503, Body: http.NoBody}, nil); got || !errors.Is(err, context.Canceled) {
		t.Errorf("done context: %v, %v", got, err)
	}
}

func TestRedaction(t *testing.T) {
	u, _ := url.Parse("https://user:pw@faraday.example.com/_api/v3/ws/a/vulns/filter?q=secret&page=2")
	got := redactURL(u)
	if strings.Contains(got, "pw") || strings.Contains(got, "secret") || !strings.Contains(got, "page=REDACTED") {
		t.Errorf("redactURL = %s", got)
	}
	err := sanitizeErr(&url.Error{Op: "Get", URL: u.String(), Err: errors.New("EOF")})
	if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "pw") {
		t.Errorf("sanitizeErr = %v", err)
	}
}
