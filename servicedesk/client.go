package servicedesk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"
)

// Version is the version of this SDK, sent in the User-Agent header.
const Version = "0.1.0"

// MediaType is the Accept header SDP v3 requires. With anything else SDP
// Cloud answers its HTML login page with status 200.
const MediaType = "application/vnd.manageengine.sdp.v3+json"

// Edition tells an on-premises SDP from SDP Cloud; some JSON keys differ.
type Edition int

const (
	// OnPremises is SDP installed by the customer (authtoken header).
	OnPremises Edition = iota
	// Cloud is SDP Cloud, also called SDPOnDemand (OAuth, /app/<portal>).
	Cloud
)

// String returns "on-premises" or "cloud".
func (e Edition) String() string {
	if e == Cloud {
		return "cloud"
	}
	return "on-premises"
}

// Client talks to one SDP v3 API. Make it with NewClient; it is safe for
// concurrent use.
type Client struct {
	base      *url.URL // absolute, path ends in /api/v3/
	edition   Edition
	portal    string // cloud portal URL name
	portalID  string
	userAgent string
	maxBody   int64
	auth      Authenticator
	logger    *slog.Logger
	retry     *retryablehttp.Client
	maxRA     time.Duration

	common service

	tags tagLocks // serialises CreateOnce per tag within this client

	// Requests is the API of requests (tickets) and their notes.
	Requests *RequestsService
	// Templates reads request templates and their layouts.
	Templates *TemplatesService
	// Priorities reads request priorities (GET /priorities).
	Priorities *LookupService[Priority]
	// Statuses reads request statuses (GET /statuses).
	Statuses *LookupService[Status]
	// Urgencies reads request urgencies (GET /urgencies).
	Urgencies *LookupService[Urgency]
	// Impacts reads request impacts (GET /impacts).
	Impacts *LookupService[Impact]
	// Categories reads categories, their subcategories and items.
	Categories *CategoriesService
	// Groups reads support groups (GET /support_groups).
	Groups *LookupService[Group]
	// Technicians reads and finds technicians (GET /technicians).
	Technicians *TechniciansService
	// Users reads and finds users (GET /users).
	Users *UsersService
	// Sites reads sites (GET /sites).
	Sites *LookupService[Site]
}

type service struct{ client *Client }

// NewClient returns a client of the SDP instance at baseURL, for example
// "https://sdp.example.com:8080" (on-premises) or
// "https://sdpondemand.manageengine.com" with WithCloudPortal("itdesk").
// The API path /api/v3/ (and /app/<portal>/ on cloud) is added unless
// baseURL already ends with it. Credentials are required: WithAuthToken
// on-premises, WithAuthenticator on cloud. NewClient does no I/O.
func NewClient(baseURL string, opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	for i, o := range opts {
		if o == nil {
			return nil, fmt.Errorf("servicedesk: option %d is nil", i)
		}
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("servicedesk: %w", err)
		}
	}
	base, err := parseBaseURL(baseURL, cfg.cloudPortal)
	if err != nil {
		return nil, err
	}
	c := &Client{
		base: base, portalID: cfg.portalID, maxBody: cfg.maxBody, auth: cfg.auth,
		logger: cfg.logger, maxRA: cfg.maxRetryAfter,
		userAgent: "mesd-servicedesk/" + Version,
	}
	if cfg.userAgent != "" {
		c.userAgent = cfg.userAgent + " " + c.userAgent
	}
	if cfg.cloudPortal != "" {
		c.edition = Cloud
		c.portal = cfg.cloudPortal
	}
	switch {
	case !cfg.authSet:
		return nil, errors.New("servicedesk: no credentials: use WithAuthToken (on-premises) or WithAuthenticator")
	case c.edition == Cloud && isAuthToken(cfg.auth):
		return nil, errors.New("servicedesk: SDP Cloud does not take an authtoken; use WithAuthenticator with an OAuth source")
	case c.edition == Cloud && cfg.portalID != "":
		return nil, errors.New("servicedesk: PORTALID is an on-premises header; SDP Cloud selects the portal with WithCloudPortal")
	}

	hc := cfg.httpClient
	if hc == nil {
		hc = &http.Client{Transport: cleanhttp.DefaultPooledTransport()}
	}
	baseRT := hc.Transport
	if baseRT == nil {
		baseRT = http.DefaultTransport
	}
	var lim *rate.Limiter
	if cfg.limit != rate.Inf {
		lim = rate.NewLimiter(cfg.limit, cfg.burst)
	}
	// The per-attempt timeout sits under the limiter (see timeoutTransport).
	hc.Transport = &authTransport{auth: cfg.auth, next: &limitTransport{limiter: lim, next: &timeoutTransport{timeout: cfg.timeout, next: baseRT}}}
	hc.Timeout = 0
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	c.retry = &retryablehttp.Client{
		HTTPClient:     hc,
		Logger:         nil, // retryablehttp would log the query (input_data); we log ourselves
		RetryWaitMin:   cfg.retryWaitMin,
		RetryWaitMax:   cfg.retryWaitMax,
		RetryMax:       cfg.retryMax,
		CheckRetry:     c.checkRetry,
		Backoff:        c.backoff,
		ErrorHandler:   retryablehttp.PassthroughErrorHandler,
		RequestLogHook: c.requestHook,
	}
	c.common.client = c
	c.Requests = (*RequestsService)(&c.common)
	c.Templates = (*TemplatesService)(&c.common)
	c.Priorities = newLookup[Priority](c, "priorities", "priorities", "priority")
	c.Statuses = newLookup[Status](c, "statuses", "statuses", "status")
	c.Urgencies = newLookup[Urgency](c, "urgencies", "urgencies", "urgency")
	c.Impacts = newLookup[Impact](c, "impacts", "impacts", "impact")
	c.Categories = &CategoriesService{*newLookup[Category](c, "categories", "categories", "category")}
	c.Groups = newLookup[Group](c, "support_groups", "support_groups", "support_group")
	c.Technicians = &TechniciansService{*newLookup[User](c, "technicians", "technicians", "technician")}
	c.Users = &UsersService{*newLookup[User](c, "users", "users", "user")}
	c.Sites = newLookup[Site](c, "sites", "sites", "site")
	return c, nil
}

