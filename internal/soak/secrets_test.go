package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
	"github.com/vulndesk/mesd/webhook"
)

// The secrets the client suites are given. Each is distinctive, so that a
// leak is found wherever it lands; the wrong ones must not leak either.
const (
	sdAuthToken      = "sd-authtoken-7f3a9c41e2b8"
	sdWrongAuthToken = "sd-wrong-authtoken-55d0e1"
	zohoClientID     = "1000.SOAKCLIENTID"
	zohoSecret       = "zoho-client-secret-9b2e77aa"
	zohoRefresh      = "1000.zoho-refresh-token-c4d5e6"
	zohoWrongRefresh = "1000.zoho-wrong-refresh-0a0b0c"
	zohoAccess1      = "1000.zoho-access-token-one-aa11"
	zohoAccess2      = "1000.zoho-access-token-two-bb22"
	faradayJWT       = "faraday-jwt-eyJhbGciOi-soak-3c2d"
	faradayWrongJWT  = "faraday-jwt-wrong-0f9e8d"
	faradayUser      = "soak-user"
	faradayPassword  = "faraday-password-Pa55w0rd-soak"
	faradayWrongPass = "faraday-wrong-password-77"
	// inputMarker is text of a request's description: input_data is kept
	// out of errors and logs like a secret.
	inputMarker = "INPUT-DATA-MARKER-e3f1"
)

// recorder is an http.RoundTripper that records every request's method
// and URL and checks that no secret travels in a URL (where proxies and
// access logs keep it) and that no transport error's text holds one.
type recorder struct {
	base  http.RoundTripper
	watch *secretWatch
	mu    sync.Mutex
	calls []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.calls = append(r.calls, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	r.watch.text("request URL", req.URL.String())
	res, err := r.base.RoundTrip(req)
	if err != nil {
		r.watch.text("transport error", err.Error())
	}
	return res, err
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func newRecorder(w *secretWatch) (*recorder, *http.Client) {
	rec := &recorder{base: &http.Transport{}, watch: w}
	return rec, &http.Client{Transport: rec}
}

// must records err's text (which must exist: the call was meant to fail)
// for the leak check.
func mustFail(t *testing.T, w *secretWatch, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	w.text(what+" error", err.Error())
}

func ok(t *testing.T, w *secretWatch, what string, err error) {
	t.Helper()
	if err != nil {
		w.text(what+" error", err.Error())
		t.Errorf("%s: %v", what, err)
	}
}

func allSecrets() []string {
	return []string{sdAuthToken, sdWrongAuthToken, zohoSecret, zohoRefresh, zohoWrongRefresh, zohoAccess1, zohoAccess2,
		faradayJWT, faradayWrongJWT, faradayPassword, faradayWrongPass, inputMarker}
}

// TestNoSecretsServiceDeskAuthToken runs the on-premises client's typical
// calls and failures (refused credentials, a 500, a 4012, a dropped
// connection, a timeout, a closed server) with a logger and a recording
// transport that fail the test if the authtoken or input_data appears in a
// log line, a URL or an error string.
func TestNoSecretsServiceDeskAuthToken(t *testing.T) {
	w := newSecretWatch()
	w.watch(allSecrets()...)
	logger := slog.New(w)
	srv := sdptest.NewServer(sdptest.WithAuthTokens(sdAuthToken))
	defer srv.Close()
	rec, hc := newRecorder(w)
	defer hc.CloseIdleConnections()
	c, err := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdAuthToken), servicedesk.WithHTTPClient(hc),
		servicedesk.WithLogger(logger), servicedesk.WithRetry(2, time.Millisecond, 5*time.Millisecond), servicedesk.WithTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "[FRD acme/1] SQL injection", Description: "<p>" + inputMarker + "</p>"})
	ok(t, w, "create", err)
	if r == nil {
		t.FailNow()
	}
	_, err = c.Requests.Get(ctx, r.ID)
	ok(t, w, "get", err)
	_, err = c.Requests.List(ctx, nil)
	ok(t, w, "list", err)
	_, err = c.Requests.FindByTag(ctx, "[FRD acme/1]")
	ok(t, w, "find by tag", err)
	_, err = c.Requests.Update(ctx, r.ID, &servicedesk.RequestInput{Status: &servicedesk.Ref{Name: "In Progress"}})
	ok(t, w, "update", err)

	// A 4001 (an unknown priority) and a 4012 carry input_data back in
	// SDP's messages only as field names.
	_, err = c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "x", Description: inputMarker, Priority: &servicedesk.Ref{Name: "No Such Priority"}})
	mustFail(t, w, "create with an unknown priority", err)
	// Server errors, a write whose answer is lost, a timeout.
	for _, f := range []sdptest.Fault{
		{Kind: sdptest.ServerError, Method: http.MethodGet, Path: "/requests/*", Status: 500, Times: 3},
		{Kind: sdptest.ServerError, Method: http.MethodPut, Path: "/requests/*", Status: 502, Times: 3},
		{Kind: sdptest.TooManyRequests, Method: http.MethodPost, Path: "/requests", RetryAfter: "0", Times: 3},
		{Kind: sdptest.DropAfterCommit, Method: http.MethodPost, Path: "/requests/*/notes", Times: 3},
	} {
		if err := srv.AddFault(f); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.Requests.Get(ctx, r.ID)
	mustFail(t, w, "get answered 500", err)
	_, err = c.Requests.Update(ctx, r.ID, &servicedesk.RequestInput{Description: inputMarker})
	mustFail(t, w, "update answered 502", err)
	_, err = c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "y", Description: inputMarker})
	mustFail(t, w, "create answered 429", err)
	_, err = c.Requests.AddNote(ctx, r.ID, &servicedesk.NoteInput{Description: inputMarker})
	mustFail(t, w, "note whose answer is dropped", err)
	srv.ClearFaults()
	if err := srv.AddFault(sdptest.Fault{Kind: sdptest.Latency, Latency: 300 * time.Millisecond, Times: 1}); err != nil {
		t.Fatal(err)
	}
	short, err := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdAuthToken), servicedesk.WithHTTPClient(hc),
		servicedesk.WithLogger(logger), servicedesk.WithRetry(0, time.Millisecond, time.Millisecond), servicedesk.WithTimeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	_, err = short.Requests.Get(ctx, r.ID)
	mustFail(t, w, "get past the timeout", err)

	// Refused credentials.
	wrong, err := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdWrongAuthToken), servicedesk.WithHTTPClient(hc), servicedesk.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.Requests.Get(ctx, r.ID)
	mustFail(t, w, "get with a wrong authtoken", err)
	if !errors.Is(err, servicedesk.ErrUnauthorized) {
		t.Errorf("wrong authtoken: %v; want ErrUnauthorized", err)
	}
	// The server gone.
	srv.Close()
	_, err = c.Requests.Get(ctx, r.ID)
	mustFail(t, w, "get from a closed server", err)

	lines := w.check(t)
	t.Logf("servicedesk (authtoken): %d HTTP calls recorded, %d log lines checked", rec.count(), lines)
}

