package servicedesk_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/vulndesk/mesd/servicedesk"
	"golang.org/x/time/rate"
)

func TestRetry503Then200IsOneSuccessAfterTwoCalls(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests/71",
		sdpJSON(503, "").Then(sdpJSON(200, okRequest71)))
	r, err := c.Requests.Get(context.Background(), "71")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if r.ID != "71" || r.Subject != "Printer on fire" {
		t.Fatalf("Get = %+v", r)
	}
	if n := calls(mock, "GET", "requests/71"); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
}

func TestRetriesExhaustedKeepLastResponse(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t, servicedesk.WithRetry(2, time.Millisecond, time.Millisecond))
	mock.RegisterResponder("GET", apiURL+"requests/71",
		sdpJSON(502, "").Then(sdpJSON(503, "")).Then(sdpJSON(504, failed(4004, "Internal error"))))
	_, err := c.Requests.Get(context.Background(), "71")
	se := asError(t, err)
	if se.HTTPStatus != 504 || se.Attempts != 3 || len(se.Messages) != 1 || se.Messages[0].StatusCode != 4004 {
		t.Fatalf("error = %+v, want the last answer (504, 4004) after 3 attempts", se)
	}
	if n := calls(mock, "GET", "requests/71"); n != 3 {
		t.Fatalf("calls = %d, want 3", n)
	}
}

func TestPostWithLostResponseIsNotResent(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("POST", apiURL+"requests", httpmock.NewErrorResponder(timeoutError{}))
	_, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "x"})
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Create error = %v, want a timeout net.Error", err)
	}
	if n := calls(mock, "POST", "requests"); n != 1 {
		t.Fatalf("POST sent %d times, want 1", n)
	}
}

func TestPostNotRetriedOn5xx(t *testing.T) {
	t.Parallel()
	for _, status := range []int{500, 502, 503, 504} {
		c, mock := newMockClient(t)
		mock.RegisterResponder("POST", apiURL+"requests", sdpJSON(status, ""))
		_, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "x"})
		if se := asError(t, err); se.HTTPStatus != status {
			t.Fatalf("status %d: error %+v", status, se)
		}
		if n := calls(mock, "POST", "requests"); n != 1 {
			t.Fatalf("status %d: POST sent %d times, want 1", status, n)
		}
	}
}

func TestPostRetriedWhenServerCertainlyDidNotAct(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for name, first := range map[string]httpmock.Responder{
		"429":                sdpJSON(429, failed(4015, "rate limit")),
		"connection refused": httpmock.NewErrorResponder(refused),
	} {
		c, mock := newMockClient(t)
		mock.RegisterResponder("POST", apiURL+"requests", first.Then(sdpJSON(201, okRequest71)))
		if _, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "x"}); err != nil {
			t.Fatalf("%s: Create: %v", name, err)
		}
		if n := calls(mock, "POST", "requests"); n != 2 {
			t.Fatalf("%s: POST sent %d times, want 2", name, n)
		}
	}
}

func TestIdempotentMethodsRetriedOnNetworkErrors(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests/71",
		httpmock.NewErrorResponder(timeoutError{}).Then(sdpJSON(200, okRequest71)))
	mock.RegisterResponder("PUT", apiURL+"requests/71",
		httpmock.NewErrorResponder(timeoutError{}).Then(sdpJSON(200, okRequest71)))
	if _, err := c.Requests.Get(context.Background(), "71"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if _, err := c.Requests.Update(context.Background(), "71", &servicedesk.RequestInput{Subject: "y"}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	if g, p := calls(mock, "GET", "requests/71"), calls(mock, "PUT", "requests/71"); g != 2 || p != 2 {
		t.Fatalf("calls GET %d PUT %d, want 2 and 2", g, p)
	}
}

func TestNoRetryOnClientErrors(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests/71", sdpJSON(400, failed(4001, "Invalid Input")))
	_, err := c.Requests.Get(context.Background(), "71")
	if !errors.Is(err, servicedesk.ErrInvalidInput) {
		t.Fatalf("error %v, want ErrInvalidInput", err)
	}
	if n := calls(mock, "GET", "requests/71"); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
}

func TestRetryAfterIsHonouredAndCapped(t *testing.T) {
	t.Parallel()
	// Retry-After asks for 5 s; the cap (WithMaxRetryAfter 40ms) shortens
	// it. The ordinary backoff is 1 ms, so a wait of 40 ms or more can only
	// come from Retry-After.
	c, mock := newMockClient(t,
		servicedesk.WithRetry(2, time.Millisecond, time.Millisecond),
		servicedesk.WithMaxRetryAfter(40*time.Millisecond))
	limited := func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(429, failed(4015, "API rate limit reached"))
		r.Header.Set("Retry-After", "5")
		return r, nil
	}
	mock.RegisterResponder("GET", apiURL+"requests/71", httpmock.Responder(limited).Then(sdpJSON(200, okRequest71)))
	start := time.Now()
	if _, err := c.Requests.Get(context.Background(), "71"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if el := time.Since(start); el < 40*time.Millisecond || el > 4*time.Second {
		t.Fatalf("took %v, want the capped Retry-After (40ms), far below 5s", el)
	}
	if n := calls(mock, "GET", "requests/71"); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
}

func TestRateLimitExhaustedKeepsRetryAfterAndCode(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t, servicedesk.WithRetry(1, time.Millisecond, time.Millisecond),
		servicedesk.WithMaxRetryAfter(time.Millisecond))
	mock.RegisterResponder("GET", apiURL+"requests/71", func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(429, failed(4015, "API rate limit reached"))
		r.Header.Set("Retry-After", "7")
		return r, nil
	})
	_, err := c.Requests.Get(context.Background(), "71")
	se := asError(t, err)
	if !errors.Is(err, servicedesk.ErrRateLimited) || se.RetryAfter != 7*time.Second || se.Attempts != 2 {
		t.Fatalf("error %+v: want ErrRateLimited, RetryAfter 7s, 2 attempts", se)
	}
}

