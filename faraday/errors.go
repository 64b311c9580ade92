package faraday

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Sentinel errors of the REST client, matched with errors.Is. An *Error
// from a response matches the sentinel of its status code.
var (
	// ErrInvalidOption reports a bad argument or option, found before any I/O.
	ErrInvalidOption = errors.New("faraday: invalid option")
	// ErrBadRequest matches 400 answers.
	ErrBadRequest = errors.New("faraday: bad request")
	// ErrUnauthorized matches 401 answers: missing, wrong or expired credentials.
	ErrUnauthorized = errors.New("faraday: unauthorized")
	// ErrForbidden matches 403 answers, including ErrReadOnlyWorkspace ones.
	ErrForbidden = errors.New("faraday: forbidden")
	// ErrReadOnlyWorkspace matches the 403 Faraday answers to a change in a
	// workspace marked read-only ("Altering a readonly workspace is not
	// allowed"). It also matches ErrForbidden.
	ErrReadOnlyWorkspace = errors.New("faraday: workspace is read-only")
	// ErrNotFound matches 404 answers (unknown workspace or vuln).
	ErrNotFound = errors.New("faraday: not found")
	// ErrHTTPConflict matches 409 answers (ErrConflict is the link store's
	// compare-and-set failure).
	ErrHTTPConflict = errors.New("faraday: HTTP 409 conflict")
	// ErrRateLimited matches 429 answers left after the retries.
	ErrRateLimited = errors.New("faraday: rate limited")
	// ErrServer matches 5xx answers left after the retries.
	ErrServer = errors.New("faraday: server error")
	// ErrUnexpectedResponse reports a 2xx answer that is not the JSON the
	// call expects (an HTML login page, a proxy's error page, a wrong shape).
	ErrUnexpectedResponse = errors.New("faraday: unexpected response")
	// ErrBodyTooLarge reports a response body beyond the client's cap.
	ErrBodyTooLarge = errors.New("faraday: response body too large")
)

// Error is a failed API call: an HTTP error status, a transport failure or
// an unusable 2xx answer. It never holds credentials: the URL is printed
// without user info and query values, and no request header is kept.
type Error struct {
	Method     string
	URL        string // redacted
	StatusCode int    // 0 for transport failures
	// Message is Faraday's message ("message" or "messages" of the JSON
	// body), or the start of a non-JSON body.
	Message string
	// Body is the start of the response body (at most 64 KiB).
	Body []byte
	// Err is the cause: a transport error, a context error or one of the
	// sentinels above for answers that could not be used.
	Err error
}

// Error prints method, redacted URL, status and message.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("faraday: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the status code (and ErrReadOnlyWorkspace for
// Faraday's read-only answer).
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrReadOnlyWorkspace:
		return e.StatusCode == http.StatusForbidden && isReadOnlyMessage(e.Message)
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrHTTPConflict:
		return e.StatusCode == http.StatusConflict
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
}

// isReadOnlyMessage recognises Faraday's "Altering a readonly workspace is
// not allowed" (case and spelling of "read-only" tolerated).
func isReadOnlyMessage(m string) bool {
	m = strings.ToLower(m)
	return strings.Contains(m, "readonly workspace") || strings.Contains(m, "read-only workspace") || strings.Contains(m, "read only workspace")
}

func newResponseError(method string, u *url.URL, resp *http.Response) *Error {
	body, err := readCapped(resp.Body, maxErrorBody)
	if errors.Is(err, ErrBodyTooLarge) {
		err = nil // keep what was read; the status is the error
	}
	e := &Error{Method: method, URL: redactURL(u), StatusCode: resp.StatusCode, Body: body, Err: err}
	e.Message = errorMessage(body)
	return e
}

// errorMessage takes Faraday's message out of an error body: {"message":
// "..."} (abort), {"messages": {...}} (validation) or plain text.
func errorMessage(body []byte) string {
	var m struct {
		Message  json.RawMessage `json:"message"`
		Messages json.RawMessage `json:"messages"`
		Error    json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &m) == nil {
		for _, raw := range []json.RawMessage{m.Message, m.Messages, m.Error} {
			if len(raw) == 0 || string(raw) == "null" {
				continue
			}
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return shorten(s)
			}
			return shorten(string(raw))
		}
		return ""
	}
	return shorten(strings.TrimSpace(string(body)))
}

// shorten keeps messages to one readable line of at most 300 bytes.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= 300 {
		return s
	}
	cut := 300
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
