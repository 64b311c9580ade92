package webhook

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/vulndesk/mesd/faraday"
)

func TestScan(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name                     string
		body                     string
		status, statusErr        string
		desc                     string
		id, token                string
		hasDesc, hasID, hasToken bool
	}{
		{name: "seed", body: seedBody("Closed", "<p>x</p>", "tok"), status: "Closed", desc: "<p>x</p>", hasDesc: true, token: "tok", hasToken: true},
		{name: "with id", body: idBody("Resolved", "d", "42", "Token tok"), status: "Resolved", desc: "d", hasDesc: true, id: "42", hasID: true, token: "Token tok", hasToken: true},
		{name: "id after Authorization", body: `{"status":"A","desc":"d","Authorization":"t","id":"7"}`, status: "A", desc: "d", hasDesc: true, id: "7", hasID: true, token: "t", hasToken: true},
		{name: "raw quotes", body: seedBody("Closed", `a "b" c`, "tok"), status: "Closed", desc: `a "b" c`, hasDesc: true, token: "tok", hasToken: true},
		{name: "escaped JSON desc is unescaped", body: seedBody("Closed", `a \"b\"\n`, "tok"), status: "Closed", desc: "a \"b\"\n", hasDesc: true, token: "tok", hasToken: true},
		{name: "raw backslash kept", body: seedBody("Closed", `C:\dir\x`, "tok"), status: "Closed", desc: `C:\dir\x`, hasDesc: true, token: "tok", hasToken: true},
		{name: "injected fields in desc", body: idBody("Open", `x", "status": "Closed", "id": "9", "Authorization": "evil`, "42", "tok"),
			status: "Open", desc: `x", "status": "Closed", "id": "9", "Authorization": "evil`, hasDesc: true, id: "42", hasID: true, token: "tok", hasToken: true},
		{name: "escaped status", body: `{"status": "On \"Hold\"", "desc": "d"}`, status: `On "Hold"`, desc: "d", hasDesc: true},
		{name: "raw quote in status", body: `{"status": "On "Hold"", "desc": "d"}`, status: `On "Hold"`, desc: "d", hasDesc: true},
		{name: "white space everywhere", body: " {\r\n\t\"status\" :\t\"Closed\" ,\n \"desc\" : \"d\" ,\n \"Authorization\" : \"t\" \n} \n", status: "Closed", desc: "d", hasDesc: true, token: "t", hasToken: true},
		{name: "no status", body: `{"desc": "d"}`, statusErr: `no "status" field`, desc: "d", hasDesc: true},
		{name: "status after desc", body: `{"desc": "x", "status": "Closed"}`, statusErr: `the "status" field must come before "desc"`},
		{name: "status unterminated", body: `{"status": "Closed`, statusErr: `"status" is not a terminated string`},
		{name: "status blank", body: `{"status": "  "}`, statusErr: `"status" is empty`},
		{name: "status too long", body: `{"status": "` + strings.Repeat("s", maxStatusLen+1) + `"}`, statusErr: `"status" is longer than 256 bytes`},
		{name: "status invalid UTF-8", body: "{\"status\": \"\xff\"}", statusErr: `"status" is not valid UTF-8`},
		{name: "key without colon is not a key", body: `{"note": "status", "status": "Open"}`, status: "Open"},
		{name: "empty", body: "", statusErr: `no "status" field`},
		{name: "bare id", body: `{"status":"A","id": 12 ,"Authorization":"t"}`, status: "A", id: "12", hasID: true, token: "t", hasToken: true},
		{name: "non-string token is not a token", body: `{"status":"A","Authorization": 12}`, status: "A"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := scan([]byte(c.body))
			if f.status != c.status || f.statusErr != c.statusErr {
				t.Errorf("status %q (%q), want %q (%q)", f.status, f.statusErr, c.status, c.statusErr)
			}
			if f.hasDesc != c.hasDesc || f.description() != c.desc {
				t.Errorf("desc %v %q, want %v %q", f.hasDesc, f.description(), c.hasDesc, c.desc)
			}
			if f.hasID != c.hasID || f.id != c.id {
				t.Errorf("id %v %q, want %v %q", f.hasID, f.id, c.hasID, c.id)
			}
			if f.hasToken != c.hasToken || f.token != c.token {
				t.Errorf("token %v %q, want %v %q", f.hasToken, f.token, c.hasToken, c.token)
			}
		})
	}
}