// TestNoSecretsServiceDeskZoho does the same for the cloud flavour: the
// OAuth client secret, the refresh tokens and the access tokens stay out of
// logs, URLs and errors, through a first grant, an expiry and a refused
// refresh token.
func TestNoSecretsServiceDeskZoho(t *testing.T) {
	w := newSecretWatch()
	w.watch(allSecrets()...)
	logger := slog.New(w)
	srv := sdptest.NewServer(sdptest.WithCloud("itdesk"), sdptest.WithOAuthClient(zohoClientID, zohoSecret, zohoRefresh),
		sdptest.WithAccessTokens(zohoAccess1, zohoAccess2))
	defer srv.Close()
	rec, hc := newRecorder(w)
	defer hc.CloseIdleConnections()
	clock := testutil.NewClock(time.Now())
	newClient := func(refresh string) *servicedesk.Client {
		t.Helper()
		src, err := servicedesk.NewZohoTokenSource(servicedesk.ZohoConfig{
			ClientID: zohoClientID, ClientSecret: zohoSecret, RefreshToken: refresh,
			AccountsURL: srv.AccountsURL(), HTTPClient: hc, Logger: logger, Now: clock.Now,
		})
		if err != nil {
			t.Fatal(err)
		}
		c, err := servicedesk.NewClient(srv.URL(), servicedesk.WithCloudPortal(srv.Portal()), servicedesk.WithAuthenticator(src),
			servicedesk.WithHTTPClient(hc), servicedesk.WithLogger(logger), servicedesk.WithRetry(1, time.Millisecond, 5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	c := newClient(zohoRefresh)
	r, err := c.Requests.Create(ctx, &servicedesk.RequestInput{Subject: "[FRD acme/2] XSS", Description: inputMarker})
	ok(t, w, "create", err)
	if r == nil {
		t.FailNow()
	}
	// Ten minutes on, the server has dropped the token: the next call is
	// refused, renews it once and is sent again.
	clock.Advance(10 * time.Minute)
	srv.ExpireAccessTokens()
	_, err = c.Requests.Get(ctx, r.ID)
	ok(t, w, "get after expiry", err)
	_, err = c.Requests.List(ctx, nil)
	ok(t, w, "list", err)
	if got := srv.TokenGrants(); got < 2 {
		t.Errorf("%d access tokens granted; want 2 (first call, after expiry)", got)
	}
	_, err = newClient(zohoWrongRefresh).Requests.Get(ctx, r.ID)
	mustFail(t, w, "get with a refused refresh token", err)
	if err := srv.AddFault(sdptest.Fault{Kind: sdptest.ServerError, Path: "/oauth/v2/token", Status: 500, Times: 5}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Minute)
	srv.ExpireAccessTokens()
	_, err = c.Requests.Get(ctx, r.ID)
	mustFail(t, w, "get while the accounts server fails", err)

	lines := w.check(t)
	t.Logf("servicedesk (Zoho OAuth): %d HTTP calls recorded, %d log lines checked", rec.count(), lines)
}

// TestNoSecretsFaraday runs the Faraday client with a token and with Basic
// credentials, right and wrong, and through server errors.
func TestNoSecretsFaraday(t *testing.T) {
	w := newSecretWatch()
	w.watch(allSecrets()...)
	logger := slog.New(w)
	fs := faradaytest.NewServer(faradaytest.WithToken(faradayJWT), faradaytest.WithUser(faradayUser, faradayPassword))
	defer fs.Close()
	if err := fs.AddWorkspace(faraday.Workspace{Name: workspace, Active: true}); err != nil {
		t.Fatal(err)
	}
	rec, hc := newRecorder(w)
	defer hc.CloseIdleConnections()
	ctx := context.Background()
	for _, auth := range []struct {
		name       string
		right, bad faraday.Option
	}{
		{"token", faraday.WithToken(faradayJWT), faraday.WithToken(faradayWrongJWT)},
		{"basic", faraday.WithBasicAuth(faradayUser, faradayPassword), faraday.WithBasicAuth(faradayUser, faradayWrongPass)},
	} {
		// A vuln per mode, so that each mode's injected failures are its own.
		id, err := fs.AddVuln(workspace, faraday.Vuln{Name: "SQL injection", Severity: faraday.SeverityHigh, Status: faraday.StatusOpen})
		if err != nil {
			t.Fatal(err)
		}
		c, err := faraday.NewClient(fs.URL(), auth.right, faraday.WithHTTPClient(hc), faraday.WithLogger(logger), faraday.WithRetry(1, time.Millisecond, 5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Vulns.Get(ctx, workspace, id)
		ok(t, w, auth.name+": get", err)
		for _, err := range c.Vulns.All(ctx, workspace, nil) {
			ok(t, w, auth.name+": list", err)
		}
		_, err = c.Vulns.UpdateStatus(ctx, workspace, id, faraday.StatusClosed)
		ok(t, w, auth.name+": set status", err)
		fs.Fail(http.MethodGet, "/_api/v3/ws/"+workspace+"/vulns/"+itoa(id), http.StatusInternalServerError, 5)
		_, err = c.Vulns.Get(ctx, workspace, id)
		mustFail(t, w, auth.name+": get answered 500", err)
		bad, err := faraday.NewClient(fs.URL(), auth.bad, faraday.WithHTTPClient(hc), faraday.WithLogger(logger))
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.Vulns.Get(ctx, workspace, id)
		mustFail(t, w, auth.name+": wrong credentials", err)
	}
	lines := w.check(t)
	t.Logf("faraday: %d HTTP calls recorded, %d log lines checked", rec.count(), lines)
}

// TestNoSecretsQuickstart runs the quickstart program and looks for its
// secrets in everything it prints: sdptest's authtoken, and anything shaped
// like a Faraday token (43 characters of URL-safe base64, which is how the
// webhook token and the fake Faraday's API token are made).
func TestNoSecretsQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quickstart program")
	}
	out, err := exec.CommandContext(t.Context(), "go", "run", "github.com/vulndesk/mesd/examples/quickstart").CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	w := newSecretWatch()
	w.watch(sdptest.DefaultAuthToken)
	w.text("quickstart output", string(out))
	if m := tokenShape.FindAll(out, -1); len(m) > 0 {
		t.Errorf("the quickstart printed %d token-shaped strings", len(m))
	}
	w.check(t)
	t.Logf("quickstart: %d bytes of output checked", len(out))
}

// tokenShape matches the plaintext of a faraday.NewTokenSecret token: 32
// random bytes in unpadded URL-safe base64, standing alone.
var tokenShape = regexp.MustCompile(`(^|[^A-Za-z0-9_-])[A-Za-z0-9_-]{43}($|[^A-Za-z0-9_-])`)

// TestSecretWatchFinds checks the checker: a secret in a message, in an
// attribute, in a group's attribute or in an error's text is reported.
func TestSecretWatchFinds(t *testing.T) {
	w := newSecretWatch()
	w.watch(sdAuthToken, "")
	logger := slog.New(w)
	logger.Info("clean line", slog.String("id", "42"))
	logger.Info("token " + sdAuthToken)
	logger.With(slog.String("header", "authtoken: "+sdAuthToken)).Info("with")
	logger.WithGroup("req").Info("grouped", slog.Any("err", errors.New("refused "+sdAuthToken)))
	w.text("an error", "servicedesk: "+sdAuthToken+" refused")
	w.shared.mu.Lock()
	defer w.shared.mu.Unlock()
	if len(w.shared.leaks) != 4 || w.shared.lines != 4 {
		t.Fatalf("%d leaks in %d lines; want 4 in 4: %q", len(w.shared.leaks), w.shared.lines, w.shared.leaks)
	}
	for _, l := range w.shared.leaks {
		if strings.Contains(l, sdAuthToken) {
			t.Errorf("the report prints the secret: %s", l)
		}
	}
}

// TestNoSecretsWebhook sends the handler a delivery with each kind of
// token (valid, revoked, expired, of another scope, unknown, in the body and
// in the header) and a delivery whose store fails, and looks for every
// token in the log lines, the answers and the outcomes' errors.
func TestNoSecretsWebhook(t *testing.T) {
	ctx := context.Background()
	m := loadMapper(t)
	w := newSecretWatch()
	tokens := faraday.NewMemoryTokenStore()
	issue := func(spec faraday.UserToken) string {
		t.Helper()
		_, tok, err := faraday.IssueToken(ctx, tokens, spec)
		if err != nil {
			t.Fatal(err)
		}
		w.watch(tok)
		return tok
	}
	valid := issue(faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	expired := issue(faraday.UserToken{UserID: 1, Alias: "old", Scope: faraday.ScopeServiceDesk, ExpiresAt: time.Now().Add(-time.Hour)})
	gitlab := issue(faraday.UserToken{UserID: 1, Alias: "gl", Scope: faraday.ScopeGitLab})
	revoked := issue(faraday.UserToken{UserID: 1, Alias: "gone", Scope: faraday.ScopeServiceDesk})
	list, err := tokens.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range list {
		if tk.Alias == "gone" {
			if err := tokens.Revoke(ctx, tk.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	unknown := "zzzzUnknownTokenUnknownTokenUnknownToken0000"
	w.watch(unknown)

	links := faraday.NewMemoryLinkStore()
	vulns := &syncVulns{MemoryVulnStore: webhook.NewMemoryVulnStore(), sets: map[faraday.VulnKey]int{}, failures: map[faraday.VulnKey]int{}}
	for i := range 3 {
		key := faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}
		if _, err := links.CompareAndSet(ctx, faraday.Link{Key: key, ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: ticketOf(i)}}, 0); err != nil {
			t.Fatal(err)
		}
		vulns.Put(key, faraday.StatusOpen)
	}
	vulns.failures[faraday.VulnKey{Workspace: workspace, VulnID: 3}] = 10 // Faraday down for vuln 3
	h, err := webhook.NewHandler(webhook.Config{
		Tokens: tokens, Links: links, Statuses: m, Vulns: vulns,
		Logger:     slog.New(w),
		Retry:      webhook.Retry{Attempts: 2, Wait: time.Millisecond},
		DeadLetter: func(dl webhook.DeadLetter) { w.text("dead letter", fmt.Sprintf("%+v %v", dl, dl.Err)) },
		OnOutcome: func(o webhook.Outcome) {
			w.text("outcome", fmt.Sprintf("%+v", o))
			if o.Err != nil {
				w.text("outcome error", o.Err.Error())
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		body, header string
		want         int
	}{
		{"valid", goodBody(m, 0, "Resolved", valid), "1", http.StatusOK},
		{"valid, Token prefix", goodBody(m, 1, "Resolved", "Token "+valid), "1", http.StatusOK},
		{"valid in the header", `{"status": "Open", "desc": "", "id": "` + ticketOf(1) + `"}`, valid, http.StatusOK},
		{"store failing", goodBody(m, 2, "Resolved", valid), "1", http.StatusServiceUnavailable},
		{"expired", goodBody(m, 0, "Open", expired), "1", http.StatusUnauthorized},
		{"other scope", goodBody(m, 0, "Open", gitlab), "1", http.StatusUnauthorized},
		{"revoked", goodBody(m, 0, "Open", revoked), "1", http.StatusUnauthorized},
		{"unknown", goodBody(m, 0, "Open", unknown), "1", http.StatusUnauthorized},
		{"unknown in the header", `{"status": "Open", "desc": ""}`, unknown, http.StatusUnauthorized},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, webhook.Path, strings.NewReader(c.body))
		req.Header.Set(webhook.HeaderToken, c.header)
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("%s: answered %d %s; want %d", c.name, rec.Code, rec.Body, c.want)
		}
		w.text(c.name+": answer", rec.Body.String())
		for k, vs := range rec.Header() {
			w.text(c.name+": answer header "+k, strings.Join(vs, ","))
		}
	}
	lines := w.check(t)
	if lines < 9 {
		t.Errorf("%d log lines for 9 deliveries", lines)
	}
}
