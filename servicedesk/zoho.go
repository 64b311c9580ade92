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
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-cleanhttp"
)

// DataCentre is a Zoho data centre hosting SDP Cloud, by its short code.
// Each has its own SDP domain and its own Zoho accounts server, which
// issues the access tokens.
type DataCentre string

// The data centres of SDP Cloud.
const (
	DataCentreUS DataCentre = "US"
	DataCentreEU DataCentre = "EU"
	DataCentreIN DataCentre = "IN"
	DataCentreCN DataCentre = "CN"
	DataCentreAU DataCentre = "AU"
	DataCentreJP DataCentre = "JP"
	// DataCentreCA is Canada. Sources disagree on its accounts server:
	// Zoho's documentation for the Canadian data centre and several
	// clients use accounts.zohocloud.ca, which AccountsURL returns;
	// ManageEngine's own Ansible collection uses accounts.zoho.ca. If
	// token requests fail there, set ZohoConfig.AccountsURL to the other.
	DataCentreCA DataCentre = "CA"
	DataCentreUK DataCentre = "UK"
	DataCentreSA DataCentre = "SA"
)

var dataCentres = map[DataCentre][2]string{
	DataCentreUS: {"https://sdpondemand.manageengine.com", "https://accounts.zoho.com"},
	DataCentreEU: {"https://sdpondemand.manageengine.eu", "https://accounts.zoho.eu"},
	DataCentreIN: {"https://sdpondemand.manageengine.in", "https://accounts.zoho.in"},
	DataCentreCN: {"https://servicedeskplus.cn", "https://accounts.zoho.com.cn"},
	DataCentreAU: {"https://servicedeskplus.net.au", "https://accounts.zoho.com.au"},
	DataCentreJP: {"https://servicedeskplus.jp", "https://accounts.zoho.jp"},
	DataCentreCA: {"https://servicedeskplus.ca", "https://accounts.zohocloud.ca"},
	DataCentreUK: {"https://servicedeskplus.uk", "https://accounts.zoho.uk"},
	DataCentreSA: {"https://servicedeskplus.sa", "https://accounts.zoho.sa"},
}

// DataCentres returns the codes of every known data centre.
func DataCentres() []DataCentre {
	return []DataCentre{DataCentreUS, DataCentreEU, DataCentreIN, DataCentreCN, DataCentreAU, DataCentreJP, DataCentreCA, DataCentreUK, DataCentreSA}
}

// APIDomain returns the data centre's SDP Cloud domain (the base URL to
// give NewClient with WithCloudPortal), or "" for an unknown code.
func (dc DataCentre) APIDomain() string { return dataCentres[dc][0] }

// AccountsURL returns the data centre's Zoho accounts server, or "" for an
// unknown code.
func (dc DataCentre) AccountsURL() string { return dataCentres[dc][1] }

// Zoho's limit on access tokens: at most ZohoRefreshLimit per refresh
// token in any ZohoRefreshWindow; beyond it Zoho blocks the refresh token
// for the rest of the window.
const (
	ZohoRefreshLimit  = 10
	ZohoRefreshWindow = 10 * time.Minute
)

// ErrRefreshLimit matches the error a ZohoTokenSource returns instead of
// calling Zoho when ZohoRefreshLimit refreshes were made in the last
// ZohoRefreshWindow.
var ErrRefreshLimit = errors.New("servicedesk: Zoho token refresh limit reached")

// ZohoError is an error answer of the Zoho accounts token endpoint, such
// as {"error":"invalid_code"} (which Zoho may send with HTTP 200).
type ZohoError struct {
	HTTPStatus int
	// Code is Zoho's error code ("invalid_code", "invalid_client", …), or
	// "" when the answer had none; a code that is not a plain identifier
	// is replaced by "(unreadable)".
	Code string
}

// Error names the HTTP status and Zoho's code.
func (e *ZohoError) Error() string {
	code := e.Code
	if code == "" {
		code = "(none)"
	}
	return fmt.Sprintf("servicedesk: Zoho token endpoint refused the refresh: HTTP %d, error %s", e.HTTPStatus, code)
}

