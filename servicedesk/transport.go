package servicedesk

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"
)

// The layers under the retry client, top to bottom:
//
//	retryablehttp.Client (policy, backoff)  → http.Client (no redirects)
//	→ authTransport (credentials on every attempt) → limitTransport (waits on every attempt)
//	→ timeoutTransport (per-attempt timeout, after the wait) → the base transport.

// authTransport decorates a copy of each attempt with credentials.
type authTransport struct {
	auth Authenticator
	next http.RoundTripper
}

// authError is an Authenticator's failure; it is never retried.
type authError struct{ err error }

func (e *authError) Error() string { return "authenticating request: " + e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

func (t *authTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if err := t.auth.Authenticate(r); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, &authError{err: err}
	}
	if st := stateFrom(req.Context()); st != nil {
		st.sent = r
	}
	return t.next.RoundTrip(r)
}

// limitTransport makes every attempt wait for the limiter.
type limitTransport struct {
	limiter *rate.Limiter // nil: no limit
	next    http.RoundTripper
}

// limitError reports that the limiter could not grant a slot before the
// context ends; it is never retried.
type limitError struct{ err error }

func (e *limitError) Error() string { return "waiting for the rate limiter: " + e.err.Error() }
func (e *limitError) Unwrap() error { return e.err }

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.limiter != nil {
		if err := t.limiter.Wait(req.Context()); err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, &limitError{err: err}
		}
	}
	return t.next.RoundTrip(req)
}

// requestHook counts attempts and logs retries.
func (c *Client) requestHook(_ retryablehttp.Logger, req *http.Request, attempt int) {
	st := stateFrom(req.Context())
	if st == nil {
		return
	}
	st.attempts = attempt + 1
	if attempt > 0 {
		c.log(slog.LevelDebug, "servicedesk: retrying", st, "attempt", attempt+1)
	}
}

// checkRetry is the retry policy (see the package documentation):
//   - never after the context ends, an Authenticator failure or a limiter
//     refusal, nor on TLS certificate errors;
//   - any method when the server certainly did not act: HTTP 429, or a
//     connection that was never made (refused, DNS failure, dial error);
//   - GET, PUT and DELETE on other transport errors and on 502, 503, 504.
//
// A status-driven retry returns (true, nil), so that when retries run out
// the last response is handed back and becomes an *Error.
func (c *Client) checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return false, ctxErr
	}
	st := stateFrom(ctx)
	idempotent := st != nil && st.idempotent
	if st == nil {
		st = &callState{}
	}
	if st.noRetry {
		return false, nil
	}
	if err != nil {
		var ae *authError
		var le *limitError
		if errors.As(err, &ae) || errors.As(err, &le) || isCertError(err) {
			return false, nil
		}
		retry := notSent(err) || idempotent
		if retry && !notSent(err) {
			st.ambiguous = true
		}
		c.log(slog.LevelWarn, "servicedesk: attempt failed", st, "error", sanitizeErr(err).Error(), "retry", retry)
		return retry, nil
	}
	retry := false
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		retry = true
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		retry = idempotent
		st.ambiguous = st.ambiguous || retry
	}
	if retry || resp.StatusCode >= 500 {
		c.log(slog.LevelWarn, "servicedesk: attempt failed", st, "status", resp.StatusCode, "retry", retry)
	}
	return retry, nil
}

// notSent reports whether err proves the request never reached the server.
func notSent(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

func isCertError(err error) bool {
	var (
		unknownAuth *x509.UnknownAuthorityError
		invalid     *x509.CertificateInvalidError
		hostname    *x509.HostnameError
		verify      *tls.CertificateVerificationError
	)
	return errors.As(err, &unknownAuth) || errors.As(err, &invalid) || errors.As(err, &hostname) || errors.As(err, &verify)
}

// backoff waits what a 429 or 503 asks for in Retry-After, capped by
// WithMaxRetryAfter; otherwise an exponential wait from min to max with
// jitter (half fixed, half random).
func (c *Client) backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, c.maxRA)
		}
	}
	d := minWait
	for i := 0; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	if d > maxWait || d < 0 {
		d = maxWait
	}
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(d-half)+1)) //nolint:gosec // jitter needs no cryptographic randomness
}

// String hides the transports' fields (the Authenticator) from fmt.
func (t *authTransport) String() string { return fmt.Sprintf("servicedesk.authTransport{%T}", t.auth) }
