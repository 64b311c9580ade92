package servicedesk_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/jarcoal/httpmock"
	"github.com/vulndesk/mesd/servicedesk"
)

const inputMarker = "INPUT-MARKER-7c1d"

// forbidden are strings that must never appear in an error or a log line.
var forbidden = []string{testToken, inputMarker, "input_data", "authtoken:", "authtoken="}

func assertClean(t *testing.T, where, s string) {
	t.Helper()
	for _, f := range forbidden {
		if strings.Contains(s, f) {
			t.Errorf("%s reveals %q:\n%s", where, f, s)
		}
	}
}

func TestNoSecretInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	logger, logs := newTestLogger()
	c, mock := newMockClient(t, servicedesk.WithLogger(logger), servicedesk.WithRetry(2, 0, 0))
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	mock.RegisterResponder("GET", apiURL+"requests", httpmock.NewErrorResponder(timeoutError{}))
	mock.RegisterResponder("POST", apiURL+"requests", httpmock.NewErrorResponder(refused))
	mock.RegisterResponder("PUT", apiURL+"requests/71", sdpJSON(503, ""))
	mock.RegisterResponder("GET", apiURL+"requests/71", sdpJSON(401, failed(4022, "Invalid API key")))
	mock.RegisterResponder("POST", apiURL+"requests/71/notes", func(*http.Request) (*http.Response, error) {
		r := httpmock.NewStringResponse(200, "<html>login</html>")
		r.Header.Set("Content-Type", "text/html")
		return r, nil
	})
	ctx := context.Background()
	search := &servicedesk.ListOptions{SearchCriteria: []servicedesk.Criterion{{Field: "subject", Condition: servicedesk.Contains, Value: inputMarker}}}
	in := &servicedesk.RequestInput{Subject: inputMarker, Description: inputMarker}

	var errs []error
	_, err := c.Requests.List(ctx, search)
	errs = append(errs, err)
	var ue *url.Error
	if !errors.As(err, &ue) || strings.Contains(ue.URL, "?") {
		t.Errorf("transport error %v: want a *url.Error whose URL has no query", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("transport error %v: the cause is lost", err)
	}
	_, err = c.Requests.Create(ctx, in)
	errs = append(errs, err)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error %v: want ECONNREFUSED kept", err)
	}
	_, err = c.Requests.Update(ctx, "71", in)
	errs = append(errs, err)
	_, err = c.Requests.Get(ctx, "71")
	errs = append(errs, err)
	_, err = c.Requests.AddNote(ctx, "71", &servicedesk.NoteInput{Description: inputMarker})
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d succeeded", i)
		}
		assertClean(t, fmt.Sprintf("error %d", i), err.Error())
		assertClean(t, fmt.Sprintf("error %d (%%+v)", i), fmt.Sprintf("%+v", err))
	}
	out := logs.String()
	if !strings.Contains(out, "retrying") || !strings.Contains(out, "attempt failed") {
		t.Errorf("log lacks the retry lines:\n%s", out)
	}
	assertClean(t, "log", out)
	assertClean(t, "formatted client", fmt.Sprintf("%v %+v %#v", c, c, c))
}

func TestBadTokenIsNotQuoted(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"secret with space", "secret\r\nX-Evil: 1", "tab\tsecret"} {
		_, err := servicedesk.NewClient(testBase, servicedesk.WithAuthToken(tok))
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("WithAuthToken(%q): error %v, want one that does not quote the token", tok, err)
		}
	}
}