// Is matches ErrUnauthorized when Zoho refused the credentials: an answer
// with an error code, or a 4xx status. A 5xx without a code is Zoho
// failing, not a refusal, and does not match.
func (e *ZohoError) Is(target error) bool {
	return target == ErrUnauthorized && (e.Code != "" || e.HTTPStatus >= 400 && e.HTTPStatus < 500)
}

// ZohoConfig configures a ZohoTokenSource.
type ZohoConfig struct {
	ClientID     string // OAuth client id (Zoho API console)
	ClientSecret string // OAuth client secret; never logged or shown
	RefreshToken string // refresh token (grant with access_type=offline); never logged or shown
	// DataCentre selects the accounts server; AccountsURL, when set, is
	// used instead (custom or disputed servers, tests).
	DataCentre  DataCentre
	AccountsURL string
	// HTTPClient makes the token requests; nil means a pooled client with
	// a 30s timeout. Redirects are never followed.
	HTTPClient *http.Client
	// Now is the clock (nil: time.Now); tests inject one.
	Now func() time.Time
	// ExpiryMargin is how long before its expiry a token is renewed
	// (default 1 minute; at most half the token's lifetime).
	ExpiryMargin time.Duration
	// Logger, if set, gets one Debug line per refresh, without secrets.
	Logger *slog.Logger
}

// ZohoTokenSource is an Authenticator (and Reauthenticator) for SDP Cloud
// that turns a Zoho refresh token into access tokens, sent as
// "Authorization: Zoho-oauthtoken <token>".
//
// An access token is kept until ExpiryMargin before it expires. Concurrent
// callers that need a new token share one refresh. When SDP answers 401
// the client asks Reauthenticate once: if the rejected token is still the
// current one it is dropped and one refresh is made, and the call is sent
// once more; a token already renewed by another caller is reused without
// a refresh; a token younger than ZohoFreshTokenAge is not renewed (the
// 401 is returned with an explanation). Refreshes are counted in a sliding window and kept within
// Zoho's limit (ZohoRefreshLimit per ZohoRefreshWindow): beyond it the
// source returns an error matching ErrRefreshLimit without calling Zoho.
// An error answer is never stored as a token, even with HTTP 200.
//
// It is safe for concurrent use. Its String method and errors never show
// the client secret, the refresh token or an access token.
type ZohoTokenSource struct {
	clientID                   string
	clientSecret, refreshToken secretText
	tokenURL                   string
	hc                         *http.Client
	now                        func() time.Time
	margin                     time.Duration
	logger                     *slog.Logger

	mu        sync.Mutex
	access    secretText // nil: none yet
	expiry    time.Time  // when access expires
	renewAt   time.Time  // when access is renewed
	issued    time.Time  // when access was obtained
	apiDomain string
	flight    *tokenFlight
	refreshes []time.Time // starts of the refreshes in the window, oldest first
}

type tokenFlight struct {
	done  chan struct{}
	token string
	err   error
	// abandoned: the refresh failed because the refreshing caller's own
	// context ended, which says nothing about the waiters' chances.
	abandoned bool
}

