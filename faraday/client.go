package faraday

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"
)

// Version is the version of this SDK, sent in the default User-Agent.
const Version = "0.1.0"

// Defaults used by NewClient.
const (
	DefaultTimeout      = 30 * time.Second // per attempt
	DefaultRetryMax     = 3
	DefaultRetryWaitMin = 200 * time.Millisecond
	DefaultRetryWaitMax = 5 * time.Second
	// DefaultMaxBodySize caps a successful response body. A list of vulns
	// carries full HTTP requests and responses, so it can be large.
	DefaultMaxBodySize = 64 << 20
	// maxErrorBody caps the part of an error response that is read and kept.
	maxErrorBody = 64 << 10
)

// apiPrefix is where Faraday serves REST API v3, below the server root.
const apiPrefix = "_api/v3/"

// Client talks to one Faraday server's REST API v3. Create it with
// NewClient; it is safe for concurrent use. Its services group the calls:
//
//	c.Vulns.List(ctx, "acme", &faraday.ListVulnsOptions{Confirmed: faraday.Ptr(true)})
//	c.Workspaces.Get(ctx, "acme")
type Client struct {
	base      *url.URL // server root, path ending in "/"
	api       *url.URL // base + "_api/v3/"
	http      *retryablehttp.Client
	auth      func(*http.Request)
	userAgent string
	maxBody   int64

	// Vulns reads and updates vulnerabilities of a workspace.
	Vulns *VulnsService
	// Workspaces lists and reads workspaces.
	Workspaces *WorkspacesService
}

// RateLimiter is what the client waits on before every attempt, retries
// included. *rate.Limiter satisfies it.
type RateLimiter interface {
	Wait(ctx context.Context) error
}

// Option configures a Client in NewClient. Options are validated: a bad
// value makes NewClient fail instead of being ignored.
type Option func(*clientOptions) error

type clientOptions struct {
	httpClient   *http.Client
	timeout      time.Duration
	timeoutSet   bool
	authKind     string // "", "token" or "basic"
	token        string
	user, pass   string
	retryMax     int
	retryWaitMin time.Duration
	retryWaitMax time.Duration
	limiter      RateLimiter
	userAgent    string
	maxBody      int64
	logger       *slog.Logger
}

// WithToken authenticates every request with "Authorization: Token <jwt>",
// the API token Faraday hands out at GET /_api/v3/token.
func WithToken(jwt string) Option {
	return func(o *clientOptions) error {
		if err := checkCredential("token", jwt); err != nil {
			return err
		}
		if o.authKind != "" {
			return fmt.Errorf("%w: WithToken: %s authentication already chosen", ErrInvalidOption, o.authKind)
		}
		o.authKind, o.token = "token", jwt
		return nil
	}
}

// WithBasicAuth authenticates every request with HTTP Basic, which Faraday
// checks against the user's password on every request.
func WithBasicAuth(username, password string) Option {
	return func(o *clientOptions) error {
		if username == "" || strings.Contains(username, ":") || strings.ContainsAny(username, "\r\n") {
			return fmt.Errorf("%w: WithBasicAuth: the user name must be non-empty without ':' or line breaks", ErrInvalidOption)
		}
		if err := checkCredential("password", password); err != nil {
			return err
		}
		if o.authKind != "" {
			return fmt.Errorf("%w: WithBasicAuth: %s authentication already chosen", ErrInvalidOption, o.authKind)
		}
		o.authKind, o.user, o.pass = "basic", username, password
		return nil
	}
}

// checkCredential refuses empty credentials and control characters without
// ever quoting the value.
func checkCredential(what, v string) error {
	if v == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalidOption, what)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return fmt.Errorf("%w: the %s holds a control character at byte %d", ErrInvalidOption, what, i)
		}
	}
	return nil
}

// WithHTTPClient uses a copy of hc for the attempts (its Transport, Jar and
// CheckRedirect; its Timeout unless WithTimeout is given). hc itself is
// never modified.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *clientOptions) error {
		if hc == nil {
			return fmt.Errorf("%w: WithHTTPClient: nil client", ErrInvalidOption)
		}
		o.httpClient = hc
		return nil
	}
}

