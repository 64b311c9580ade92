package sdptest

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vulndesk/mesd/servicedesk"
)

// Default credentials of a Server made without WithAuthTokens or
// WithOAuthClient.
const (
	// DefaultAuthToken is the on-premises authtoken accepted by default.
	DefaultAuthToken = "sdptest-authtoken" //nolint:gosec // the fake server's own test credential
	// DefaultClientID, DefaultClientSecret and DefaultRefreshToken are the
	// OAuth client and refresh token the fake accounts endpoint accepts by
	// default (cloud flavour).
	DefaultClientID     = "1000.SDPTESTCLIENT"
	DefaultClientSecret = "sdptest-client-secret"      //nolint:gosec // the fake server's own test credential
	DefaultRefreshToken = "1000.sdptest-refresh-token" //nolint:gosec // the fake server's own test credential
	// DefaultPortal is the cloud portal of WithCloud("").
	DefaultPortal = "itdesk"
)

// maxBody caps the body of a call the server reads.
const maxBody = 1 << 20

// Option configures a Server.
type Option func(*config) error

type config struct {
	cloud         bool
	portal        string
	tokens        []string
	accessTokens  []string
	clientID      string
	clientSecret  string
	refreshTokens []string
	seed          *Seed
	now           func() time.Time
	deliveryHC    *http.Client
	tokenTTL      time.Duration
}

// WithCloud makes the server an SDP Cloud: the API under
// /app/<portal>/api/v3, 18-digit ids with a display_id, request_note for
// notes, OAuth access tokens in Authorization: Zoho-oauthtoken, the HTML
// login page for a wrong Accept header, and the fake Zoho accounts endpoint
// POST /oauth/v2/token. An empty portal means DefaultPortal.
func WithCloud(portal string) Option {
	return func(c *config) error {
		if portal == "" {
			portal = DefaultPortal
		}
		for _, r := range portal {
			if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' {
				return fmt.Errorf("WithCloud: portal %q: want letters, digits, '-' or '_'", portal)
			}
		}
		c.cloud, c.portal = true, portal
		return nil
	}
}

// WithAuthTokens sets the on-premises authtokens the server accepts (in
// the authtoken or TECHNICIAN_KEY header), replacing DefaultAuthToken.
func WithAuthTokens(tokens ...string) Option {
	return func(c *config) error {
		if len(tokens) == 0 {
			return errors.New("WithAuthTokens: no token")
		}
		for i, t := range tokens {
			if strings.TrimSpace(t) == "" {
				return fmt.Errorf("WithAuthTokens: token %d is empty", i)
			}
		}
		c.tokens = append([]string(nil), tokens...)
		return nil
	}
}

// WithAccessTokens adds cloud access tokens the server accepts without
// their coming from the accounts endpoint; they never expire.
func WithAccessTokens(tokens ...string) Option {
	return func(c *config) error {
		for i, t := range tokens {
			if strings.TrimSpace(t) == "" {
				return fmt.Errorf("WithAccessTokens: token %d is empty", i)
			}
		}
		c.accessTokens = append(c.accessTokens, tokens...)
		return nil
	}
}

// WithOAuthClient sets the OAuth client and the refresh tokens the fake
// accounts endpoint accepts, replacing the defaults.
func WithOAuthClient(clientID, clientSecret string, refreshTokens ...string) Option {
	return func(c *config) error {
		if clientID == "" || clientSecret == "" || len(refreshTokens) == 0 {
			return errors.New("WithOAuthClient: want a client id, a client secret and at least one refresh token")
		}
		c.clientID, c.clientSecret, c.refreshTokens = clientID, clientSecret, append([]string(nil), refreshTokens...)
		return nil
	}
}

// WithAccessTokenTTL sets how long the access tokens the accounts endpoint
// issues stay valid (default one hour, as Zoho's), measured on the server's
// clock.
func WithAccessTokenTTL(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithAccessTokenTTL: %v is not positive", d)
		}
		c.tokenTTL = d
		return nil
	}
}

