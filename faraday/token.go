package faraday

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Scope is what a user token may be used for.
type Scope string

// The token scopes of Faraday's enum.
const (
	ScopeGitLab      Scope = "gitlab"
	ScopeServiceDesk Scope = "service_desk"
	ScopeScheduler   Scope = "scheduler"
	ScopeJira        Scope = "jira"
	ScopeGlobal      Scope = "global"
)

// ErrInvalidScope is wrapped by every error about an unknown scope name.
var ErrInvalidScope = errors.New("faraday: invalid token scope")

// Scopes returns the five scopes in Faraday's enum order.
func Scopes() []Scope {
	return []Scope{ScopeGitLab, ScopeServiceDesk, ScopeScheduler, ScopeJira, ScopeGlobal}
}

// Valid reports whether s is one of the five scopes.
func (s Scope) Valid() bool {
	switch s {
	case ScopeGitLab, ScopeServiceDesk, ScopeScheduler, ScopeJira, ScopeGlobal:
		return true
	}
	return false
}

// ParseScope reads a scope name exactly as Faraday writes it.
func ParseScope(text string) (Scope, error) {
	s := Scope(text)
	if !s.Valid() {
		return "", fmt.Errorf("%w %s (want gitlab, service_desk, scheduler, jira or global)", ErrInvalidScope, quoteValue(text))
	}
	return s, nil
}

// Token validation failures. ValidateToken returns an error wrapping exactly
// one of them; match with errors.Is. The messages never contain the token.
var (
	// ErrTokenUnknown: no token with that value (or the value cannot be a
	// token).
	ErrTokenUnknown = errors.New("faraday: unknown token")
	// ErrTokenRevoked: the token was revoked.
	ErrTokenRevoked = errors.New("faraday: token revoked")
	// ErrTokenExpired: the token's expiry is before the instant checked.
	ErrTokenExpired = errors.New("faraday: token expired")
	// ErrTokenScope: the token's scope is not one the caller accepts.
	ErrTokenScope = errors.New("faraday: token scope not accepted")
)

// ErrTokenNotFound is returned by TokenStore.Revoke for an id no token has.
var ErrTokenNotFound = errors.New("faraday: no token with that id")

// UserToken describes a Faraday user token: who owns it, what it may be
// used for and until when. It holds neither the token nor its hash, so
// printing or marshalling it never shows a secret.
type UserToken struct {
	ID     int64  `json:"id"`
	UserID int64  `json:"user_id"`
	Alias  string `json:"alias"`
	// ExpiresAt is when the token stops working; the zero time means never.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	Scope     Scope     `json:"scope"`
	Revoked   bool      `json:"revoked"`
	Hide      bool      `json:"hide"`
	CreatedAt time.Time `json:"created_at,omitzero"`
}

// Expired reports whether the token has an expiry and it is before now. At
// the exact instant of expiry the token still works, as in Faraday (expired
// iff expires_at < now).
func (t UserToken) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && t.ExpiresAt.Before(now)
}

// Check says whether the token may be used at now for one of scopes, and if
// not, which rule failed: the error wraps ErrTokenRevoked, ErrTokenExpired or
// ErrTokenScope, checked in that order. Scopes are compared exactly; global
// is not a wildcard unless the caller lists it.
func (t UserToken) Check(now time.Time, scopes ...Scope) error {
	if t.Revoked {
		return fmt.Errorf("%w: token %d (%s)", ErrTokenRevoked, t.ID, quoteValue(t.Alias))
	}
	if t.Expired(now) {
		return fmt.Errorf("%w: token %d (%s) expired at %s", ErrTokenExpired, t.ID, quoteValue(t.Alias), t.ExpiresAt.UTC().Format(time.RFC3339Nano))
	}
	for _, s := range scopes {
		if t.Scope == s {
			return nil
		}
	}
	return fmt.Errorf("%w: token %d has scope %s, want one of %v", ErrTokenScope, t.ID, t.Scope, scopes)
}