// WithTimeout bounds every attempt (0 means none; the context still
// applies). The default is DefaultTimeout.
func WithTimeout(d time.Duration) Option {
	return func(o *clientOptions) error {
		if d < 0 {
			return fmt.Errorf("%w: WithTimeout: negative duration %s", ErrInvalidOption, d)
		}
		o.timeout, o.timeoutSet = d, true
		return nil
	}
}

// WithRetry sets how many times a retryable failure is retried and the
// bounds of the wait between attempts. A server's Retry-After is honoured up
// to maxWait.
func WithRetry(maxRetries int, minWait, maxWait time.Duration) Option {
	return func(o *clientOptions) error {
		if maxRetries < 0 || minWait < 0 || maxWait < minWait {
			return fmt.Errorf("%w: WithRetry(%d, %s, %s): want retries ≥ 0 and 0 ≤ minWait ≤ maxWait", ErrInvalidOption, maxRetries, minWait, maxWait)
		}
		o.retryMax, o.retryWaitMin, o.retryWaitMax = maxRetries, minWait, maxWait
		return nil
	}
}

// WithoutRetries makes every call a single attempt.
func WithoutRetries() Option {
	return func(o *clientOptions) error {
		o.retryMax = 0
		return nil
	}
}

// WithRateLimit makes every attempt wait for a token of a limiter allowing r
// requests per second with the given burst (at least 1).
func WithRateLimit(r rate.Limit, burst int) Option {
	return func(o *clientOptions) error {
		if r <= 0 || burst < 1 {
			return fmt.Errorf("%w: WithRateLimit(%v, %d): want a positive rate and burst ≥ 1", ErrInvalidOption, r, burst)
		}
		o.limiter = rate.NewLimiter(r, burst)
		return nil
	}
}

// WithLimiter makes every attempt wait on l (shared limiters, custom ones).
func WithLimiter(l RateLimiter) Option {
	return func(o *clientOptions) error {
		if l == nil {
			return fmt.Errorf("%w: WithLimiter: nil limiter", ErrInvalidOption)
		}
		o.limiter = l
		return nil
	}
}

// WithUserAgent replaces the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(o *clientOptions) error {
		if ua == "" || strings.ContainsAny(ua, "\r\n") {
			return fmt.Errorf("%w: WithUserAgent: empty or multi-line", ErrInvalidOption)
		}
		o.userAgent = ua
		return nil
	}
}

// WithMaxBodySize caps successful response bodies (default
// DefaultMaxBodySize); a larger body fails with ErrBodyTooLarge.
func WithMaxBodySize(n int64) Option {
	return func(o *clientOptions) error {
		if n <= 0 {
			return fmt.Errorf("%w: WithMaxBodySize(%d): want a positive size", ErrInvalidOption, n)
		}
		o.maxBody = n
		return nil
	}
}

// WithLogger logs retries (method, path without query, status, wait) at
// debug level. Headers and bodies are never logged. The default is silence.
func WithLogger(l *slog.Logger) Option {
	return func(o *clientOptions) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger: nil logger", ErrInvalidOption)
		}
		o.logger = l
		return nil
	}
}

