package sdptest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"time"
)

// tokenPath is the fake Zoho accounts token endpoint.
const tokenPath = "/oauth/v2/token" //nolint:gosec // a URL path, not a credential

// Zoho's limit on access tokens per refresh token: 10 in 10 minutes.
const (
	grantLimit  = 10
	grantWindow = 10 * time.Minute
)

// AccountsURL returns the base URL of the fake Zoho accounts server (the
// server itself): tokens come from AccountsURL() + "/oauth/v2/token". Only
// the cloud flavour serves that endpoint.
func (s *Server) AccountsURL() string { return s.ts.URL }

// TokenGrants returns how many access tokens the accounts endpoint has
// issued.
func (s *Server) TokenGrants() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nGrants
}

// ExpireAccessTokens makes every access token issued so far invalid, as
// when an hour has passed: the next API call with one is answered 401.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, exp := range s.access {
		if !exp.IsZero() {
			delete(s.access, t)
		}
	}
}

// serveToken answers POST /oauth/v2/token with grant_type=refresh_token,
// reading client_id, client_secret and refresh_token from the form or the
// query. Like Zoho, it answers errors with status 200 and an "error" key:
// invalid_client for a wrong client, invalid_code for a wrong refresh
// token; past 10 tokens per refresh token in 10 minutes, 400 with
// "Access Denied".
func (s *Server) serveToken(r *http.Request, _ *Call) (int, any) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, map[string]any{"error": "invalid_request"}
	}
	f := r.Form
	if f.Get("grant_type") != "refresh_token" {
		return http.StatusOK, map[string]any{"error": "unsupported_grant_type"}
	}
	if !equal(f.Get("client_id"), s.clientID) || !equal(f.Get("client_secret"), s.clientSecret) {
		return http.StatusOK, map[string]any{"error": "invalid_client"}
	}
	rt := f.Get("refresh_token")
	known := false
	for _, t := range s.refresh {
		known = known || equal(rt, t)
	}
	if !known {
		return http.StatusOK, map[string]any{"error": "invalid_code"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	recent := s.grants[rt][:0:0]
	for _, t := range s.grants[rt] {
		if now.Sub(t) < grantWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) >= grantLimit {
		s.grants[rt] = recent
		return http.StatusBadRequest, map[string]any{
			"error": "Access Denied", "status": "failure",
			"error_description": "You have made too many requests continuously. Please try again after some time.",
		}
	}
	s.grants[rt] = append(recent, now)
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := "1000." + hex.EncodeToString(b[:])
	s.access[tok] = now.Add(s.tokenTTL)
	s.nGrants++
	return http.StatusOK, map[string]any{
		"access_token": tok, "expires_in": int(s.tokenTTL / time.Second),
		"api_domain": apiDomain(r), "token_type": "Bearer",
	}
}

func apiDomain(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