// WithSeed replaces the default seed (DefaultSeed). The seed is validated
// and copied.
func WithSeed(sd *Seed) Option {
	return func(c *config) error {
		if err := sd.Validate(); err != nil {
			return err
		}
		c.seed = sd.clone()
		return nil
	}
}

// WithClock sets the server's clock: created and updated times, the
// enforced rate limit's one-second windows and token expiry follow it.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return errors.New("WithClock: nil clock")
		}
		c.now = now
		return nil
	}
}

// WithDeliveryClient sets the HTTP client that delivers trigger webhooks
// (default: a client of its own with a 5-second timeout, whose idle
// connections Close closes).
func WithDeliveryClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("WithDeliveryClient: nil client")
		}
		c.deliveryHC = hc
		return nil
	}
}

// Server is a fake ServiceDesk Plus holding real state in memory. It is
// safe for concurrent use. Make it with NewServer and Close it when done.
type Server struct {
	cloud        bool
	portal       string
	prefix       string // API path prefix: /api/v3 or /app/<portal>/api/v3
	tokens       []string
	clientID     string
	clientSecret string
	refresh      []string
	tokenTTL     time.Duration
	now          func() time.Time
	ts           *httptest.Server
	handler      http.Handler

	mu        sync.Mutex
	seed      *Seed
	cat       *catalog
	idSeq     int64
	depts     map[string]string
	reqs      map[string]*reqRec
	order     []*reqRec
	displaySq int64
	calls     []Call
	access    map[string]time.Time // access token → expiry; zero time: never
	grants    map[string][]time.Time
	nGrants   int

	faults faultState
	hooks  *deliverer
}

// NewServer starts a fake SDP on a local httptest server. It panics when
// an option is invalid, with the option's error (as httptest.NewServer
// panics when it cannot listen): options are fixed by test code.
func NewServer(opts ...Option) *Server {
	s := newServer(opts...)
	s.ts = httptest.NewServer(s.handler)
	return s
}

func newServer(opts ...Option) *Server {
	cfg := config{tokenTTL: time.Hour, now: time.Now}
	for i, o := range opts {
		if o == nil {
			panic(fmt.Sprintf("sdptest: option %d is nil", i))
		}
		if err := o(&cfg); err != nil {
			panic("sdptest: " + err.Error())
		}
	}
	if cfg.seed == nil {
		cfg.seed = DefaultSeed()
	}
	if len(cfg.tokens) == 0 {
		cfg.tokens = []string{DefaultAuthToken}
	}
	if cfg.clientID == "" {
		cfg.clientID, cfg.clientSecret, cfg.refreshTokens = DefaultClientID, DefaultClientSecret, []string{DefaultRefreshToken}
	}
	s := &Server{
		cloud: cfg.cloud, portal: cfg.portal, tokens: cfg.tokens, clientID: cfg.clientID,
		clientSecret: cfg.clientSecret, refresh: cfg.refreshTokens, tokenTTL: cfg.tokenTTL, now: cfg.now,
		seed: cfg.seed, depts: map[string]string{}, reqs: map[string]*reqRec{},
		access: map[string]time.Time{}, grants: map[string][]time.Time{},
	}
	s.prefix = "/api/v3"
	if s.cloud {
		s.prefix = "/app/" + s.portal + "/api/v3"
	}
	for _, t := range cfg.accessTokens {
		s.access[t] = time.Time{}
	}
	s.cat = buildCatalog(s.seed, s.nextID)
	s.faults.init()
	s.hooks = newDeliverer(s, cfg.deliveryHC)
	s.handler = http.HandlerFunc(s.serve)
	return s
}

// URL returns the server's base URL (scheme and host), the base URL to
// give servicedesk.NewClient (with WithCloudPortal(s.Portal()) on cloud)
// and, on cloud, the accounts server's URL too.
func (s *Server) URL() string { return s.ts.URL }

// APIURL returns the API base: URL() + "/api/v3" on-premises, URL() +
// "/app/<portal>/api/v3" on cloud.
func (s *Server) APIURL() string { return s.ts.URL + s.prefix }

// Portal returns the cloud portal, or "" on-premises.
func (s *Server) Portal() string { return s.portal }

