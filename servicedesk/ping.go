package servicedesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Problems Ping tells apart, matched with errors.Is against the error it
// returns. A wrong token matches ErrUnauthorized and a token without the
// needed permission ErrForbidden, as any call's *Error does.
var (
	// ErrWrongURL: the server answered, but not as the SDP API: 404 or SDP
	// code 4007 (no such API path, or a cloud portal name missing or
	// wrong), a redirect, or an answer that is not SDP's JSON.
	ErrWrongURL = errors.New("servicedesk: no SDP API at this URL")
	// ErrUnreachable: no answer at all: the name does not resolve, the
	// connection is refused or times out, or TLS fails.
	ErrUnreachable = errors.New("servicedesk: SDP unreachable")
	// ErrLoginPage: a 2xx answer carrying a web page, which is what SDP
	// (or a proxy in front of it) serves instead of the API when it does
	// not take the call as an API call.
	ErrLoginPage = errors.New("servicedesk: web page instead of an API answer")
)

// CheckError is what Ping returns when the check fails in a way it can
// name. Problem is one of ErrWrongURL, ErrUnreachable, ErrLoginPage,
// ErrUnauthorized or ErrForbidden; Hint says what to verify, after the
// troubleshooting table of the integration's documentation; Err is the
// underlying failure (an *Error or a sanitized transport error).
type CheckError struct {
	Problem error
	Hint    string
	Err     error
}

// Error states the problem, the hint and the cause.
func (e *CheckError) Error() string {
	return fmt.Sprintf("%v: %s (%v)", e.Problem, e.Hint, e.Err)
}

// Is matches Problem.
func (e *CheckError) Is(target error) bool { return target == e.Problem }

// Unwrap returns the underlying failure.
func (e *CheckError) Unwrap() error { return e.Err }

type pingAnswer struct {
	envelope
	Requests json.RawMessage `json:"requests"`
}

// Ping checks the base URL and the credentials with one list call of one
// request (GET /requests), made once, without retries. It returns nil when
// SDP accepted the credentials, a *CheckError naming the problem (see
// CheckError) when it can tell what is wrong, or another error (an *Error
// for an SDP failure such as a 500, or the context's error).
func (c *Client) Ping(ctx context.Context) error {
	q, err := listValues(&ListOptions{RowCount: 1})
	if err != nil {
		return err
	}
	var out pingAnswer
	_, err = c.do(ctx, call{method: http.MethodGet, path: "requests", query: q, noRetry: true}, &out)
	if err == nil {
		if len(out.ResponseStatus) == 0 {
			return &CheckError{Problem: ErrWrongURL, Hint: "the answer is JSON without SDP's response_status: verify the URL (protocol and domain only, and the cloud portal name)",
				Err: errors.New("answer without response_status")}
		}
		return nil
	}
	return classifyPing(ctx, err)
}

func classifyPing(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var se *Error
	if errors.As(err, &se) {
		switch {
		case se.Is(ErrUnexpectedContent) && strings.Contains(strings.ToLower(se.ContentType), "html"):
			return &CheckError{Problem: ErrLoginPage, Hint: "SDP served a web page (a login page or a proxy's page) instead of the API: verify the URL and, on SDP Cloud, the portal name and data centre", Err: err}
		case se.Is(ErrUnexpectedContent) && strings.Contains(se.Error(), "response_status"):
			return &CheckError{Problem: ErrWrongURL, Hint: "the answer is JSON without SDP's response_status: verify the URL (protocol and domain only, and the cloud portal name)", Err: err}
		case se.Is(ErrUnexpectedContent):
			return &CheckError{Problem: ErrWrongURL, Hint: "the answer is not SDP's JSON: verify the URL (protocol and domain only)", Err: err}
		case se.Is(ErrUnauthorized):
			return &CheckError{Problem: ErrUnauthorized, Hint: "SDP rejected the credentials: verify the authtoken (or, on SDP Cloud, the OAuth client, refresh token and scopes)", Err: err}
		case se.Is(ErrForbidden):
			return &CheckError{Problem: ErrForbidden, Hint: "the credentials are valid but lack permission: generate the authtoken from an administrator account", Err: err}
		case se.Is(ErrNotFound):
			return &CheckError{Problem: ErrWrongURL, Hint: "no SDP API at this path: verify the URL (protocol and domain only) and, on SDP Cloud, the portal name", Err: err}
		case se.HTTPStatus >= 300 && se.HTTPStatus < 400:
			return &CheckError{Problem: ErrWrongURL, Hint: "the server redirects: use the address it redirects to (for example https instead of http)", Err: err}
		case len(se.Messages) == 0 && se.StatusCode == 0 && se.HTTPStatus >= 400 && se.HTTPStatus < 500:
			return &CheckError{Problem: ErrWrongURL, Hint: "the server's error answer is not SDP's JSON: verify the URL (protocol and domain only)", Err: err}
		}
		return err
	}
	var ae *authError
	if errors.As(err, &ae) {
		// The credentials could not be made: the SDP server was not asked.
		var inner *url.Error
		switch {
		case errors.Is(ae.err, ErrUnauthorized):
			return &CheckError{Problem: ErrUnauthorized, Hint: "the token source's credentials were refused: verify the OAuth client id, secret and refresh token, and the data centre", Err: err}
		case errors.As(ae.err, &inner):
			return &CheckError{Problem: ErrUnreachable, Hint: "the token source's server did not answer: verify the data centre or accounts URL and that this host can reach it", Err: err}
		}
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		hint := "the server did not answer: verify that this host can reach SDP (name, port, firewall, proxy)"
		if isCertError(err) {
			hint = "the server's TLS certificate is not trusted: install its CA or configure the HTTP client for it"
		}
		return &CheckError{Problem: ErrUnreachable, Hint: hint, Err: err}
	}
	return err
}