func TestLimiterSitsUnderTheRetryLayer(t *testing.T) {
	t.Parallel()
	// One token an hour: the first attempt takes it, so the retry of a 503
	// must wait for the limiter, which cannot grant it before the context
	// deadline. If the limiter were above the retry layer the retry would
	// slip through and succeed.
	c, mock := newMockClient(t, servicedesk.WithRateLimit(rate.Every(time.Hour), 1))
	mock.RegisterResponder("GET", apiURL+"requests/71", sdpJSON(503, "").Then(sdpJSON(200, okRequest71)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Requests.Get(ctx, "71")
	if err == nil || !strings.Contains(err.Error(), "rate limiter") {
		t.Fatalf("Get: %v, want the limiter refusing the retry", err)
	}
	if n := calls(mock, "GET", "requests/71"); n != 1 {
		t.Fatalf("calls = %d, want 1 (the retry is held by the limiter)", n)
	}
}

func TestEveryAttemptWaitsForTheLimiter(t *testing.T) {
	t.Parallel()
	// 50 per second, burst 1: three attempts need at least two intervals.
	c, mock := newMockClient(t, servicedesk.WithRateLimit(50, 1), servicedesk.WithRetry(3, 0, 0))
	mock.RegisterResponder("GET", apiURL+"requests/71",
		sdpJSON(503, "").Then(sdpJSON(503, "")).Then(sdpJSON(200, okRequest71)))
	start := time.Now()
	if _, err := c.Requests.Get(context.Background(), "71"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if el := time.Since(start); el < 35*time.Millisecond {
		t.Fatalf("three attempts took %v, want at least 2×20ms from the limiter", el)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t, servicedesk.WithRetry(5, time.Hour, time.Hour))
	mock.RegisterResponder("GET", apiURL+"requests/71", sdpJSON(503, ""))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Requests.Get(ctx, "71")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want context.DeadlineExceeded", err)
	}
}

func TestNoIdempotencyKeyHeaderIsSent(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("POST", apiURL+"requests", func(r *http.Request) (*http.Response, error) {
		for k := range r.Header {
			if http.CanonicalHeaderKey(k) == "Idempotency-Key" || http.CanonicalHeaderKey(k) == "X-Idempotency-Key" {
				t.Errorf("header %s sent", k)
			}
		}
		return sdpJSON(201, okRequest71)(r)
	})
	if _, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestTimeoutAppliesPerAttempt(t *testing.T) {
	t.Parallel()
	// The first attempt hangs past the 20ms per-attempt timeout and is
	// abandoned; the GET is retried and the second attempt answers.
	c, mock := newMockClient(t, servicedesk.WithTimeout(20*time.Millisecond))
	mock.RegisterResponder("GET", apiURL+"requests/71",
		sdpJSON(200, okRequest71).Delay(time.Second).Then(sdpJSON(200, okRequest71)))
	start := time.Now()
	if _, err := c.Requests.Get(context.Background(), "71"); err != nil {
		t.Fatalf("Get: %v", err)
	}
	if el := time.Since(start); el > 900*time.Millisecond {
		t.Fatalf("took %v: the hanging attempt was not cut at 20ms", el)
	}
	if n := calls(mock, "GET", "requests/71"); n != 2 {
		t.Fatalf("calls = %d, want 2", n)
	}
}

func TestConcurrentCallsShareOneClient(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t, servicedesk.WithRateLimit(10000, 5))
	mock.RegisterResponder("GET", apiURL+"requests/71", sdpJSON(200, okRequest71))
	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.Requests.Get(context.Background(), "71")
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := calls(mock, "GET", "requests/71"); got != n {
		t.Fatalf("calls = %d, want %d", got, n)
	}
}