func isAuthToken(a Authenticator) bool {
	_, ok := a.(*authToken)
	return ok
}

// Edition reports whether the client addresses on-premises SDP or SDP Cloud.
func (c *Client) Edition() Edition { return c.edition }

// BaseURL returns the API base the client sends to, ending in /api/v3/.
func (c *Client) BaseURL() string { return c.base.String() }

func parseBaseURL(raw, portal string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("servicedesk: empty base URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("servicedesk: base URL does not parse: %w", err)
	}
	if u.User != nil {
		return nil, errors.New("servicedesk: base URL must not carry user info (credentials go in options)")
	}
	if !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("servicedesk: base URL %q is not absolute: want scheme://host[:port]", truncate(raw, 80))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("servicedesk: base URL scheme %q: want http or https", u.Scheme)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, errors.New("servicedesk: base URL must not have a query or fragment")
	}
	if strings.Contains(u.Path, "//") {
		// "https://https://sdp.example.com" parses with host "https".
		return nil, fmt.Errorf("servicedesk: base URL %q has an empty path segment (a scheme given twice?)", truncate(raw, 80))
	}
	p := strings.TrimRight(u.Path, "/")
	p = strings.TrimSuffix(p, "/api/v3")
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return nil, fmt.Errorf("servicedesk: base URL path %q has a dot segment", truncate(u.Path, 80))
		}
	}
	if portal != "" && !strings.HasSuffix(p, "/app/"+portal) {
		p += "/app/" + portal
	}
	u.Path = p + "/api/v3/"
	u.RawPath = ""
	return u, nil
}

// callState travels in each call's context: the retry policy needs the
// method (CheckRetry gets no request, and no response on transport errors),
// the hooks count attempts, and the auth transport records what it sent.
type callState struct {
	method     string
	path       string
	idempotent bool
	noRetry    bool // one attempt only (Ping)
	attempts   int
	sent       *http.Request
	// ambiguous is set when an attempt was retried although the server
	// may have acted on it (a lost answer, 502, 503 or 504).
	ambiguous bool
}

type callKey struct{}

func stateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(callKey{}).(*callState)
	return st
}

// call is one API call.
type call struct {
	method string
	path   string     // relative to the API base, segments escaped
	query  url.Values // list_info and the like
	input  any        // sent as input_data, nil for none
	// noRetry makes a single attempt, whatever the answer.
	noRetry bool
}

// callResult is what a successful call returns beyond the decoded entity.
type callResult struct {
	attempts  int
	ambiguous bool // an earlier attempt may have taken effect
	listInfo  *ListInfo
}

// do sends cl and decodes the answer into out, a struct embedding
// envelope; it returns a *Error for any answer that is not a success.
func (c *Client) do(ctx context.Context, cl call, out answer) (*callResult, error) {
	if ctx == nil {
		return nil, errors.New("servicedesk: nil context")
	}
	u := *c.base
	u.Path += cl.path
	if len(cl.query) > 0 {
		u.RawQuery = cl.query.Encode()
	}
	var body []byte
	if cl.input != nil {
		js, err := marshalStrict(cl.input)
		if err != nil {
			return nil, fmt.Errorf("servicedesk: %s %s: encoding input: %w", cl.method, u.Path, err)
		}
		body = []byte(url.Values{"input_data": {string(js)}}.Encode())
	}
	res := &callResult{}
	reauthed := false
	for {
		st := &callState{method: cl.method, path: u.Path, idempotent: cl.method != http.MethodPost, noRetry: cl.noRetry}
		payload, hdr, status, err := c.send(ctx, st, u.String(), body)
		res.attempts += st.attempts
		res.ambiguous = res.ambiguous || st.ambiguous
		if err != nil {
			return res, err
		}
		err = c.check(st, status, hdr, payload, out)
		if err == nil {
			res.listInfo = out.head().ListInfo
			return res, nil
		}
		var se *Error
		if errors.As(err, &se) {
			se.Attempts = res.attempts
		}
		if ra, ok := c.auth.(Reauthenticator); ok && !reauthed && errors.Is(err, ErrUnauthorized) && st.sent != nil {
			retry, rerr := ra.Reauthenticate(ctx, st.sent)
			if rerr != nil {
				return res, fmt.Errorf("%w; renewing credentials failed: %w", err, rerr)
			}
			if retry {
				reauthed = true
				c.log(slog.LevelDebug, "servicedesk: credentials renewed, sending once more", st, "status", status)
				continue
			}
		}
		return res, err
	}
}