// FuzzScanSeedTemplate: whatever the description, the recommended
// template's status, id and token come from their positions.
func FuzzScanSeedTemplate(f *testing.F) {
	for _, d := range []string{"", `"`, `\`, `\"`, "\n", `x", "status": "Closed`, `", "id": "9`,
		`", "Authorization": "evil`, `"}`, `{"status": "Closed"}`, "<a href=\"x\">y</a>", "🚀", `\u0022`} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, desc string) {
		for _, body := range []string{
			idBody("In Progress", desc, "31337", "Token abc"),
			`{"status":"In Progress","desc":"` + desc + `","Authorization":"Token abc","id":31337}`,
		} {
			got := scan([]byte(body))
			if got.status != "In Progress" || got.statusErr != "" {
				t.Fatalf("status %q (%s) from %q", got.status, got.statusErr, body)
			}
			if !got.hasID || got.id != "31337" {
				t.Fatalf("id %q from %q", got.id, body)
			}
			if !got.hasToken || got.token != "Token abc" {
				t.Fatalf("token %q from %q", got.token, body)
			}
		}
		// The seed's template: status from its position, never an id
		// unless the description ends like one; no panic.
		got := scan([]byte(seedBody("Resolved", desc, "abc")))
		if got.status != "Resolved" || got.token != "abc" {
			t.Fatalf("seed: status %q token %q", got.status, got.token)
		}
	})
}

// FuzzHandler: any body, any header: no panic, and never "updated"
// without the valid token.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(seedBody("Closed", "x", "t")), "1")
	f.Add([]byte(`{"status": "Closed", "id": "1001"}`), "guess")
	f.Add([]byte("\x00{\"status\""), "")
	fx := newFixture(f, nil)
	f.Fuzz(func(t *testing.T, body []byte, header string) {
		if strings.Contains(string(body), fx.valid) || strings.Contains(header, fx.valid) {
			return
		}
		req := httptest.NewRequest(http.MethodPost, "/any/path", strings.NewReader(string(body)))
		req.Header.Set(HeaderToken, header)
		rec := httptest.NewRecorder()
		fx.h.ServeHTTP(rec, req)
		if rec.Code != 401 && rec.Code != 429 {
			t.Fatalf("%d %s without a valid token", rec.Code, rec.Body.String())
		}
	})
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		remote, xff string
		trusted     []netip.Prefix
		want        string
	}{
		{"192.0.2.1:5000", "203.0.113.9", nil, "192.0.2.1"},
		{"192.0.2.1:5000", "203.0.113.9", trusted, "192.0.2.1"},
		{"10.1.1.1:5000", "203.0.113.9", trusted, "203.0.113.9"},
		{"10.1.1.1:5000", "198.51.100.7, 203.0.113.9, 10.2.2.2", trusted, "203.0.113.9"},
		{"10.1.1.1:5000", "", trusted, "10.1.1.1"},
		{"10.1.1.1:5000", "junk, 10.3.3.3", trusted, "10.3.3.3"},
		{"[2001:db8::1]:443", "", nil, "2001:db8::1"},
	}
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = c.remote
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := clientAddr(r, c.trusted).String(); got != c.want {
			t.Errorf("%s %q: %s, want %s", c.remote, c.xff, got, c.want)
		}
	}
}

