package faraday

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vulndesk/mesd/internal/testutil"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func TestNewTokenSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		plain, hash, err := NewTokenSecret()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.RawURLEncoding.DecodeString(plain)
		if err != nil || len(raw) != 32 {
			t.Fatalf("token %d bytes, %v; want 32 random bytes", len(raw), err)
		}
		if hash != HashToken(plain) {
			t.Fatal("hash is not the SHA-256 of the token")
		}
		if seen[plain] {
			t.Fatal("token repeated")
		}
		seen[plain] = true
	}
}

func TestUserTokenCheck(t *testing.T) {
	exp := t0.Add(time.Hour)
	tok := UserToken{ID: 3, UserID: 1, Alias: "sdp", Scope: ScopeServiceDesk, ExpiresAt: exp}
	cases := []struct {
		name   string
		tok    UserToken
		now    time.Time
		scopes []Scope
		want   error
	}{
		{"valid before expiry", tok, exp.Add(-time.Nanosecond), []Scope{ScopeServiceDesk}, nil},
		{"valid at the exact expiry instant", tok, exp, []Scope{ScopeServiceDesk}, nil},
		{"expired one nanosecond after", tok, exp.Add(time.Nanosecond), []Scope{ScopeServiceDesk}, ErrTokenExpired},
		{"never expires", UserToken{ID: 4, Alias: "x", Scope: ScopeServiceDesk}, t0.AddDate(100, 0, 0), []Scope{ScopeServiceDesk}, nil},
		{"wrong scope", tok, t0, []Scope{ScopeJira}, ErrTokenScope},
		{"global is no wildcard", UserToken{ID: 5, Alias: "g", Scope: ScopeGlobal}, t0, []Scope{ScopeServiceDesk}, ErrTokenScope},
		{"global when listed", UserToken{ID: 5, Alias: "g", Scope: ScopeGlobal}, t0, []Scope{ScopeServiceDesk, ScopeGlobal}, nil},
		{"no scope accepted", tok, t0, nil, ErrTokenScope},
		{"revoked beats expiry", UserToken{ID: 6, Alias: "r", Scope: ScopeServiceDesk, Revoked: true, ExpiresAt: t0}, t0.Add(time.Hour), []Scope{ScopeServiceDesk}, ErrTokenRevoked},
		{"expired beats scope", UserToken{ID: 7, Alias: "e", Scope: ScopeGitLab, ExpiresAt: t0}, t0.Add(time.Second), []Scope{ScopeServiceDesk}, ErrTokenExpired},
	}
	for _, c := range cases {
		err := c.tok.Check(c.now, c.scopes...)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: Check = %v; want %v", c.name, err, c.want)
		}
	}
}

func TestValidateTokenWithClock(t *testing.T) {
	ctx := context.Background()
	clock := testutil.NewClock(t0)
	for _, mk := range tokenStoreMakers(t) {
		store := mk.make(t, WithClock(clock.Now))
		exp := t0.Add(time.Minute)
		sd, sdPlain, err := IssueToken(ctx, store, UserToken{UserID: 2, Alias: "servicedesk webhook", Scope: ScopeServiceDesk, ExpiresAt: exp})
		if err != nil {
			t.Fatal(err)
		}
		if sd.ID == 0 || !sd.CreatedAt.Equal(t0) || sd.Revoked {
			t.Errorf("%s: issued %v", mk.name, sd)
		}
		_, jiraPlain, err := IssueToken(ctx, store, UserToken{UserID: 2, Alias: "jira", Scope: ScopeJira})
		if err != nil {
			t.Fatal(err)
		}
		check := func(what, plain string, want error) {
			t.Helper()
			tok, err := ValidateToken(ctx, store, plain, clock.Now(), ScopeServiceDesk)
			if want == nil {
				if err != nil || tok.ID != sd.ID {
					t.Errorf("%s: %s: %v, %v; want token %d", mk.name, what, tok, err, sd.ID)
				}
				return
			}
			if !errors.Is(err, want) {
				t.Errorf("%s: %s: %v; want %v", mk.name, what, err, want)
			}
			if err != nil && strings.Contains(err.Error(), plain) && plain != "" {
				t.Errorf("%s: error %q shows the token", mk.name, err)
			}
		}
		check("valid", sdPlain, nil)
		check("unknown", sdPlain+"x", ErrTokenUnknown)
		check("empty", "", ErrTokenUnknown)
		check("huge", strings.Repeat("a", 10000), ErrTokenUnknown)
		check("wrong scope", jiraPlain, ErrTokenScope)
		clock.Set(exp)
		check("at the exact expiry instant", sdPlain, nil)
		clock.Advance(time.Nanosecond)
		check("just expired", sdPlain, ErrTokenExpired)
		clock.Set(t0)
		if err := store.Revoke(ctx, sd.ID); err != nil {
			t.Fatal(err)
		}
		if err := store.Revoke(ctx, sd.ID); err != nil {
			t.Errorf("second revoke: %v", err)
		}
		check("revoked", sdPlain, ErrTokenRevoked)
		if err := store.Revoke(ctx, 999); !errors.Is(err, ErrTokenNotFound) {
			t.Errorf("revoke unknown = %v", err)
		}
		list, err := store.List(ctx)
		if err != nil || len(list) != 2 || list[0].ID != sd.ID || !list[0].Revoked || list[1].Alias != "jira" {
			t.Errorf("%s: List = %v, %v", mk.name, list, err)
		}
		if _, err := store.Create(ctx, UserToken{Alias: "bad", Scope: "root"}, HashToken("x")); !errors.Is(err, ErrInvalidScope) {
			t.Errorf("bad scope create = %v", err)
		}
		if _, err := store.Create(ctx, UserToken{Alias: "dup", Scope: ScopeJira}, HashToken(jiraPlain)); err == nil {
			t.Error("a second token with the same hash was accepted")
		}
	}
}