// Cloud reports whether the server is the cloud flavour.
func (s *Server) Cloud() bool { return s.cloud }

// Handler returns the server's handler, for mounting on a listener of
// one's own (a demo, a proxy test).
func (s *Server) Handler() http.Handler { return s.handler }

// Client returns an HTTP client for the server's listener.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Close shuts the listener down, waits for calls in progress, stops
// trigger deliveries (cancelling one in flight) and closes idle
// connections; nothing of the server keeps running afterwards.
func (s *Server) Close() {
	if s.ts != nil {
		s.ts.Close()
	}
	s.hooks.close()
	if s.ts != nil {
		s.ts.Client().CloseIdleConnections()
	}
}

func (s *Server) nextID() string {
	s.idSeq++
	if s.cloud {
		// 18 digits, as SDP Cloud's ids.
		return strconv.FormatInt(cloudIDBase+s.idSeq, 10)
	}
	return strconv.FormatInt(s.idSeq, 10)
}

const cloudIDBase = 271828000000000000

// Call is an API call the server received.
type Call struct {
	Method string
	// Path is the path below the API base (for example "/requests/5"), or
	// the full path for calls outside it (the accounts endpoint).
	Path string
	// InputData is input_data as sent (form body or query), "" when none;
	// Input is its JSON decoding, nil when it is not JSON.
	InputData string
	Input     any
	// Status is the HTTP status answered (0 when the connection was
	// dropped before an answer) and Code the first SDP status code of the
	// answer's messages (0 on success).
	Status int
	Code   int
	// Fault is the kind of injected fault that hit the call, if any.
	Fault FaultKind
}

// Calls returns the calls received so far, oldest first, each with its
// input_data decoded.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	out := append([]Call(nil), s.calls...)
	s.mu.Unlock()
	for i := range out {
		var in any
		if out[i].InputData != "" && json.Unmarshal([]byte(out[i].InputData), &in) == nil {
			out[i].Input = in
		}
	}
	return out
}

// ResetCalls forgets the calls received so far.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// Requests returns every stored request, oldest first, decoded from the
// JSON the API serves.
func (s *Server) Requests() []*servicedesk.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*servicedesk.Request, 0, len(s.order))
	for _, r := range s.order {
		out = append(out, s.decoded(r))
	}
	return out
}

// Request returns the stored request with this id, or false.
func (s *Server) Request(id string) (*servicedesk.Request, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	if !ok {
		return nil, false
	}
	return s.decoded(r), true
}

func (s *Server) decoded(r *reqRec) *servicedesk.Request {
	var out servicedesk.Request
	if err := json.Unmarshal(encodeJSON(s.render(r)), &out); err != nil {
		panic("sdptest: a rendered request does not decode: " + err.Error())
	}
	return &out
}

// Seed returns a copy of the seed the server runs with.
func (s *Server) Seed() *Seed { return s.seed.clone() }

// ID returns the id the server gave a seeded entity: kind is one of
// "priority", "status", "urgency", "impact", "level", "mode",
// "request_type", "site", "group", "category", "template", "user" (by
// login name) and "udf" (by key); name is matched case-insensitively.
func (s *Server) ID(kind, name string) (string, bool) {
	c := s.cat
	switch kind {
	case "priority":
		for _, p := range c.priorities {
			if matches(p.named, "", name) {
				return p.id, true
			}
		}
	case "status":
		if st := findStatus(c.statuses, "", name); st != nil {
			return st.id, true
		}
	case "category":
		for _, x := range c.categories {
			if matches(x.named, "", name) {
				return x.id, true
			}
		}
	case "template":
		for _, x := range c.templates {
			if matches(x.named, "", name) {
				return x.id, true
			}
		}
	case "user":
		for _, u := range c.users {
			if strings.EqualFold(u.LoginName, name) {
				return u.id, true
			}
		}
	case "udf":
		if u := c.udf(name); u != nil {
			return u.id, true
		}
	default:
		if n, ok := findNamed(s.namedList(kind), "", name); ok {
			return n.id, true
		}
	}
	return "", false
}

