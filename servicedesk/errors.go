package servicedesk

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinels matched by errors.Is against an *Error. Each names an SDP
// status code and the HTTP status that SDP pairs with it; either one
// matches.
var (
	// ErrNotFound: SDP code 4007 ("Invalid URL", also unknown ids) or HTTP 404.
	ErrNotFound = errors.New("servicedesk: not found")
	// ErrUnauthorized: SDP code 4022 (invalid API key) or HTTP 401.
	ErrUnauthorized = errors.New("servicedesk: unauthorized")
	// ErrForbidden: SDP code 4002 or HTTP 403.
	ErrForbidden = errors.New("servicedesk: forbidden")
	// ErrRateLimited: SDP code 4015 or HTTP 429.
	ErrRateLimited = errors.New("servicedesk: rate limited")
	// ErrMandatoryField: SDP code 4012, a mandatory field was not given;
	// Error.Fields lists the fields SDP named.
	ErrMandatoryField = errors.New("servicedesk: mandatory field missing")
	// ErrClosureRule: SDP code 4003, a closure rule was violated.
	ErrClosureRule = errors.New("servicedesk: closure rule violated")
	// ErrInvalidInput: SDP code 4001, an input value does not exist, is not
	// in use or may not be set by this user.
	ErrInvalidInput = errors.New("servicedesk: invalid input")
	// ErrAlreadyClosed: a close answered 4001 "Request is already closed".
	// It also matches ErrInvalidInput.
	ErrAlreadyClosed = errors.New("servicedesk: request already closed")
	// ErrUnexpectedContent: a 2xx answer that is not an SDP JSON body, such
	// as the HTML login page SDP Cloud serves for a wrong Accept header or a
	// proxy's page.
	ErrUnexpectedContent = errors.New("servicedesk: unexpected content")
)

// Error is a failure reported by SDP, or an answer that is not one SDP
// gives on success. It never holds a credential, a header value or the
// input_data sent.
type Error struct {
	Method     string        // HTTP method of the call
	Path       string        // URL path of the call, without the query
	HTTPStatus int           // HTTP status of the last answer
	StatusCode int           // top-level response_status code (usually 4000)
	Messages   []Message     // SDP's messages, with their specific codes and fields
	Attempts   int           // attempts made, retries included
	RetryAfter time.Duration // the last answer's Retry-After, if any
	// ContentType is the Content-Type of an unexpected (non-JSON) answer.
	ContentType string

	unexpected bool   // the body was not an SDP JSON answer
	detail     string // what was wrong with the answer, never its text
}

// maxPrintedMessages caps the messages Error prints; Messages keeps all.
const maxPrintedMessages = 5

// Error describes the failure: method, path, HTTP status and SDP's
// messages with their codes and fields (the first five, then a count).
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("servicedesk: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Path)
	b.WriteString(": HTTP ")
	b.WriteString(strconv.Itoa(e.HTTPStatus))
	if t := http.StatusText(e.HTTPStatus); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	switch {
	case e.unexpected && e.detail != "":
		b.WriteString(": unexpected content: ")
		b.WriteString(e.detail)
	case e.unexpected:
		fmt.Fprintf(&b, ": unexpected content (Content-Type %q), not an SDP JSON answer", e.ContentType)
	case e.detail != "":
		b.WriteString(": ")
		b.WriteString(e.detail)
	}
	for i, m := range e.Messages {
		if i == maxPrintedMessages {
			fmt.Fprintf(&b, "; and %d more", len(e.Messages)-i)
			break
		}
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d", m.StatusCode)
		if m.Message != "" {
			fmt.Fprintf(&b, " %q", truncate(m.Message, 200))
		}
		if m.Field != "" {
			fmt.Fprintf(&b, " field %q", m.Field)
		}
		if len(m.Fields) > 0 {
			fmt.Fprintf(&b, " fields %q", m.Fields)
		}
	}
	if len(e.Messages) == 0 && e.StatusCode != 0 {
		fmt.Fprintf(&b, ": status %d", e.StatusCode)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// Codes returns the specific SDP status codes of the messages, or the
// top-level code when there are no messages.
func (e *Error) Codes() []int {
	var cs []int
	for _, m := range e.Messages {
		cs = append(cs, m.StatusCode)
	}
	if len(cs) == 0 && e.StatusCode != 0 {
		cs = append(cs, e.StatusCode)
	}
	return cs
}

// Fields returns every field SDP blamed, from field and fields, in order
// and without repeats.
func (e *Error) Fields() []string {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, m := range e.Messages {
		add(m.Field)
		for _, f := range m.Fields {
			add(f)
		}
	}
	return out
}

func (e *Error) hasCode(code int) bool {
	for _, c := range e.Codes() {
		if c == code {
			return true
		}
	}
	return false
}

// Is matches the package's sentinels; see each sentinel for what it means.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.HTTPStatus == http.StatusNotFound || e.hasCode(4007)
	case ErrUnauthorized:
		return e.HTTPStatus == http.StatusUnauthorized || e.hasCode(4022)
	case ErrForbidden:
		return e.HTTPStatus == http.StatusForbidden || e.hasCode(4002)
	case ErrRateLimited:
		return e.HTTPStatus == http.StatusTooManyRequests || e.hasCode(4015)
	case ErrMandatoryField:
		return e.hasCode(4012)
	case ErrClosureRule:
		return e.hasCode(4003)
	case ErrInvalidInput:
		return e.hasCode(4001)
	case ErrAlreadyClosed:
		for _, m := range e.Messages {
			if m.StatusCode == 4001 && strings.Contains(strings.ToLower(m.Message), "already closed") {
				return true
			}
		}
		return false
	case ErrUnexpectedContent:
		return e.unexpected
	}
	return false
}

// decodeError builds the *Error of a failed answer from its body, which
// may or may not be an SDP envelope. It never fails: a body that cannot be
// read as SDP JSON leaves only the HTTP status.
func decodeError(status int, body []byte) *Error {
	e := &Error{HTTPStatus: status}
	if env, err := decodeEnvelope(body); err == nil {
		for _, s := range env.ResponseStatus {
			if e.StatusCode == 0 || s.StatusCode >= 4000 {
				e.StatusCode = s.StatusCode
			}
			e.Messages = append(e.Messages, s.Messages...)
		}
	}
	return e
}