// NewZohoTokenSource checks cfg and returns a token source. It does no
// I/O: the first token is fetched by the first call.
func NewZohoTokenSource(cfg ZohoConfig) (*ZohoTokenSource, error) {
	for _, f := range []struct{ name, v string }{
		{"client id", cfg.ClientID}, {"client secret", cfg.ClientSecret}, {"refresh token", cfg.RefreshToken},
	} {
		if strings.TrimSpace(f.v) == "" {
			return nil, fmt.Errorf("servicedesk: Zoho %s is empty", f.name)
		}
		if strings.ContainsAny(f.v, " \t\r\n") {
			return nil, fmt.Errorf("servicedesk: Zoho %s contains a space or line break (value not shown)", f.name)
		}
	}
	accounts := cfg.AccountsURL
	if accounts == "" {
		if cfg.DataCentre == "" {
			return nil, errors.New("servicedesk: Zoho accounts server unknown: set ZohoConfig.DataCentre or AccountsURL")
		}
		accounts = cfg.DataCentre.AccountsURL()
		if accounts == "" {
			return nil, fmt.Errorf("servicedesk: unknown data centre %q: want one of %v", truncate(string(cfg.DataCentre), 10), DataCentres())
		}
	}
	u, err := url.Parse(accounts)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("servicedesk: Zoho accounts URL %q: want https://host[/path]", truncate(redactURL(accounts), 80))
	}
	if u.Scheme == "http" && !isLoopbackHost(u.Hostname()) {
		// The client secret and the refresh token would cross the
		// network in clear text.
		return nil, fmt.Errorf("servicedesk: Zoho accounts URL %q: http:// is only allowed for a loopback host (a local test server); want https://", truncate(redactURL(accounts), 80))
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/oauth/v2/token"
	if cfg.ExpiryMargin < 0 {
		return nil, fmt.Errorf("servicedesk: negative Zoho expiry margin %v", cfg.ExpiryMargin)
	}
	z := &ZohoTokenSource{
		clientID: cfg.ClientID, clientSecret: newSecretText(cfg.ClientSecret), refreshToken: newSecretText(cfg.RefreshToken),
		tokenURL: u.String(), now: cfg.Now, margin: cfg.ExpiryMargin, logger: cfg.Logger,
	}
	if z.now == nil {
		z.now = time.Now
	}
	if z.margin == 0 {
		z.margin = time.Minute
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: cleanhttp.DefaultPooledTransport(), Timeout: 30 * time.Second}
	}
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	z.hc = &cp
	return z, nil
}

// String shows the token endpoint only.
func (z *ZohoTokenSource) String() string {
	return "servicedesk.ZohoTokenSource{" + redactURL(z.tokenURL) + "}"
}

// GoString shows the token endpoint only.
func (z *ZohoTokenSource) GoString() string { return z.String() }

// Format prints what String prints for every verb, so that no verb (%d,
// %x, %t, …) reaches the credentials through fmt's printing of fields.
func (z *ZohoTokenSource) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, z.String()) }

// accessText returns the cached access token, or "" when there is none.
// The caller holds z.mu.
func (z *ZohoTokenSource) accessText() string {
	if z.access == nil {
		return ""
	}
	return z.access()
}

// secretText holds a secret in a closure: fmt prints a func as an address,
// so a struct holding one never shows the secret, whatever the verb or the
// depth at which it is printed.
type secretText func() string

func newSecretText(s string) secretText { return func() string { return s } }

// Token returns a valid access token, refreshing it when it is missing or
// about to expire.
func (z *ZohoTokenSource) Token(ctx context.Context) (string, error) {
	return z.token(ctx, "")
}

// Expiry returns when the current access token expires (zero before the
// first refresh).
func (z *ZohoTokenSource) Expiry() time.Time {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.expiry
}

// APIDomain returns the api_domain Zoho sent with the last token ("" before
// the first refresh). It is Zoho's API domain, not SDP's.
func (z *ZohoTokenSource) APIDomain() string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.apiDomain
}

// Authenticate sets the Authorization header of req, using req's context
// for a refresh.
func (z *ZohoTokenSource) Authenticate(req *http.Request) error {
	tok, err := z.Token(req.Context())
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", zohoScheme+tok)
	return nil
}

const zohoScheme = "Zoho-oauthtoken "

// Reauthenticate drops the token rejected carried, if it is still the
// current one, and gets a new one (one refresh, shared with concurrent
// callers). It returns true when the call should be sent again.
func (z *ZohoTokenSource) Reauthenticate(ctx context.Context, rejected *http.Request) (bool, error) {
	if rejected == nil {
		return false, nil
	}
	old, ok := strings.CutPrefix(rejected.Header.Get("Authorization"), zohoScheme)
	if !ok || old == "" {
		return false, nil
	}
	z.mu.Lock()
	age := z.now().Sub(z.issued)
	fresh := z.accessText() == old && age < ZohoFreshTokenAge
	z.mu.Unlock()
	if fresh {
		return false, fmt.Errorf("servicedesk: the access token was rejected %v after Zoho issued it; not renewed, as a new one would be refused alike: check the OAuth scopes (for example SDPOnDemand.setup.READ for templates, SDPOnDemand.users.READ for users), the portal and the data centre",
			age.Round(time.Second))
	}
	if _, err := z.token(ctx, old); err != nil {
		return false, err
	}
	return true, nil
}

