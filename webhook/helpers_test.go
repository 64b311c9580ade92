package webhook

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/testutil"
	"github.com/vulndesk/mesd/mapping"
)

// t0 is the tests' clock start.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	vulnA = faraday.VulnKey{Workspace: "acme", VulnID: 1}
	vulnB = faraday.VulnKey{Workspace: "acme", VulnID: 2}
)

const (
	ticketA = "1001"
	ticketB = "1002"
)

// fixture is a handler over in-memory stores: vuln acme/1 (open) linked to
// ticket 1001, vuln acme/2 (open) linked to ticket 1002, and tokens of
// every kind.
type fixture struct {
	h      *Handler
	cfg    Config
	tokens *faraday.MemoryTokenStore
	links  *faraday.MemoryLinkStore
	vulns  *MemoryVulnStore
	mapper *mapping.Mapper
	clock  *testutil.Clock
	logs   *testutil.SyncBuffer

	valid, revoked, expired, jira, admin string

	mu       sync.Mutex
	outcomes []Outcome
	dead     []DeadLetter
}

func loadMapper(t testing.TB) *mapping.Mapper {
	t.Helper()
	m, err := readMapper()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// readMapper compiles testdata/mapping.json with the reference key of
// testdata/reference.key (a test key, as mapping.EncodeReferenceKey writes
// it).
func readMapper() (*mapping.Mapper, error) {
	cfg, err := readMappingConfig()
	if err != nil {
		return nil, err
	}
	keyText, err := os.ReadFile(filepath.Join("testdata", "reference.key"))
	if err != nil {
		return nil, err
	}
	key, err := mapping.ParseReferenceKey(string(keyText))
	if err != nil {
		return nil, err
	}
	return mapping.New(cfg, mapping.WithReferenceKey(key))
}

// readMappingConfig reads testdata/mapping.json.
func readMappingConfig() (*mapping.Config, error) {
	data, err := os.ReadFile(filepath.Join("testdata", "mapping.json"))
	if err != nil {
		return nil, err
	}
	return mapping.LoadConfig(data)
}

// newFixture builds the fixture; edit adjusts the Config before the
// handler is built.
func newFixture(t testing.TB, edit func(*Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	clock := testutil.NewClock(t0)
	f := &fixture{
		tokens: faraday.NewMemoryTokenStore(faraday.WithClock(clock.Now)),
		links:  faraday.NewMemoryLinkStore(),
		vulns:  NewMemoryVulnStore(),
		mapper: loadMapper(t),
		clock:  clock,
		logs:   &testutil.SyncBuffer{},
	}
	issue := func(spec faraday.UserToken) (faraday.UserToken, string) {
		tok, plain, err := faraday.IssueToken(ctx, f.tokens, spec)
		if err != nil {
			t.Fatal(err)
		}
		return tok, plain
	}
	_, f.valid = issue(faraday.UserToken{UserID: 10, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	rev, plain := issue(faraday.UserToken{UserID: 10, Alias: "old", Scope: faraday.ScopeServiceDesk})
	f.revoked = plain
	if err := f.tokens.Revoke(ctx, rev.ID); err != nil {
		t.Fatal(err)
	}
	_, f.expired = issue(faraday.UserToken{UserID: 10, Alias: "exp", Scope: faraday.ScopeServiceDesk, ExpiresAt: t0.Add(-time.Minute)})
	_, f.jira = issue(faraday.UserToken{UserID: 10, Alias: "jira", Scope: faraday.ScopeJira})
	_, f.admin = issue(faraday.UserToken{UserID: 1, Alias: "admin-sdp", Scope: faraday.ScopeServiceDesk})

	for _, l := range []struct {
		key    faraday.VulnKey
		ticket string
	}{{vulnA, ticketA}, {vulnB, ticketB}} {
		link := faraday.Link{Key: l.key, ServiceDeskEntry: faraday.ServiceDeskEntry{
			State: faraday.LinkLinked, RequestID: l.ticket, Tag: "[FRD " + l.key.String() + "]",
		}}
		if _, err := f.links.CompareAndSet(ctx, link, 0); err != nil {
			t.Fatal(err)
		}
		f.vulns.Put(l.key, faraday.StatusOpen)
	}
	f.cfg = Config{
		Tokens:   f.tokens,
		Links:    f.links,
		Statuses: f.mapper,
		Vulns:    f.vulns,
		Logger:   slog.New(slog.NewJSONHandler(f.logs, nil)),
		Now:      clock.Now,
		Retry:    Retry{Attempts: 3, Wait: time.Millisecond},
		DeadLetter: func(d DeadLetter) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.dead = append(f.dead, d)
		},
		OnOutcome: func(o Outcome) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.outcomes = append(f.outcomes, o)
		},
	}
	if edit != nil {
		edit(&f.cfg)
	}
	h, err := NewHandler(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// footer returns the description footer of a vuln as the mapper writes it.
func (f *fixture) footer(k faraday.VulnKey) string {
	return "<p>Faraday reference: " + f.mapper.Reference(k.Workspace, k.VulnID).String() + "</p>"
}

// do sends a raw request to the handler and returns the answer.
func (f *fixture) do(t testing.TB, method string, hdr http.Header, body string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(method, Path, strings.NewReader(body))
	req.RemoteAddr = "192.0.2.10:40000"
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	res := rec.Result()
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	return res.StatusCode, res.Header, string(b)
}

func (f *fixture) status(t testing.TB, k faraday.VulnKey) faraday.Status {
	t.Helper()
	s, err := f.vulns.Status(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seedBody is the seed's payload with raw substitution: the values are
// pasted between the quotes as they are.
func seedBody(status, desc, token string) string {
	return "{\n\"status\": \"" + status + "\",\n\"desc\": \"" + desc + "\",\n\"Authorization\": \"" + token + "\"\n}"
}

// idBody is the recommended payload: the seed's with "id" after "desc".
func idBody(status, desc, id, token string) string {
	return "{\n\"status\": \"" + status + "\",\n\"desc\": \"" + desc + "\",\n\"id\": \"" + id + "\",\n\"Authorization\": \"" + token + "\"\n}"
}

func hdr(kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// crcHex is the reference check: the CRC-32 (IEEE) of s in hex.
func crcHex(s string) string {
	return fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(s)))
}

// otherToken returns a token of the same shape as tok that is not tok.
func otherToken(tok string) string {
	if tok[0] == 'A' {
		return "B" + tok[1:]
	}
	return "A" + tok[1:]
}

// httptestServer serves h on loopback for the test and returns its URL.
func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}