// String describes the token without any secret.
func (t UserToken) String() string {
	s := "UserToken{id=" + strconv.FormatInt(t.ID, 10) + " user=" + strconv.FormatInt(t.UserID, 10) +
		" alias=" + strconv.Quote(t.Alias) + " scope=" + string(t.Scope)
	if !t.ExpiresAt.IsZero() {
		s += " expires=" + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if t.Revoked {
		s += " revoked"
	}
	if t.Hide {
		s += " hidden"
	}
	return s + "}"
}

// GoString is String, so %#v shows no more than %v.
func (t UserToken) GoString() string { return "faraday." + t.String() }

// tokenBytes is the number of random bytes in a token (256 bits).
const tokenBytes = 32

// maxTokenLen bounds what is hashed at all; longer input cannot be a token.
const maxTokenLen = 512

// TokenHash is the SHA-256 of a token's text: what a TokenStore keeps
// instead of the token. It prints as "TokenHash(redacted)" with every verb
// and has no JSON form, so it does not leak into logs.
type TokenHash [sha256.Size]byte

// HashToken returns the SHA-256 of a presented token.
func HashToken(plaintext string) TokenHash { return sha256.Sum256([]byte(plaintext)) }

// Format prints the hash redacted with every verb.
func (TokenHash) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("TokenHash(redacted)")) }

// MarshalJSON refuses, so a hash cannot reach JSON by accident.
func (TokenHash) MarshalJSON() ([]byte, error) {
	return nil, errors.New("faraday: a token hash is not marshalled")
}

// NewTokenSecret returns a new token: 256 bits from crypto/rand as
// unpadded base64url text (43 characters), and its hash. Show the text to
// the user once and keep only the hash.
func NewTokenSecret() (plaintext string, hash TokenHash, err error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", TokenHash{}, fmt.Errorf("faraday: reading random bytes for a token: %w", err)
	}
	plaintext = base64.RawURLEncoding.EncodeToString(b[:])
	return plaintext, HashToken(plaintext), nil
}

// IssueToken makes a new token for spec (its ID, Revoked and CreatedAt are
// set by the store) and stores its hash. It returns the stored token and the
// plaintext, which is not kept anywhere.
func IssueToken(ctx context.Context, store TokenStore, spec UserToken) (UserToken, string, error) {
	if !spec.Scope.Valid() {
		return UserToken{}, "", fmt.Errorf("%w %s", ErrInvalidScope, quoteValue(string(spec.Scope)))
	}
	plain, hash, err := NewTokenSecret()
	if err != nil {
		return UserToken{}, "", err
	}
	tok, err := store.Create(ctx, spec, hash)
	if err != nil {
		return UserToken{}, "", err
	}
	return tok, plain, nil
}

// ValidateToken says whether presented is a stored token valid at now for
// one of scopes. On success it returns the token's description; otherwise
// the error wraps ErrTokenUnknown, ErrTokenRevoked, ErrTokenExpired or
// ErrTokenScope (which rule failed), or is the store's own error. The token
// is hashed once and looked up by its hash: no loop over tokens, no slow
// key derivation.
func ValidateToken(ctx context.Context, store TokenStore, presented string, now time.Time, scopes ...Scope) (UserToken, error) {
	if presented == "" || len(presented) > maxTokenLen {
		return UserToken{}, fmt.Errorf("%w: empty or over %d bytes", ErrTokenUnknown, maxTokenLen)
	}
	tok, err := store.Lookup(ctx, HashToken(presented))
	if err != nil {
		return UserToken{}, err
	}
	if err := tok.Check(now, scopes...); err != nil {
		return tok, err
	}
	return tok, nil
}

// tokenRecord is a stored token: its description and its hash.
type tokenRecord struct {
	UserToken
	hash TokenHash
}

// tokenRecordJSON is the file form of a token record.
type tokenRecordJSON struct {
	UserToken
	Hash string `json:"sha256"`
}

var _ json.Marshaler = TokenHash{}