// NewClient returns a client for the Faraday server at baseURL, the server
// root such as "https://faraday.example.com" (a path prefix is kept, for a
// server behind a reverse proxy; the client adds "/_api/v3/"). It does no
// I/O. Credentials go in options (WithToken or WithBasicAuth), never in the
// URL.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	base, err := parseBaseURL(baseURL)
	if err != nil {
		return nil, err
	}
	o := clientOptions{
		retryMax:     DefaultRetryMax,
		retryWaitMin: DefaultRetryWaitMin,
		retryWaitMax: DefaultRetryWaitMax,
		maxBody:      DefaultMaxBodySize,
		userAgent:    "mesd-faraday/" + Version,
	}
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i)
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}

	hc := &http.Client{Timeout: DefaultTimeout}
	if o.httpClient != nil {
		cp := *o.httpClient
		hc = &cp
		if !o.timeoutSet && hc.Timeout == 0 {
			hc.Timeout = DefaultTimeout
		}
	}
	if o.timeoutSet {
		hc.Timeout = o.timeout
	}
	inner := hc.Transport
	if inner == nil {
		inner = http.DefaultTransport
	}
	if o.limiter != nil {
		hc.Transport = &limitedTransport{next: inner, limiter: o.limiter}
	}

	rc := &retryablehttp.Client{
		HTTPClient:   hc,
		RetryMax:     o.retryMax,
		RetryWaitMin: o.retryWaitMin,
		RetryWaitMax: o.retryWaitMax,
		CheckRetry:   checkRetry,
		Backoff:      backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		Logger:       nil,
	}
	if o.logger != nil {
		logger := o.logger
		rc.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, attempt int) {
			if attempt > 0 {
				logger.Debug("faraday: retrying", "method", r.Method, "path", r.URL.Path, "attempt", attempt+1)
			}
		}
	}

	c := &Client{
		base:      base,
		api:       base.JoinPath(apiPrefix),
		http:      rc,
		userAgent: o.userAgent,
		maxBody:   o.maxBody,
	}
	if !strings.HasSuffix(c.api.Path, "/") {
		c.api.Path += "/"
	}
	switch o.authKind {
	case "token":
		v := "Token " + o.token
		c.auth = func(r *http.Request) { r.Header.Set("Authorization", v) }
	case "basic":
		u, p := o.user, o.pass
		c.auth = func(r *http.Request) { r.SetBasicAuth(u, p) }
	}
	c.Vulns = &VulnsService{client: c}
	c.Workspaces = &WorkspacesService{client: c}
	return c, nil
}

func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole input; it could hold a password.
		return nil, fmt.Errorf("%w: base URL does not parse", ErrInvalidOption)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%w: base URL scheme %q: want http or https", ErrInvalidOption, u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("%w: base URL has no host", ErrInvalidOption)
	case u.User != nil:
		return nil, fmt.Errorf("%w: base URL holds credentials; use WithBasicAuth or WithToken", ErrInvalidOption)
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("%w: base URL %s has a query or fragment", ErrInvalidOption, u.Redacted())
	case strings.Contains(u.Path, "/_api"):
		return nil, fmt.Errorf("%w: base URL %s names the API path; give the server root (the client adds /_api/v3/)", ErrInvalidOption, u.Redacted())
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u, nil
}

// BaseURL returns the server root the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// limitedTransport waits on the limiter before every attempt.
type limitedTransport struct {
	next    http.RoundTripper
	limiter RateLimiter
}

func (t *limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := t.limiter.Wait(r.Context()); err != nil {
		if r.Body != nil {
			_ = r.Body.Close()
		}
		return nil, &limiterError{err: err}
	}
	return t.next.RoundTrip(r)
}

// limiterError marks a refusal of the rate limiter (such as a wait that
// would pass the context's deadline): retrying cannot help.
type limiterError struct{ err error }

func (e *limiterError) Error() string { return "faraday: rate limiter: " + e.err.Error() }
func (e *limiterError) Unwrap() error { return e.err }

// CloseIdleConnections closes idle connections of the underlying transport.
func (t *limitedTransport) CloseIdleConnections() {
	if ci, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// CloseIdleConnections closes the client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.http.HTTPClient.CloseIdleConnections() }

type ctxKey int

const idempotentKey ctxKey = 1

// checkRetry is the retry policy: a done context stops at once; 429 is
// retried for every method (the server did not act); network errors and
// 502/503/504 only for calls marked idempotent (GET, and PATCHes that set a
// value, which give the same result when repeated). A refused connection is
// retried for every method.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	idem, _ := ctx.Value(idempotentKey).(bool)
	if err != nil {
		var le *limiterError
		if errors.As(err, &le) {
			return false, nil
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return true, nil
		}
		var ue *url.Error
		if errors.As(err, &ue) && (strings.Contains(ue.Err.Error(), "stopped after") || isTLSOrURLProblem(ue.Err)) {
			return false, nil
		}
		return idem, nil
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return true, nil
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return idem, nil
	}
	return false, nil
}

// isTLSOrURLProblem reports errors that a retry cannot fix.
func isTLSOrURLProblem(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:") || strings.Contains(msg, "unsupported protocol scheme")
}

// backoff waits Retry-After when the server sends one (capped at max), else
// an exponential wait from min with full jitter, capped at max.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	var h http.Header
	if resp != nil {
		h = resp.Header
	}
	return backoffFor(minWait, maxWait, attempt, h)
}