// ZohoFreshTokenAge is the age under which a rejected access token is not
// renewed: SDP refusing a token Zoho has just issued points to missing
// scopes or a wrong portal or data centre, which a new token would not
// fix, and renewals are limited (ZohoRefreshLimit).
const ZohoFreshTokenAge = 30 * time.Second

// token returns a usable token. A non-empty rejected token is treated as
// invalid if it is still the current one.
func (z *ZohoTokenSource) token(ctx context.Context, rejected string) (string, error) {
	for {
		z.mu.Lock()
		now := z.now()
		if rejected != "" && z.accessText() == rejected {
			z.access = nil
		}
		if z.access != nil && now.Before(z.renewAt) {
			tok := z.access()
			z.mu.Unlock()
			return tok, nil
		}
		if f := z.flight; f != nil {
			z.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", fmt.Errorf("servicedesk: waiting for a Zoho token refresh: %w", ctx.Err())
			}
			if f.err != nil {
				if f.abandoned && ctx.Err() == nil {
					continue // the refreshing caller gave up; ours may refresh
				}
				return "", f.err
			}
			return f.token, nil
		}
		if err := z.allowLocked(now); err != nil {
			z.mu.Unlock()
			return "", err
		}
		f := &tokenFlight{done: make(chan struct{})}
		z.flight = f
		z.mu.Unlock()

		tr, err := z.refresh(ctx)

		z.mu.Lock()
		if err == nil {
			z.access = newSecretText(tr.accessToken)
			z.expiry = now.Add(tr.expiresIn)
			z.renewAt = z.expiry.Add(-min(z.margin, tr.expiresIn/2))
			z.issued = now
			z.apiDomain = tr.apiDomain
			f.token = tr.accessToken
		}
		f.err = err
		f.abandoned = err != nil && ctx.Err() != nil
		z.flight = nil
		z.mu.Unlock()
		close(f.done)
		return f.token, err
	}
}

// allowLocked counts a refresh starting at now in the sliding window, or
// refuses it when the window is full. z.mu is held.
func (z *ZohoTokenSource) allowLocked(now time.Time) error {
	cut := now.Add(-ZohoRefreshWindow)
	i := 0
	for i < len(z.refreshes) && !z.refreshes[i].After(cut) {
		i++
	}
	z.refreshes = z.refreshes[i:]
	if len(z.refreshes) >= ZohoRefreshLimit {
		next := z.refreshes[0].Add(ZohoRefreshWindow)
		return fmt.Errorf("%w: %d refreshes in the last %v; the next is allowed in %v (a wrong token or clock, or many processes sharing one refresh token, can cause this)",
			ErrRefreshLimit, len(z.refreshes), ZohoRefreshWindow, next.Sub(now).Round(time.Second))
	}
	z.refreshes = append(z.refreshes, now)
	return nil
}

// maxTokenAnswer caps the bytes read from the token endpoint.
const maxTokenAnswer = 64 << 10

func (z *ZohoTokenSource) refresh(ctx context.Context) (*zohoToken, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"client_id":     {z.clientID},
		"client_secret": {z.clientSecret()},
		"refresh_token": {z.refreshToken()},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, z.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("servicedesk: Zoho token request: %w", sanitizeErr(err))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := z.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("servicedesk: Zoho token request: %w", sanitizeErr(err))
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("servicedesk: Zoho token answer (HTTP %d): %w", resp.StatusCode, sanitizeErr(err))
	}
	if len(body) > maxTokenAnswer {
		return nil, fmt.Errorf("servicedesk: Zoho token answer (HTTP %d) exceeds %d bytes", resp.StatusCode, maxTokenAnswer)
	}
	tr, err := decodeZohoToken(resp.StatusCode, body)
	if err != nil {
		return nil, err
	}
	if z.logger != nil {
		z.logger.LogAttrs(ctx, slog.LevelDebug, "servicedesk: Zoho access token refreshed",
			slog.String("endpoint", redactURL(z.tokenURL)), slog.Duration("expires_in", tr.expiresIn))
	}
	return tr, nil
}

