package soak

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/webhook"
)

// The kinds of delivery the load test sends.
type deliveryKind int8

const (
	good       deliveryKind = iota // valid token, readable status
	badToken                       // a token the store does not know
	noStatus                       // invalid JSON with the valid token but no readable status
	truncated                      // invalid JSON cut before the token
	kindsCount = iota
)

func (k deliveryKind) String() string {
	return [...]string{"good", "bad-token", "no-status", "truncated"}[k]
}

type delivery struct {
	kind   deliveryKind
	vuln   faraday.VulnKey
	ticket string
	body   string
	token  string // the unknown token of a badToken delivery
}

type answer struct {
	code    int
	result  string
	latency time.Duration
}

const (
	workspace = "acme"
	senders   = 50
)

func ticketOf(i int) string { return strconv.Itoa(100000 + i) }

// goodBody is the recommended payload (id after desc) as SDP fills it in:
// the description pasted raw, so one in three bodies is invalid JSON
// (quotes, a backslash and a line break), which the handler must recover.
func goodBody(m *mapping.Mapper, i int, status, token string) string {
	return "{\n\"status\": \"" + status + "\",\n\"desc\": \"" + soakDesc(m, i) + "\",\n\"id\": \"" + ticketOf(i) + "\",\n\"Authorization\": \"" + token + "\"\n}"
}

// seedBody is the seed's payload (no id): the description's footer
// reference names the vuln.
func seedBody(m *mapping.Mapper, i int, status, token string) string {
	return "{\n\"status\": \"" + status + "\",\n\"desc\": \"" + soakDesc(m, i) + "\",\n\"Authorization\": \"" + token + "\"\n}"
}

func soakDesc(m *mapping.Mapper, i int) string {
	desc := "<div>Fixed in build " + strconv.Itoa(i) + "</div>"
	if i%3 == 0 {
		desc = "<div>Patched \"login\" form\nC:\\app\\web.config</div>"
	}
	return desc + "<p>" + m.Reference(workspace, int64(i+1)).String() + "</p>"
}

// fakeToken looks like a token (same length and alphabet) but is unknown.
func fakeToken(r *rand.Rand, like string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, len(like))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// loadPlan builds n deliveries: 10% with bad tokens, 5% invalid JSON that
// cannot be read (half without a status, half cut before the token), the
// rest good changes (Resolved → closed), one in ten of them delivered
// twice. It returns the deliveries in a seeded random order and the number
// of distinct good changes (each on its own vuln 1..changes).
func loadPlan(m *mapping.Mapper, n int, token string, seed uint64, body func(*mapping.Mapper, int, string, string) string) ([]delivery, int) {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	bad, invalid := n/10, n/20
	goods := n - bad - invalid
	changes := goods - goods/11 // goods = changes + changes/10 (rounded)
	ds := make([]delivery, 0, n)
	for i := range changes {
		d := delivery{kind: good, vuln: faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}, ticket: ticketOf(i), body: body(m, i, "Resolved", token)}
		ds = append(ds, d)
	}
	for i := 0; len(ds) < goods; i += 10 {
		ds = append(ds, ds[i%changes]) // a duplicate delivery of a change
	}
	for range bad {
		i := r.IntN(changes)
		// A status that would change the vuln if it were accepted.
		fake := fakeToken(r, token)
		ds = append(ds, delivery{kind: badToken, vuln: faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}, ticket: ticketOf(i), body: body(m, i, "On Hold", fake), token: fake})
	}
	for j := range invalid {
		i := r.IntN(changes)
		d := delivery{vuln: faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}, ticket: ticketOf(i)}
		if j%2 == 0 {
			d.kind = noStatus
			// The status placeholder left unquoted: invalid JSON, no
			// readable status, the valid token in its place.
			d.body = "{\n\"status\": Resolved,\n\"desc\": \"<div>unquoted status</div><p>" + m.Reference(workspace, int64(i+1)).String() + "</p>\",\n\"Authorization\": \"" + token + "\"\n}"
		} else {
			d.kind = truncated
			d.body = "{\n\"status\": \"On Hold\",\n\"desc\": \"<div>cut sho"
		}
		ds = append(ds, d)
	}
	r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	return ds, changes
}

// send posts every delivery to its URL from senders goroutines and returns
// the answers in delivery order and the wall time taken.
func send(t *testing.T, urls func(i int) string, ds []delivery) ([]answer, time.Duration) {
	t.Helper()
	tr := &http.Transport{MaxIdleConns: 2 * senders, MaxIdleConnsPerHost: senders}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	answers := make([]answer, len(ds))
	next := make(chan int)
	var wg sync.WaitGroup
	start := time.Now()
	for range senders {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, urls(i)+webhook.Path, strings.NewReader(ds[i].body))
				if err != nil {
					t.Error(err)
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(webhook.HeaderToken, "1")
				res, err := client.Do(req)
				if err != nil {
					t.Errorf("delivery %d (%v): %v", i, ds[i].kind, err)
					continue
				}
				body, err := io.ReadAll(res.Body)
				_ = res.Body.Close()
				if err != nil {
					t.Errorf("delivery %d: reading the answer: %v", i, err)
				}
				var a struct {
					Result string `json:"result"`
				}
				_ = json.Unmarshal(body, &a)
				answers[i] = answer{code: res.StatusCode, result: a.Result, latency: time.Since(t0)}
			}
		})
	}
	for i := range ds {
		next <- i
	}
	close(next)
	wg.Wait()
	return answers, time.Since(start)
}

