// Package faradaytest is a fake Faraday REST API v3 server for tests and
// demos, in the manner of net/http/httptest. It keeps real state:
// workspaces and their vulns, seeded by the test, listed, filtered, read and
// updated (one by one or in bulk) through the same paths, envelopes and
// status codes as Faraday's community server (see the reference notes,
// faraday-api.md §7). It checks "Authorization: Token <jwt>" and HTTP Basic
// credentials, refuses changes to read-only workspaces with Faraday's 403,
// and is safe for concurrent use. Tests can inject failures (Server.Fail)
// and read back the state (Server.Vuln) and the requests received
// (Server.Requests).
//
// It is a fake, not an emulator: the JSON filter language supports the
// operators listed on Server, and only status, severity and confirmed can
// be changed by PATCH.
package faradaytest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vulndesk/mesd/faraday"
)

// Server is a running fake Faraday server. Create it with NewServer and
// Close it when done.
//
// Endpoints (below /_api/v3): GET ws, GET ws/{ws}, GET ws/{ws}/vulns (the
// filters confirmed, severity, status, type, target, hostnames, service,
// service_id, creator, name, search; page and page_size; sort and
// sort_dir), GET ws/{ws}/vulns/filter?q= (operators ==, eq, !=, neq, <, >,
// <=, >=, in, not_in, like, ilike, is_null, is_not_null and and/or groups,
// on id, name, severity, status, confirmed, type, target, external_id, tool,
// owner, website, parent_type; order_by, limit, offset), GET and PATCH
// ws/{ws}/vulns/{id}, PATCH ws/{ws}/vulns (bulk, ids as integers).
type Server struct {
	srv     *httptest.Server
	handler http.Handler
	now     func() time.Time

	mu         sync.Mutex
	tokens     map[string]bool
	users      map[string]string
	workspaces map[string]*workspace
	wsOrder    []string
	nextWSID   int
	nextVulnID int64
	faults     []*fault
	requests   []Request
}

// Request is one request the server received (after authentication).
type Request struct {
	Method string
	Path   string // URL path, such as /_api/v3/ws/acme/vulns/12
}

type fault struct {
	method, path string
	status       int
	left         int
}

type workspace struct {
	info  faraday.Workspace
	vulns map[int64]*faraday.Vuln
}

// Option configures a Server.
type Option func(*Server)

// WithToken makes the server accept "Authorization: Token <token>". Once a
// token or a user is configured, every request must carry valid
// credentials; without any, the server accepts all requests.
func WithToken(token string) Option {
	return func(s *Server) { s.tokens[token] = true }
}

// WithUser makes the server accept HTTP Basic with this user name and
// password.
func WithUser(name, password string) Option {
	return func(s *Server) { s.users[name] = password }
}

// WithClock sets the clock used for update dates (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.now = now }
}

// NewServer starts a fake server on a local port.
func NewServer(opts ...Option) *Server {
	s := newServer(opts...)
	s.srv = httptest.NewServer(s.handler)
	return s
}

func newServer(opts ...Option) *Server {
	s := &Server{
		now:        time.Now,
		tokens:     make(map[string]bool),
		users:      make(map[string]string),
		workspaces: make(map[string]*workspace),
		nextVulnID: 1,
		nextWSID:   1,
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_api/v3/ws", s.listWorkspaces)
	mux.HandleFunc("GET /_api/v3/ws/{ws}", s.getWorkspace)
	mux.HandleFunc("GET /_api/v3/ws/{ws}/vulns", s.listVulns)
	mux.HandleFunc("PATCH /_api/v3/ws/{ws}/vulns", s.bulkUpdate)
	mux.HandleFunc("GET /_api/v3/ws/{ws}/vulns/filter", s.filterVulns)
	mux.HandleFunc("GET /_api/v3/ws/{ws}/vulns/{id}", s.getVuln)
	mux.HandleFunc("PATCH /_api/v3/ws/{ws}/vulns/{id}", s.patchVuln)
	s.handler = s.auth(mux)
	return s
}

// Fail makes the next times requests with this method and exactly this
// URL path (such as "PATCH", "/_api/v3/ws/acme/vulns/12") answer status
// with a JSON message, without touching the state; a 429 or 503 carries
// "Retry-After: 0". Faults apply in the order they were added.
func (s *Server) Fail(method, path string, status, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{method: method, path: path, status: status, left: times})
}

// Requests returns the requests received so far, in order (those refused
// for authentication excluded).
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// URL returns the server root to give to faraday.NewClient.
func (s *Server) URL() string {
	if s.srv == nil {
		return ""
	}
	return s.srv.URL
}

// Close shuts the server down and closes its client connections.
func (s *Server) Close() {
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
	}
}

// Handler returns the server's handler (authentication included), to mount
// elsewhere or call directly.
func (s *Server) Handler() http.Handler { return s.handler }