// zohoToken is a decoded token answer.
type zohoToken struct {
	accessToken string
	expiresIn   time.Duration
	apiDomain   string
	tokenType   string
}

// decodeZohoToken reads a token endpoint answer. An "error" member makes
// it a *ZohoError whatever the HTTP status, and also beside an
// access_token; so does a non-2xx status. A
// success must carry an access token usable in a header. expires_in is in
// seconds (old answers gave milliseconds there and seconds in
// expires_in_sec, which wins); when absent the documented hour is assumed.
func decodeZohoToken(status int, body []byte) (*zohoToken, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("servicedesk: Zoho token answer (HTTP %d) is not a JSON object", status)
	}
	var w struct {
		AccessToken  json.RawMessage `json:"access_token"`
		ExpiresIn    *flexInt        `json:"expires_in"`
		ExpiresInSec *flexInt        `json:"expires_in_sec"`
		APIDomain    string          `json:"api_domain"`
		TokenType    string          `json:"token_type"`
		Error        json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(trimmed, &w); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return nil, fmt.Errorf("servicedesk: Zoho token answer (HTTP %d): member %q has the wrong type", status, ute.Field)
		}
		return nil, fmt.Errorf("servicedesk: Zoho token answer (HTTP %d) is not valid JSON", status)
	}
	if e := bytes.TrimSpace(w.Error); len(e) > 0 && !isNull(e) {
		// An answer with an error member is an error, also when it
		// carries an access token too: which of the two Zoho meant is
		// unknown, and a token from an answer reporting an error is not
		// one to trust.
		hasToken := len(bytes.TrimSpace(w.AccessToken)) > 0 && !isNull(bytes.TrimSpace(w.AccessToken))
		if hasToken || (string(e) != `""` && string(e) != "false") {
			return nil, &ZohoError{HTTPStatus: status, Code: safeCode(e)}
		}
	}
	if status < 200 || status > 299 {
		return nil, &ZohoError{HTTPStatus: status}
	}
	var tok string
	if err := json.Unmarshal(w.AccessToken, &tok); err != nil || tok == "" {
		return nil, fmt.Errorf("servicedesk: Zoho token answer (HTTP %d) has no access_token string", status)
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c <= ' ' || c >= 0x7f {
			return nil, fmt.Errorf("servicedesk: Zoho token answer (HTTP %d): access_token has a character not allowed in a header (not shown)", status)
		}
	}
	secs := int64(3600)
	switch {
	case w.ExpiresInSec != nil:
		secs = int64(*w.ExpiresInSec)
	case w.ExpiresIn != nil:
		secs = int64(*w.ExpiresIn)
		if secs > 24*3600 {
			secs /= 1000 // milliseconds, as old answers gave
		}
	}
	if secs <= 0 || secs > 24*3600 {
		return nil, fmt.Errorf("servicedesk: Zoho token answer (HTTP %d): expires_in %d seconds is out of range", status, secs)
	}
	return &zohoToken{accessToken: tok, expiresIn: time.Duration(secs) * time.Second, apiDomain: w.APIDomain, tokenType: w.TokenType}, nil
}

// safeCode returns a Zoho error code if it is a plain identifier, so that
// an echoed value can never carry a secret into an error string.
func safeCode(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil || s == "" || len(s) > 64 {
		return "(unreadable)"
	}
	for _, r := range s {
		if !isCodeRune(r) {
			return "(unreadable)"
		}
	}
	return s
}

func isCodeRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.'
}

// isLoopbackHost reports whether host (without port) is "localhost" or a
// loopback IP address.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