// TestForwardedFailures: behind a trusted proxy the failure limit is per
// forwarded address; an untrusted peer cannot pick its address.
func TestForwardedFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		c.Limits.AuthFailures, c.Limits.AuthFailureBurst = rate.Every(time.Minute), 2
	})
	send := func(xff string) int {
		h := hdr()
		h.Set("X-Forwarded-For", xff)
		code, rh, _ := f.do(t, http.MethodPost, h, seedBody("Closed", "x", "guess"))
		if code == 429 && rh.Get("Retry-After") != "60" {
			t.Errorf("Retry-After %q, want 60", rh.Get("Retry-After"))
		}
		return code
	}
	for i, want := range []int{401, 401, 429} {
		if got := send("198.51.100.1"); got != want {
			t.Fatalf("attempt %d from .1: %d, want %d", i, got, want)
		}
	}
	if got := send("198.51.100.2"); got != 401 {
		t.Fatalf("another client: %d", got)
	}
	f.clock.Advance(time.Minute)
	if got := send("198.51.100.1"); got != 401 {
		t.Fatalf("after a minute: %d", got)
	}
}

func TestLimiterSetForgets(t *testing.T) {
	t.Parallel()
	s := newLimiterSet[int](1, 1, 4)
	now := time.Unix(0, 0)
	for i := range 4 {
		s.allow(i, now)
	}
	now = now.Add(time.Second) // all refilled: idle
	if ok, _ := s.allow(99, now); !ok || len(s.m) != 1 {
		t.Fatalf("ok=%v, %d kept", ok, len(s.m))
	}
	for i := range 10 {
		s.allow(i, now) // all drained, none idle
	}
	if len(s.m) > 4 {
		t.Fatalf("%d keys kept, max 4", len(s.m))
	}
}

func TestNewHandlerValidates(t *testing.T) {
	t.Parallel()
	_, err := NewHandler(Config{
		Scopes:         []faraday.Scope{"root"},
		IDPolicy:       9,
		ClaimTimeout:   -1,
		TrustedProxies: []netip.Prefix{{}},
		Limits:         Limits{MaxBodyBytes: -1, AuthFailures: -1, DeliveryBurst: -2, MaxAddresses: -1},
		Retry:          Retry{Attempts: 11, Wait: -time.Second},
	})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		"Tokens is nil", "Links is nil", "Statuses is nil", "Vulns is nil", `Scopes[0] is "root"`,
		"IDPolicy is 9", "ClaimTimeout is -1ns", "TrustedProxies[0]", "Limits.MaxBodyBytes is -1",
		"Limits.AuthFailures is -1", "Limits.DeliveryBurst is -2", "Limits.MaxAddresses is -1",
		"Retry.Attempts is 11", "Retry.Wait is -1s",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	f := newFixture(t, nil)
	if f.h.cfg.Limits.MaxBodyBytes != 1<<20 || f.h.cfg.EchoWindow != DefaultEchoWindow || len(f.h.cfg.Scopes) != 1 {
		t.Fatalf("defaults not applied: %+v", f.h.cfg.Limits)
	}
}

// TestChunkedBodyOverLimit: a body without a length is cut at the limit.
func TestChunkedBodyOverLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.Limits.MaxBodyBytes = 1000 })
	body := seedBody("Closed", strings.Repeat("x", 1000), f.valid)
	req := httptest.NewRequest(http.MethodPost, Path, io.NopCloser(strings.NewReader(body)))
	req.ContentLength = -1
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != 413 || rec.Body.String() != `{"error":"body_too_large"}` {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	// Exactly at the limit is accepted.
	body = seedBody("Closed", f.footer(vulnA), f.valid)
	body += strings.Repeat(" ", 1000-len(body))
	req = httptest.NewRequest(http.MethodPost, Path, io.NopCloser(strings.NewReader(body)))
	req.ContentLength = -1
	rec = httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != ansUpdatedClosed {
		t.Fatalf("at the limit: %d %s", rec.Code, rec.Body.String())
	}
}

func TestAddrKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.7":             "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":  "2001:db8:1:2::/64",
		"::ffff:198.51.100.250": "198.51.100.250",
	} {
		if got := addrKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("addrKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestNilBody: a request without a body (as a caller building one by hand
// may pass) is a 401, not a panic.
func TestNilBody(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	req := httptest.NewRequest(http.MethodPost, Path, nil)
	req.Body = nil
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if rec.Code != 401 || rec.Body.String() != ans401 {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
}
