package servicedesk_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/vulndesk/mesd/servicedesk"
)

func TestPingTellsProblemsApart(t *testing.T) {
	t.Parallel()
	html := func(status int, body string) httpmock.Responder {
		return func(*http.Request) (*http.Response, error) {
			r := httpmock.NewStringResponse(status, body)
			r.Header.Set("Content-Type", "text/html;charset=UTF-8")
			return r, nil
		}
	}
	cases := []struct {
		name    string
		resp    httpmock.Responder
		problem error // nil: Ping succeeds
		also    []error
		hint    string
	}{
		{"ok", sdpJSON(200, `{"response_status":[{"status_code":2000,"status":"success"}],"list_info":{"row_count":0},"requests":[]}`), nil, nil, ""},
		{"wrong path 4007", sdpJSON(404, failed(4007, "Invalid URL")), servicedesk.ErrWrongURL, []error{servicedesk.ErrNotFound}, "protocol and domain only"},
		{"404 page", html(404, "<html>Not Found</html>"), servicedesk.ErrWrongURL, nil, "protocol and domain only"},
		{"400 without SDP body", html(400, "<html>Bad</html>"), servicedesk.ErrWrongURL, nil, "not SDP's JSON"},
		{"other JSON API", sdpJSON(200, `{"data":[]}`), servicedesk.ErrWrongURL, nil, "response_status"},
		{"plain text 200", func(*http.Request) (*http.Response, error) {
			return httpmock.NewStringResponse(200, "hello"), nil
		}, servicedesk.ErrWrongURL, []error{servicedesk.ErrUnexpectedContent}, "not SDP's JSON"},
		{"redirect", func(*http.Request) (*http.Response, error) {
			r := httpmock.NewStringResponse(301, "")
			r.Header.Set("Location", "https://sdp.test/")
			return r, nil
		}, servicedesk.ErrWrongURL, nil, "redirects"},
		{"login page", html(200, "<!DOCTYPE html><html><title>ManageEngine ServiceDesk Plus</title>"), servicedesk.ErrLoginPage, []error{servicedesk.ErrUnexpectedContent}, "login page"},
		{"wrong token 401", sdpJSON(401, failed(4022, "Invalid API key")), servicedesk.ErrUnauthorized, nil, "authtoken"},
		{"wrong token 4022 in 200", sdpJSON(200, failed(4022, "Invalid API key")), servicedesk.ErrUnauthorized, nil, "authtoken"},
		{"no permission", sdpJSON(403, failed(4002, "User does not have this permission")), servicedesk.ErrForbidden, nil, "administrator"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mock := newMockClient(t)
			mock.RegisterResponder("GET", apiURL+"requests", tc.resp)
			err := c.Ping(context.Background())
			if n := calls(mock, "GET", "requests"); n != 1 {
				t.Errorf("calls = %d, want exactly 1 (no retries)", n)
			}
			if tc.problem == nil {
				if err != nil {
					t.Fatalf("Ping: %v", err)
				}
				return
			}
			var ce *servicedesk.CheckError
			if !errors.As(err, &ce) || !errors.Is(ce.Problem, tc.problem) || !errors.Is(err, tc.problem) {
				t.Fatalf("Ping error %v (%T), want a *CheckError for %v", err, err, tc.problem)
			}
			for _, p := range []error{servicedesk.ErrWrongURL, servicedesk.ErrLoginPage, servicedesk.ErrUnreachable, servicedesk.ErrUnauthorized, servicedesk.ErrForbidden} {
				if !errors.Is(p, tc.problem) && errors.Is(ce, p) && !slicesContains(tc.also, p) {
					t.Errorf("error also matches %v", p)
				}
			}
			for _, a := range tc.also {
				if !errors.Is(err, a) {
					t.Errorf("error does not match %v", a)
				}
			}
			if !strings.Contains(ce.Hint, tc.hint) || !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("hint %q, want it to mention %q", ce.Hint, tc.hint)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func slicesContains(errs []error, e error) bool {
	for _, x := range errs {
		if errors.Is(x, e) {
			return true
		}
	}
	return false
}

func TestPingUnreachableHost(t *testing.T) {
	t.Parallel()
	// A port nothing listens on: take one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c, err := servicedesk.NewClient("http://"+addr, servicedesk.WithAuthToken(testToken),
		servicedesk.WithRetry(3, time.Millisecond, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(context.Background())
	if !errors.Is(err, servicedesk.ErrUnreachable) {
		t.Fatalf("Ping error %v, want ErrUnreachable", err)
	}
	if errors.Is(err, servicedesk.ErrWrongURL) || errors.Is(err, servicedesk.ErrUnauthorized) {
		t.Fatalf("unreachable also matches another problem: %v", err)
	}
	if !strings.Contains(err.Error(), "can reach SDP") || strings.Contains(err.Error(), "input_data") {
		t.Fatalf("error %q: want the reachability hint and no query", err)
	}
}

func TestPingUntrustedCertificate(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	// The default transport does not trust the test server's certificate.
	c, err := servicedesk.NewClient(srv.URL, servicedesk.WithAuthToken(testToken))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Ping(context.Background())
	var ce *servicedesk.CheckError
	if !errors.As(err, &ce) || !errors.Is(ce.Problem, servicedesk.ErrUnreachable) || !strings.Contains(ce.Hint, "certificate") {
		t.Fatalf("Ping error %v, want ErrUnreachable with a certificate hint", err)
	}
}

func TestPingCanceledContextIsNotClassified(t *testing.T) {
	t.Parallel()
	c, mock := newMockClient(t)
	mock.RegisterResponder("GET", apiURL+"requests", sdpJSON(200, `{}`))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := c.Ping(ctx)
	var ce *servicedesk.CheckError
	if !errors.Is(err, context.Canceled) || errors.As(err, &ce) {
		t.Fatalf("Ping error %v, want context.Canceled and no CheckError", err)
	}
}