// TestWebhookLoad sends, with the recommended payload (the request id
// decides) and with the seed's (the footer reference decides), 1,000
// deliveries (10,000 with MESD_SOAK=full) from
// 50 concurrent senders to one handler behind a loopback listener: 10% with
// unknown tokens, 5% unreadable, the rest good changes, some of them
// delivered twice and a third of them invalid JSON that the handler must
// recover. Every good change is applied exactly once, every bad delivery is
// refused, no good delivery is refused, and no token reaches a log line.
// It prints p50, p99 and requests per second.
func TestWebhookLoad(t *testing.T) {
	t.Run("recommended payload", func(t *testing.T) { webhookLoad(t, goodBody, webhook.IDRequired) })
	t.Run("seed payload", func(t *testing.T) { webhookLoad(t, seedBody, webhook.IDIgnored) })
}

func webhookLoad(t *testing.T, body func(*mapping.Mapper, int, string, string) string, policy webhook.IDPolicy) {
	n := soakSize(1000, 10000)
	ctx := context.Background()
	m := loadMapper(t)
	tokens := faraday.NewMemoryTokenStore()
	_, token, err := faraday.IssueToken(ctx, tokens, faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		t.Fatal(err)
	}
	ds, changes := loadPlan(m, n, token, 10, body)
	links := faraday.NewMemoryLinkStore()
	vulns := webhook.NewMemoryVulnStore()
	for i := range changes {
		key := faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}
		l := faraday.Link{Key: key, ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: ticketOf(i)}}
		if _, err := links.CompareAndSet(ctx, l, 0); err != nil {
			t.Fatal(err)
		}
		vulns.Put(key, faraday.StatusOpen)
	}
	logs := newSecretWatch()
	logs.watch(token)
	for _, d := range ds {
		logs.watch(d.token)
	}
	var mu sync.Mutex
	updated := map[faraday.VulnKey]int{}
	h, err := webhook.NewHandler(webhook.Config{
		Tokens: tokens, Links: links, Statuses: m, Vulns: vulns,
		IDPolicy: policy,
		Logger:   slog.New(logs),
		// The per-token bound on valid deliveries is the host's to set; the
		// default (100/s) would throttle this test by design. The limit on
		// failed authentications keeps its default.
		Limits: webhook.Limits{Deliveries: rate.Limit(1e6), DeliveryBurst: n},
		OnOutcome: func(o webhook.Outcome) {
			if o.Err != nil {
				logs.text("outcome error", o.Err.Error())
			}
			if o.Result == webhook.ResultUpdated {
				mu.Lock()
				updated[o.Vuln]++
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	answers, elapsed := send(t, func(int) string { return srv.URL }, ds)
	// The handler logs a line after writing its answer: Close waits for
	// the handlers to return, so every line is in before it is counted.
	srv.Close()

	var perKind [kindsCount]map[int]int
	var sent [kindsCount]int
	for k := range perKind {
		perKind[k] = map[int]int{}
	}
	lat := make([]time.Duration, 0, len(ds))
	for i, a := range answers {
		d := ds[i]
		perKind[d.kind][a.code]++
		sent[d.kind]++
		lat = append(lat, a.latency)
		switch d.kind {
		case good:
			if a.code != http.StatusOK || (a.result != "updated" && a.result != "unchanged") {
				t.Errorf("good delivery for %v answered %d %q", d.vuln, a.code, a.result)
			}
		case badToken, truncated:
			if a.code != http.StatusUnauthorized && a.code != http.StatusTooManyRequests {
				t.Errorf("%v delivery for %v answered %d, want 401 or 429", d.kind, d.vuln, a.code)
			}
		case noStatus:
			if a.code != http.StatusBadRequest {
				t.Errorf("%v delivery for %v answered %d, want 400", d.kind, d.vuln, a.code)
			}
		}
	}
	// Every change applied once, nothing else applied.
	if got := vulns.Sets(); got != changes {
		t.Errorf("the vuln store was changed %d times; want %d (one per change)", got, changes)
	}
	for i := range changes {
		key := faraday.VulnKey{Workspace: workspace, VulnID: int64(i + 1)}
		if st, _ := vulns.Status(ctx, key); st != faraday.StatusClosed {
			t.Errorf("vuln %v is %v; want closed", key, st)
		}
		if updated[key] != 1 {
			t.Errorf("vuln %v updated %d times; want 1", key, updated[key])
		}
	}
	// The failed-authentication limit (burst 10, then 1/s per address):
	// all senders share 127.0.0.1, so beyond the burst the failures are 429.
	failures401 := perKind[badToken][401] + perKind[truncated][401]
	allowed := webhook.DefaultAuthFailureBurst + int(math.Ceil(elapsed.Seconds()*float64(webhook.DefaultAuthFailures))) + 1
	if failures401 > allowed {
		t.Errorf("%d failed authentications answered 401 in %v; the limit allows %d", failures401, elapsed, allowed)
	}
	lines := logs.check(t)
	if lines < len(ds) {
		t.Errorf("%d log lines for %d deliveries; want one per delivery", lines, len(ds))
	}
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	t.Logf("webhook load: %d deliveries (%d changes, %d duplicates, %d bad tokens, %d unreadable) from %d senders in %v",
		len(ds), changes, sent[good]-changes, sent[badToken], sent[noStatus]+sent[truncated], senders, elapsed.Round(time.Millisecond))
	t.Logf("webhook load: answers by kind: good %v, bad-token %v, no-status %v, truncated %v", perKind[good], perKind[badToken], perKind[noStatus], perKind[truncated])
	t.Logf("webhook load: p50 %v, p99 %v, %.0f requests/s (GOMAXPROCS=%d)", p50.Round(time.Microsecond), p99.Round(time.Microsecond), float64(len(ds))/elapsed.Seconds(), runtime.GOMAXPROCS(0))
}