// send makes one call through the retry layer and returns the final
// answer's body (read up to the cap), header and status.
func (c *Client) send(ctx context.Context, st *callState, rawURL string, body []byte) ([]byte, http.Header, int, error) {
	var raw any
	if body != nil {
		raw = body
	}
	req, err := retryablehttp.NewRequestWithContext(context.WithValue(ctx, callKey{}, st), st.method, rawURL, raw)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("servicedesk: %s %s: building request: %w", st.method, st.path, sanitizeErr(err))
	}
	req.Header.Set("Accept", MediaType)
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if c.portalID != "" {
		req.Header.Set("PORTALID", c.portalID)
	}
	resp, err := c.retry.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, nil, 0, fmt.Errorf("servicedesk: %s %s: %w", st.method, st.path, ctxErr)
		}
		return nil, nil, 0, fmt.Errorf("servicedesk: %s %s (%d attempt(s)): %w", st.method, st.path, st.attempts, sanitizeErr(err))
	}
	defer func() { _ = resp.Body.Close() }()
	payload, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("servicedesk: %s %s: reading answer (HTTP %d): %w", st.method, st.path, resp.StatusCode, sanitizeErr(err))
	}
	if int64(len(payload)) > c.maxBody {
		// Not decoded (a cut body is not JSON), but still an *Error that
		// keeps the status, so that the sentinels of the status match.
		e := &Error{Method: st.method, Path: st.path, HTTPStatus: resp.StatusCode, Attempts: st.attempts,
			detail: fmt.Sprintf("answer exceeds %d bytes, not read", c.maxBody)}
		e.unexpected = resp.StatusCode >= 200 && resp.StatusCode <= 299
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			e.RetryAfter = d
		}
		return nil, nil, 0, e
	}
	return payload, resp.Header, resp.StatusCode, nil
}

// check decodes an answer into out, or turns it into an *Error when it is
// not a success: a non-2xx status, a body that is not JSON, or a
// response_status reporting a failure (SDP can say so with HTTP 200).
func (c *Client) check(st *callState, status int, hdr http.Header, body []byte, out answer) error {
	if status < 200 || status > 299 {
		e := decodeError(status, body)
		e.Method, e.Path = st.method, st.path
		if d, ok := parseRetryAfter(hdr.Get("Retry-After"), time.Now()); ok {
			e.RetryAfter = d
		}
		return e
	}
	if !looksJSON(body) {
		return &Error{Method: st.method, Path: st.path, HTTPStatus: status, ContentType: truncate(hdr.Get("Content-Type"), 80), unexpected: true}
	}
	if err := json.Unmarshal(body, out); err != nil {
		// A failure may come in a shape the entity does not fit: report
		// the failure when the envelope alone says so.
		if env, envErr := decodeEnvelope(body); envErr == nil && env.ResponseStatus.failed() {
			e := decodeError(status, body)
			e.Method, e.Path = st.method, st.path
			return e
		}
		return &Error{Method: st.method, Path: st.path, HTTPStatus: status, unexpected: true, detail: "answer does not decode: " + describeDecodeError(err)}
	}
	if out.head().ResponseStatus.failed() {
		e := decodeError(status, body)
		e.Method, e.Path = st.method, st.path
		return e
	}
	if !out.head().ResponseStatus.succeeded() {
		// Every SDP answer carries response_status; a 2xx JSON body
		// without a successful one ({}, a proxy's JSON, null, []) is not
		// SDP saying yes.
		return &Error{Method: st.method, Path: st.path, HTTPStatus: status, unexpected: true, detail: "no successful response_status in the answer"}
	}
	return nil
}

func looksJSON(b []byte) bool {
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// marshalStrict encodes v as strict JSON without HTML escaping (SDP
// descriptions are HTML; escaping would be valid but noisy).
func marshalStrict(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// redactURL keeps scheme, host and path of a URL: never user info, query
// (input_data) or fragment.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return r.String()
}

// sanitizeErr rewrites every *url.Error in err's chain head so that its URL
// loses the query; other errors pass unchanged.
func sanitizeErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err}
	}
	return err
}

func (c *Client) log(level slog.Level, msg string, st *callState, args ...any) {
	if c.logger == nil {
		return
	}
	args = append([]any{"method", st.method, "path", st.path}, args...)
	c.logger.Log(context.Background(), level, msg, args...)
}

// parseRetryAfter reads a Retry-After value: seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int64(24*time.Hour/time.Second) {
			s = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}