// serve is the server's handler.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == tokenPath && s.cloud {
		s.serveCall(w, r, tokenPath, s.serveToken)
		return
	}
	rel, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok || (rel != "" && rel[0] != '/') {
		s.serveCall(w, r, r.URL.Path, func(*http.Request, *Call) (int, any) {
			e := errNotFound()
			return e.status, e.body()
		})
		return
	}
	s.serveCall(w, r, rel, s.serveAPI)
}

type handlerFunc func(r *http.Request, c *Call) (int, any)

// serveCall records the call, injects the faults that match it and runs h
// with the call's input_data.
func (s *Server) serveCall(w http.ResponseWriter, r *http.Request, rel string, h handlerFunc) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	call := Call{Method: r.Method, Path: rel}
	formErr := r.ParseForm()
	if formErr == nil {
		if v, ok := r.Form["input_data"]; ok && len(v) > 0 {
			call.InputData = v[0] // decoded into Input by Calls
		}
	}
	_, _ = io.Copy(io.Discard, r.Body)

	f := s.faults.pick(s.now(), r.Method, rel)
	call.Fault = f.kind
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	var status int
	var body any
	var rawBody []byte
	var ctype string
	switch {
	case f.answer != nil:
		status, rawBody, ctype = f.answer.status, f.answer.body, f.answer.ctype
		call.Code = f.answer.code
		if f.answer.retryAfter != "" {
			w.Header().Set("Retry-After", f.answer.retryAfter)
		}
	case formErr != nil:
		e := errInvalidField("input_data", "Invalid input_data: the form does not parse")
		status, body = e.status, e.body()
	default:
		status, body = h(r, &call)
	}
	call.Status = status
	if m, ok := body.(map[string]any); ok {
		call.Code = firstCode(m)
	}
	if f.drop {
		call.Status = 0
		s.record(call)
		dropConnection(w)
		return
	}
	s.record(call)
	switch {
	case rawBody != nil:
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		_, _ = w.Write(rawBody)
	case body == nil:
		w.WriteHeader(status)
	default:
		if html, ok := body.(htmlBody); ok {
			w.Header().Set("Content-Type", "text/html;charset=UTF-8")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, string(html))
			return
		}
		writeJSON(w, status, body)
	}
}

type htmlBody string

func (s *Server) record(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

func firstCode(m map[string]any) int {
	rs, ok := m["response_status"].(map[string]any)
	if !ok {
		return 0
	}
	msgs, _ := rs["messages"].([]any)
	for _, x := range msgs {
		if mm, ok := x.(map[string]any); ok {
			if c, ok := mm["status_code"].(int); ok && c >= 4000 {
				return c
			}
		}
	}
	return 0
}

// dropConnection closes the connection without an answer: the call has
// been applied, the client never hears so.
func dropConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		// HTTP/2 or a recorder: abort the handler, which resets the stream.
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}

// authorized checks the call's credentials.
func (s *Server) authorized(r *http.Request) bool {
	if s.cloud {
		v := r.Header.Get("Authorization")
		tok, ok := strings.CutPrefix(v, "Zoho-oauthtoken ")
		if !ok || tok == "" {
			return false
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		exp, ok := s.access[tok]
		return ok && (exp.IsZero() || s.now().Before(exp))
	}
	tok := r.Header.Get("authtoken")
	if tok == "" {
		tok = r.Header.Get("TECHNICIAN_KEY")
	}
	if tok == "" {
		return false
	}
	okAny := 0
	for _, t := range s.tokens {
		okAny |= subtle.ConstantTimeCompare([]byte(t), []byte(tok))
	}
	return okAny == 1
}

// serveAPI answers a call below the API base.
func (s *Server) serveAPI(r *http.Request, c *Call) (int, any) {
	if s.cloud && !acceptsV3(r.Header.Get("Accept")) {
		return http.StatusOK, htmlBody(loginPage)
	}
	if !s.authorized(r) {
		e := errAuth()
		return e.status, e.body()
	}
	var input []byte
	if c.InputData != "" {
		input = []byte(c.InputData)
	}
	status, body := s.route(r.Method, strings.Trim(c.Path, "/"), input)
	return status, body
}

func acceptsV3(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(part, ";")
		if strings.EqualFold(strings.TrimSpace(mt), servicedesk.MediaType) {
			return true
		}
	}
	return false
}