// backoffFor is backoff given the response headers (nil without a response).
func backoffFor(minWait, maxWait time.Duration, attempt int, h http.Header) time.Duration {
	if d, ok := retryAfter(h.Get("Retry-After"), time.Now()); ok {
		return min(d, maxWait)
	}
	d := minWait << min(attempt, 30)
	if d <= 0 || d > maxWait {
		d = maxWait
	}
	if d <= minWait {
		return minWait
	}
	return minWait + rand.N(d-minWait+1) //nolint:gosec // jitter needs no cryptographic randomness
}

// retryAfter reads a Retry-After value: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, 1<<30)) * time.Second, true // no overflow
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// call describes one API call.
type call struct {
	method     string
	path       string // below /_api/v3/, segments already escaped
	query      url.Values
	body       any // JSON-encoded when non-nil
	idempotent bool
}

// do performs the call and decodes a successful JSON body into out (when
// non-nil). Every failure is an *Error or a sanitized transport error.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	if ctx == nil {
		return fmt.Errorf("%w: nil context", ErrInvalidOption)
	}
	u := *c.api
	u.Path += cl.path
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	var body any
	if cl.body != nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(cl.body); err != nil {
			return fmt.Errorf("faraday: encoding the %s %s body: %w", cl.method, u.Path, err)
		}
		body = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	ctx = context.WithValue(ctx, idempotentKey, cl.idempotent)
	req, err := retryablehttp.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return &Error{Method: cl.method, URL: redactURL(&u), Err: err}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != nil {
		c.auth(req.Request)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return &Error{Method: cl.method, URL: redactURL(&u), Err: ctxErr}
		}
		return &Error{Method: cl.method, URL: redactURL(&u), Err: sanitizeErr(err)}
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newResponseError(cl.method, &u, resp)
	}
	data, err := readCapped(resp.Body, c.maxBody)
	if err != nil {
		return &Error{Method: cl.method, URL: redactURL(&u), StatusCode: resp.StatusCode, Err: err}
	}
	if out == nil {
		return nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" && !strings.Contains(ct, "json") {
		return &Error{Method: cl.method, URL: redactURL(&u), StatusCode: resp.StatusCode, Body: truncate(data),
			Err: fmt.Errorf("%w: content type %q, want JSON", ErrUnexpectedResponse, ct)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &Error{Method: cl.method, URL: redactURL(&u), StatusCode: resp.StatusCode, Body: truncate(data),
			Err: fmt.Errorf("%w: %w", ErrUnexpectedResponse, err)}
	}
	return nil
}

// readCapped reads all of r, failing with ErrBodyTooLarge past limit bytes.
func readCapped(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("faraday: reading the response body: %w", sanitizeErr(err))
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, limit)
	}
	return data, nil
}

func truncate(b []byte) []byte {
	if len(b) > maxErrorBody {
		return b[:maxErrorBody]
	}
	return b
}

// redactURL prints a URL without user info and without query values (the
// query names are kept).
func redactURL(u *url.URL) string {
	cp := *u
	cp.User = nil
	if cp.RawQuery != "" {
		q := cp.Query()
		for k := range q {
			q[k] = []string{"REDACTED"}
		}
		cp.RawQuery = q.Encode()
	}
	return cp.String()
}

// sanitizeErr rewrites the URL inside *url.Error values (the transport puts
// the full URL, query included, into them).
func sanitizeErr(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u, perr := url.Parse(ue.URL)
	redacted := "(unparsable URL)"
	if perr == nil {
		redacted = redactURL(u)
	}
	return &url.Error{Op: ue.Op, URL: redacted, Err: ue.Err}
}

// Ptr returns a pointer to v, for optional fields of options.
func Ptr[T any](v T) *T { return &v }

// workspaceSegment validates and escapes a workspace name for a path.
func workspaceSegment(v string) (string, error) {
	if v == "" || v == "." || v == ".." || strings.ContainsAny(v, "/\\") {
		return "", fmt.Errorf("%w: workspace %q: want a non-empty name without '/'", ErrInvalidOption, v)
	}
	return url.PathEscape(v), nil
}
