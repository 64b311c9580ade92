package servicedesk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// timeoutTransport bounds each attempt (WithTimeout). It sits under the
// limiter, so that the time an attempt waits for the limiter is bounded by
// the caller's context only and never eats the attempt's own time. The
// bound covers the answer's body too: it ends when the body is closed.
type timeoutTransport struct {
	timeout time.Duration // 0: no bound beyond the caller's context
	next    http.RoundTripper
}

// attemptTimeoutError reports an attempt that ran out of its own time
// while the caller's context was still live. It is a net.Error whose
// Timeout is true, like http.Client's own timeout error.
type attemptTimeoutError struct{ d time.Duration }

func (e *attemptTimeoutError) Error() string {
	return "attempt timed out after " + e.d.String()
}
func (e *attemptTimeoutError) Timeout() bool   { return true }
func (e *attemptTimeoutError) Temporary() bool { return true }

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.timeout <= 0 {
		return t.next.RoundTrip(req)
	}
	parent := req.Context()
	ctx, cancel := context.WithTimeout(parent, t.timeout)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		expired := ctx.Err() != nil && parent.Err() == nil
		cancel()
		if expired {
			return nil, &attemptTimeoutError{d: t.timeout}
		}
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel, ctx: ctx, parent: parent, d: t.timeout}
	return resp, nil
}

// cancelBody ends an attempt's timeout when its body is closed, and
// reports a read cut by that timeout as an attemptTimeoutError.
type cancelBody struct {
	io.ReadCloser
	cancel      context.CancelFunc
	ctx, parent context.Context
	d           time.Duration
}

func (b *cancelBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && b.ctx.Err() != nil && b.parent.Err() == nil {
		return n, &attemptTimeoutError{d: b.d}
	}
	return n, err
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// describeDecodeError says why an answer did not decode without quoting
// the answer: JSON syntax errors give their offset, type errors the field
// and the types; other errors (which may quote a value) only their kind.
func describeDecodeError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		kind, _, _ := strings.Cut(typ.Value, " ") // "number 5": keep "number"
		return fmt.Sprintf("field %q: JSON %s where %s was expected", typ.Field, kind, typ.Type)
	}
	return "a value is not in a form SDP sends"
}