// AddWorkspace adds a workspace (ID assigned when zero). Setting ReadOnly
// makes every change in it fail with Faraday's 403.
func (s *Server) AddWorkspace(w faraday.Workspace) error {
	if w.Name == "" || strings.ContainsAny(w.Name, "/?#") {
		return fmt.Errorf("faradaytest: workspace name %q: want a non-empty name without / ? #", w.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.workspaces[w.Name]; ok {
		return fmt.Errorf("faradaytest: workspace %q already exists", w.Name)
	}
	if w.ID == 0 {
		w.ID = s.nextWSID
	}
	s.nextWSID = max(s.nextWSID, w.ID) + 1
	s.workspaces[w.Name] = &workspace{info: w, vulns: make(map[int64]*faraday.Vuln)}
	s.wsOrder = append(s.wsOrder, w.Name)
	return nil
}

// SetReadOnly marks a workspace read-only or writable.
func (s *Server) SetReadOnly(ws string, readOnly bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.workspaces[ws]
	if !ok {
		return fmt.Errorf("faradaytest: no workspace %q", ws)
	}
	w.info.ReadOnly = readOnly
	return nil
}

// AddVuln stores a copy of v in workspace ws and returns its id (assigned
// when v.ID is zero). The copy is completed as the API writes vulns: _id
// and obj_id follow id, workspace_name is set, status defaults to open,
// type to Vulnerability, parent type to Host (Service when v.Service is
// set), and nil lists, maps and CVSS objects become empty ones. Name and a
// valid severity are required.
func (s *Server) AddVuln(ws string, v faraday.Vuln) (int64, error) {
	if v.Name == "" {
		return 0, errors.New("faradaytest: AddVuln: empty name")
	}
	if !v.Severity.Valid() {
		return 0, fmt.Errorf("faradaytest: AddVuln %q: invalid severity %d", v.Name, v.Severity)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.workspaces[ws]
	if !ok {
		return 0, fmt.Errorf("faradaytest: no workspace %q", ws)
	}
	c := v.Clone()
	if c.ID == 0 {
		c.ID = s.nextVulnID
	}
	if _, dup := w.vulns[c.ID]; dup {
		return 0, fmt.Errorf("faradaytest: vuln %d already in workspace %q", c.ID, ws)
	}
	s.nextVulnID = max(s.nextVulnID, c.ID) + 1
	complete(c, ws)
	w.vulns[c.ID] = c
	return c.ID, nil
}

// complete fills what the API always writes.
func complete(v *faraday.Vuln, ws string) {
	v.ObjectID, v.ObjID, v.WorkspaceName = v.ID, strconv.FormatInt(v.ID, 10), ws
	if v.Status == 0 {
		v.Status = faraday.StatusOpen
	}
	if v.Type == "" {
		v.Type = faraday.TypeVulnerability
	}
	if v.ParentType == "" {
		v.ParentType = faraday.ParentHost
		if v.Service != nil {
			v.ParentType = faraday.ParentService
		}
	}
	if v.Description == "" {
		v.Description = v.Desc
	}
	emptyIfNil(&v.Hostnames)
	emptyIfNil(&v.Refs)
	emptyIfNil(&v.CVE)
	emptyIfNil(&v.CWE)
	emptyIfNil(&v.PolicyViolations)
	emptyIfNil(&v.Tags)
	if v.OWASP == nil {
		v.OWASP = json.RawMessage("[]")
	}
	if v.CustomFields == nil {
		v.CustomFields = map[string]json.RawMessage{}
	}
	if v.Attachments == nil {
		v.Attachments = map[string]faraday.Attachment{}
	}
	for _, p := range []**faraday.CVSS{&v.CVSS2, &v.CVSS3, &v.CVSS4} {
		if *p == nil {
			*p = &faraday.CVSS{}
		}
	}
	if v.Risk == nil {
		v.Risk = &faraday.Risk{}
	}
}

func emptyIfNil[T any](s *[]T) {
	if *s == nil {
		*s = []T{}
	}
}

// Vuln returns a copy of the stored vuln id of workspace ws.
func (s *Server) Vuln(ws string, id int64) (faraday.Vuln, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.workspaces[ws]
	if !ok {
		return faraday.Vuln{}, false
	}
	v, ok := w.vulns[id]
	if !ok {
		return faraday.Vuln{}, false
	}
	return *v.Clone(), true
}

// --- HTTP ---

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"message": "faradaytest: encoding the answer failed"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeMessage(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"message": fmt.Sprintf(format, args...)})
}

// auth checks the Authorization header as Faraday does: the type before
// the first space, compared without case; Token or Basic; anything else is
// 401.
func (s *Server) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		open := len(s.tokens) == 0 && len(s.users) == 0
		s.mu.Unlock()
		if open || s.authorized(r.Header.Get("Authorization")) {
			if status := s.record(r); status != 0 {
				if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
					w.Header().Set("Retry-After", "0")
				}
				writeMessage(w, status, "faradaytest: injected failure")
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		writeMessage(w, http.StatusUnauthorized, "Authentication required")
	})
}