// route dispatches an authorised API call.
func (s *Server) route(method, rel string, input []byte) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seg := strings.Split(rel, "/")
	get := method == http.MethodGet
	var e *apiError
	var status int
	var body any
	switch {
	case len(seg) == 1 && seg[0] == "requests" && get:
		status, body, e = s.listRequests(input)
	case len(seg) == 1 && seg[0] == "requests" && method == http.MethodPost:
		status, body, e = s.createRequest(input)
	case len(seg) == 2 && seg[0] == "requests" && seg[1] == "_metainfo" && get:
		status, body = http.StatusOK, s.metainfo()
	case len(seg) == 2 && seg[0] == "requests" && get:
		status, body, e = s.getRequest(seg[1])
	case len(seg) == 2 && seg[0] == "requests" && method == http.MethodPut:
		status, body, e = s.updateLocked(seg[1], input)
	case len(seg) == 3 && seg[0] == "requests" && seg[2] == "close" && method == http.MethodPut:
		status, body, e = s.closeRequest(seg[1], input)
	case len(seg) == 3 && seg[0] == "requests" && seg[2] == "notes" && get:
		status, body, e = s.listNotes(seg[1], input)
	case len(seg) == 3 && seg[0] == "requests" && seg[2] == "notes" && method == http.MethodPost:
		status, body, e = s.addNote(seg[1], input)
	case len(seg) == 4 && seg[0] == "requests" && seg[2] == "notes" && get:
		status, body, e = s.getNote(seg[1], seg[3])
	case len(seg) == 3 && seg[0] == "requests" && (seg[2] == "assign" || seg[2] == "pickup") && method == http.MethodPut:
		status, body, e = s.assignRequest(seg[1], seg[2] == "pickup", input)
	case len(seg) == 3 && seg[0] == "requests" && seg[2] == "resolutions" && method == http.MethodPost:
		status, body, e = s.addResolution(seg[1], input)
	case len(seg) == 3 && seg[0] == "requests" && seg[2] == "resolutions" && get:
		status, body, e = s.getResolution(seg[1])
	case method == http.MethodDelete && s.trashPath(seg):
		status, body, e = s.trashRequest(seg[1])
	case get:
		status, body, e = s.routeLookup(seg, input)
	default:
		e = errNotFound()
	}
	if e != nil {
		return e.status, e.body()
	}
	return status, body
}

// Fake UI: edits a technician makes in the web interface. They change the
// stored request as the API would and fire the matching triggers, but are
// not API calls.

// SetStatus sets the request's status by name, as a technician does in the
// web UI, and fires the triggers that match the edit.
func (s *Server) SetStatus(id, status string) error {
	in, _ := json.Marshal(map[string]any{"request": map[string]any{"status": map[string]string{"name": status}}})
	return s.Edit(id, in)
}

// Edit applies a technician's edit made in the web UI: inputData is
// {"request": {...}} as the API's update takes it. Triggers fire as for an
// API update. The error is SDP's answer to the same update.
func (s *Server) Edit(id string, inputData []byte) error {
	_, _, e := s.updateRequest(id, inputData)
	if e != nil {
		return fmt.Errorf("sdptest: edit of request %s: %s", id, describe(e))
	}
	return nil
}

// EditInput is Edit with the client's RequestInput.
func (s *Server) EditInput(id string, in *servicedesk.RequestInput) error {
	b, err := json.Marshal(map[string]any{"request": in})
	if err != nil {
		return fmt.Errorf("sdptest: edit of request %s: %w", id, err)
	}
	return s.Edit(id, b)
}

func describe(e *apiError) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.status)
	for _, m := range e.msgs {
		fmt.Fprintf(&b, "; %d %s", m.code, m.message)
		if m.field != "" {
			fmt.Fprintf(&b, " (field %s)", m.field)
		}
	}
	return b.String()
}