type tokenStoreMaker struct {
	name string
	make func(t *testing.T, opts ...StoreOption) TokenStore
}

func tokenStoreMakers(t *testing.T) []tokenStoreMaker {
	makers := []tokenStoreMaker{
		{"memory", func(_ *testing.T, opts ...StoreOption) TokenStore { return NewMemoryTokenStore(opts...) }},
	}
	if !flockSupported {
		t.Log("file-backed stores are not supported here; testing the memory store only")
		return makers
	}
	return append(makers, tokenStoreMaker{"file", func(t *testing.T, opts ...StoreOption) TokenStore {
		s, err := OpenFileTokenStore(filepath.Join(t.TempDir(), "tokens.json"), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}})
}

// requireFileStores skips a test of the file-backed stores where flock(2)
// is missing and they cannot be opened.
func requireFileStores(t testing.TB) {
	t.Helper()
	if !flockSupported {
		t.Skip("file-backed stores need flock(2)")
	}
}

func TestTokenNeverPrintsSecrets(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryTokenStore()
	tok, plain, err := IssueToken(ctx, store, UserToken{UserID: 1, Alias: "a", Scope: ScopeServiceDesk, ExpiresAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	h := HashToken(plain)
	hexHash := fmt.Sprintf("%x", [32]byte(h))
	b, _ := json.Marshal(tok)
	outputs := []string{
		tok.String(), fmt.Sprintf("%v", tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), fmt.Sprintf("%v", &tok),
		fmt.Sprint(tok), string(b),
		fmt.Sprintf("%v", h), fmt.Sprintf("%x", h), fmt.Sprintf("%#v", h), fmt.Sprintf("%+v", h), fmt.Sprintf("%s", h),
		fmt.Sprintf("%v", tokenRecord{UserToken: tok, hash: h}),
	}
	for _, o := range outputs {
		if strings.Contains(o, plain) || strings.Contains(o, hexHash) || strings.Contains(o, string(h[:8])) {
			t.Errorf("output shows a secret: %s", o)
		}
	}
	if !strings.Contains(tok.String(), `alias="a"`) || !strings.Contains(tok.String(), "scope=service_desk") {
		t.Errorf("String() = %s", tok)
	}
	if _, err := json.Marshal(h); err == nil {
		t.Error("a TokenHash marshalled to JSON")
	}
	var back UserToken
	if err := json.Unmarshal(b, &back); err != nil || back != tok {
		t.Errorf("JSON round trip = %v, %v", back, err)
	}
}

func TestParseScope(t *testing.T) {
	for _, s := range Scopes() {
		if got, err := ParseScope(string(s)); err != nil || got != s {
			t.Errorf("ParseScope(%s) = %v, %v", s, got, err)
		}
	}
	want := []Scope{"gitlab", "service_desk", "scheduler", "jira", "global"}
	for i, s := range Scopes() {
		if s != want[i] {
			t.Errorf("Scopes()[%d] = %s", i, s)
		}
	}
	for _, bad := range []string{"", "servicedesk", "Service_Desk", "admin"} {
		if _, err := ParseScope(bad); !errors.Is(err, ErrInvalidScope) {
			t.Errorf("ParseScope(%q) = %v", bad, err)
		}
	}
}

func TestUserTokenJSONNames(t *testing.T) {
	tok := UserToken{ID: 1, UserID: 2, Alias: "a", ExpiresAt: t0, Scope: ScopeServiceDesk, Revoked: true, Hide: true, CreatedAt: t0}
	b, err := json.Marshal(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":1,"user_id":2,"alias":"a","expires_at":"2026-05-01T12:00:00Z","scope":"service_desk","revoked":true,"hide":true,"created_at":"2026-05-01T12:00:00Z"}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant %s", b, want)
	}
	// No expiry: the key is left out, and reads back as never.
	b, _ = json.Marshal(UserToken{ID: 1, Alias: "a", Scope: ScopeJira})
	if strings.Contains(string(b), "expires_at") {
		t.Errorf("JSON without expiry = %s", b)
	}
}