// record logs the request and returns the status of a matching fault, or 0.
func (s *Server) record(r *http.Request) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path})
	for _, f := range s.faults {
		if f.left > 0 && f.method == r.Method && f.path == r.URL.Path {
			f.left--
			return f.status
		}
	}
	return 0
}

func (s *Server) authorized(h string) bool {
	kind, cred, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok {
		return false
	}
	cred = strings.TrimSpace(cred)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch strings.ToLower(kind) {
	case "token":
		return s.tokens[cred]
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return false
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		want, known := s.users[user]
		return ok && known && want == pass
	}
	return false
}

// lookup finds the workspace of the request, answering 404 itself.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request) *workspace {
	ws, ok := s.workspaces[r.PathValue("ws")]
	if !ok {
		writeMessage(w, http.StatusNotFound, "No such workspace: %s", r.PathValue("ws"))
		return nil
	}
	return ws
}

func (s *Server) listWorkspaces(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	out := make([]faraday.Workspace, 0, len(s.wsOrder))
	for _, n := range s.wsOrder {
		out = append(out, s.workspaces[n].info)
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getWorkspace(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ws := s.lookup(w, r); ws != nil {
		writeJSON(w, http.StatusOK, ws.info)
	}
}

func (s *Server) getVuln(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.lookup(w, r)
	if ws == nil {
		return
	}
	if v := findVuln(w, r, ws); v != nil {
		writeJSON(w, http.StatusOK, v)
	}
}

func findVuln(w http.ResponseWriter, r *http.Request, ws *workspace) *faraday.Vuln {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeMessage(w, http.StatusNotFound, "Not Found")
		return nil
	}
	v, ok := ws.vulns[id]
	if !ok {
		writeMessage(w, http.StatusNotFound, "Vulnerability %d not found in workspace %s", id, ws.info.Name)
		return nil
	}
	return v
}

const maxBody = 1 << 20

// readOnly answers Faraday's 403 for changes to a read-only workspace.
func readOnly(w http.ResponseWriter, ws *workspace) bool {
	if ws.info.ReadOnly {
		writeMessage(w, http.StatusForbidden, "Altering a readonly workspace is not allowed")
		return true
	}
	return false
}

// patchFields are the fields PATCH may change here.
type patchFields struct {
	Status    *string `json:"status"`
	Severity  *string `json:"severity"`
	Confirmed *bool   `json:"confirmed"`
}

func (p *patchFields) apply(v *faraday.Vuln, now time.Time) error {
	if p.Status != nil {
		st, err := faraday.ParseStatus(*p.Status)
		if err != nil {
			return err
		}
		v.Status = st
	}
	if p.Severity != nil {
		sev, err := faraday.ParseSeverity(*p.Severity)
		if err != nil {
			return err
		}
		v.Severity = sev
	}
	if p.Confirmed != nil {
		v.Confirmed = *p.Confirmed
	}
	v.UpdateDate = faraday.NewTime(now)
	v.Metadata.UpdateTime = v.UpdateDate
	return nil
}

func (s *Server) patchVuln(w http.ResponseWriter, r *http.Request) {
	var p patchFields
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&p); err != nil {
		writeMessage(w, http.StatusBadRequest, "Invalid JSON body: %v", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.lookup(w, r)
	if ws == nil || readOnly(w, ws) {
		return
	}
	v := findVuln(w, r, ws)
	if v == nil {
		return
	}
	c := v.Clone()
	if err := p.apply(c, s.now()); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"messages": map[string]any{"json": err.Error()}})
		return
	}
	ws.vulns[c.ID] = c
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) bulkUpdate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IDs []json.RawMessage `json:"ids"`
		Q   json.RawMessage   `json:"q"`
		patchFields
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody)).Decode(&body); err != nil {
		writeMessage(w, http.StatusBadRequest, "Invalid JSON body: %v", err)
		return
	}
	if body.IDs == nil && body.Q == nil {
		writeMessage(w, http.StatusBadRequest, "Missing ids or q")
		return
	}
	if body.Q != nil {
		writeMessage(w, http.StatusBadRequest, "faradaytest: bulk update by q is not supported")
		return
	}
	// Faraday keeps only the JSON integers and drops anything else.
	var ids []int64
	for _, raw := range body.IDs {
		var n int64
		if bytes.ContainsAny(raw, `".eE`) || json.Unmarshal(raw, &n) != nil {
			continue
		}
		ids = append(ids, n)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ws := s.lookup(w, r)
	if ws == nil || readOnly(w, ws) {
		return
	}
	now := s.now()
	updated := 0
	changed := make(map[int64]*faraday.Vuln)
	for _, id := range ids {
		v, ok := ws.vulns[id]
		if !ok || changed[id] != nil {
			continue
		}
		c := v.Clone()
		if err := body.apply(c, now); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"messages": map[string]any{"json": err.Error()}})
			return
		}
		changed[id] = c
		updated++
	}
	for id, c := range changed {
		ws.vulns[id] = c
	}
	writeJSON(w, http.StatusOK, map[string]int{"updated": updated})
}
