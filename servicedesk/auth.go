package servicedesk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// Authenticator adds credentials to each outgoing request. The client calls
// Authenticate once per attempt, retries included, on a copy of the request
// that it owns, so an implementation may set headers freely. It must be
// safe for concurrent use and must never put a credential in an error.
type Authenticator interface {
	Authenticate(req *http.Request) error
}

// Reauthenticator is an Authenticator that can renew its credentials when
// SDP rejects them, as an OAuth access-token source does.
//
// When a call is answered HTTP 401 (or SDP code 4022), the client calls
// Reauthenticate once with the request as it was sent, credentials
// included, so that an implementation can tell whether the rejected
// credentials are still its current ones (another call may have renewed
// them already) and renew at most once. When it returns true the client
// sends the call once more, through the same retry policy; when it returns
// false, or the second answer is again 401, the client returns the 401 as
// an *Error matching ErrUnauthorized. It never loops.
type Reauthenticator interface {
	Authenticator
	Reauthenticate(ctx context.Context, rejected *http.Request) (retry bool, err error)
}

// headerAuthTokenName is the header of on-premises API keys.
const headerAuthTokenName = "authtoken"

// authToken is the on-premises API key authenticator. The key is held by a
// closure, which fmt prints as an address whatever the verb and depth, and
// Format hides it under every verb when the authenticator itself is
// printed.
type authToken struct{ token func() string }

func (a *authToken) Authenticate(req *http.Request) error {
	req.Header.Set(headerAuthTokenName, a.token())
	return nil
}

func (a *authToken) String() string   { return "authtoken(redacted)" }
func (a *authToken) GoString() string { return "servicedesk.authToken{redacted}" }

// Format prints "authtoken(redacted)" for every verb (GoString for %#v).
func (a *authToken) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, a.GoString())
		return
	}
	_, _ = io.WriteString(f, a.String())
}

// AuthToken returns the Authenticator of an on-premises technician API key,
// sent in the authtoken header. WithAuthToken is the usual way to use it.
func AuthToken(token string) (Authenticator, error) {
	if err := checkToken(token); err != nil {
		return nil, fmt.Errorf("servicedesk: %w", err)
	}
	return &authToken{token: func() string { return token }}, nil
}

// checkToken rejects an empty key or one that cannot be a header value. The
// error never quotes the key.
func checkToken(token string) error {
	if token == "" {
		return errors.New("empty authtoken")
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c == 0x7f {
			return errors.New("authtoken contains a space or control character (not shown)")
		}
	}
	return nil
}
