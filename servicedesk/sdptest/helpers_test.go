package sdptest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// newServer starts a server closed at the end of the test.
func newServer(t testing.TB, opts ...sdptest.Option) *sdptest.Server {
	t.Helper()
	s := sdptest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// transport returns a transport whose idle connections are closed at the
// end of the test (goleak).
func transport(t testing.TB) *http.Transport {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// newClient returns a servicedesk client of s with millisecond retries:
// an authtoken on-premises, an OAuth source backed by the fake accounts
// endpoint on cloud.
func newClient(t testing.TB, s *sdptest.Server, opts ...servicedesk.Option) *servicedesk.Client {
	t.Helper()
	tr := transport(t)
	base := []servicedesk.Option{
		servicedesk.WithHTTPClient(&http.Client{Transport: tr}),
		servicedesk.WithRetry(3, time.Millisecond, 2*time.Millisecond),
		servicedesk.WithMaxRetryAfter(20 * time.Millisecond),
	}
	if s.Cloud() {
		base = append(base, servicedesk.WithCloudPortal(s.Portal()),
			servicedesk.WithAuthenticator(&zohoSource{accounts: s.AccountsURL(), hc: &http.Client{Transport: tr},
				clientID: sdptest.DefaultClientID, secret: sdptest.DefaultClientSecret, refresh: sdptest.DefaultRefreshToken}))
	} else {
		base = append(base, servicedesk.WithAuthToken(sdptest.DefaultAuthToken))
	}
	c, err := servicedesk.NewClient(s.URL(), append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

// zohoSource is a minimal OAuth refresh-token source for the tests (the
// servicedesk package's own source lives on another branch): it takes an
// access token from the accounts endpoint and renews it once on a 401.
type zohoSource struct {
	accounts, clientID, secret, refresh string
	hc                                  *http.Client
	mu                                  sync.Mutex
	token                               string
}

func (z *zohoSource) fetch(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"refresh_token"}, "client_id": {z.clientID}, "client_secret": {z.secret}, "refresh_token": {z.refresh}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, z.accounts+"/oauth/v2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := z.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if out.Error != "" || out.AccessToken == "" {
		return "", fmt.Errorf("token endpoint: %q", out.Error)
	}
	return out.AccessToken, nil
}

func (z *zohoSource) Authenticate(req *http.Request) error {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.token == "" {
		tok, err := z.fetch(req.Context())
		if err != nil {
			return err
		}
		z.token = tok
	}
	req.Header.Set("Authorization", "Zoho-oauthtoken "+z.token)
	return nil
}

func (z *zohoSource) Reauthenticate(ctx context.Context, rejected *http.Request) (bool, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if rejected.Header.Get("Authorization") != "Zoho-oauthtoken "+z.token {
		return true, nil
	}
	tok, err := z.fetch(ctx)
	if err != nil {
		return false, err
	}
	z.token = tok
	return true, nil
}

// answer is a raw HTTP answer.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer (HTTP %d) is not a JSON object: %v: %.300s", a.status, err, a.body)
	}
	return m
}

// rawCall sends one call with input_data (in the query for GET, as a form
// body otherwise) and the server's credentials, over real HTTP.
func rawCall(t testing.TB, s *sdptest.Server, hc *http.Client, method, path, input string, hdr ...string) answer {
	t.Helper()
	u := s.APIURL() + path
	var body io.Reader
	if input != "" {
		v := url.Values{"input_data": {input}}.Encode()
		if method == http.MethodGet {
			u += "?" + v
		} else {
			body = strings.NewReader(v)
		}
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", servicedesk.MediaType)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if s.Cloud() {
		req.Header.Set("Authorization", "Zoho-oauthtoken "+cloudToken)
	} else {
		req.Header.Set("authtoken", sdptest.DefaultAuthToken)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

// cloudToken is a fixed access token cloud servers of the tests accept.
const cloudToken = "1000.fixed-test-access-token"

func cloudServer(t testing.TB, opts ...sdptest.Option) *sdptest.Server {
	return newServer(t, append([]sdptest.Option{sdptest.WithCloud(""), sdptest.WithAccessTokens(cloudToken)}, opts...)...)
}

// sdpError asserts err is a *servicedesk.Error and returns it.
func sdpError(t testing.TB, err error) *servicedesk.Error {
	t.Helper()
	var e *servicedesk.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *servicedesk.Error", err, err)
	}
	return e
}

// stepClock is a clock that advances by step at each reading.
type stepClock struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}
