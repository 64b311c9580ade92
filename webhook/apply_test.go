package webhook

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
)

// push records on the link that status was pushed to the ticket at at, as
// the outgoing engine does.
func push(t *testing.T, links faraday.LinkStore, key faraday.VulnKey, status string, at time.Time) {
	t.Helper()
	_, err := faraday.UpdateLink(context.Background(), links, key, 0, func(l *faraday.Link) error {
		l.LastPushedStatus, l.LastPushedAt, l.EchoConsumed = status, faraday.NewTime(at), false
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLoopGuardAsymmetricMap: Faraday re-opens a vuln, the engine pushes
// re-opened → "Open"; SDP's trigger echoes "Open", which maps back to open.
// The echo changes nothing and is consumed once, so a technician setting
// "Open" afterwards is applied.
func TestLoopGuardAsymmetricMap(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.EchoWindow = time.Minute })
	out, err := f.mapper.Outgoing(faraday.StatusReopened)
	if err != nil || out != "Open" {
		t.Fatalf("outgoing re-opened = %q, %v; the test needs the asymmetric map", out, err)
	}
	if in := f.mapper.Incoming(out); in.Action != mapping.Apply || in.Status != faraday.StatusOpen {
		t.Fatalf("incoming %q = %+v", out, in)
	}
	f.vulns.Put(vulnA, faraday.StatusReopened)
	push(t, f.links, vulnA, out, f.clock.Now())
	f.clock.Advance(3 * time.Second)

	body := idBody("Open", f.footer(vulnA), ticketA, f.valid)
	code, _, ans := f.do(t, http.MethodPost, hdr(), body)
	if code != 200 || ans != `{"result":"unchanged","reason":"echo","vuln":"acme/1"}` {
		t.Fatalf("echo: %d %s", code, ans)
	}
	if got := f.status(t, vulnA); got != faraday.StatusReopened {
		t.Fatalf("echo changed the vuln to %v", got)
	}
	link, err := f.links.Get(context.Background(), vulnA)
	if err != nil || !link.EchoConsumed {
		t.Fatalf("echo not consumed: %+v %v", link, err)
	}
	// A copy of the echo delivery is a duplicate, not a change.
	if _, _, ans := f.do(t, http.MethodPost, hdr(), body); ans != `{"result":"unchanged","reason":"duplicate","vuln":"acme/1"}` {
		t.Fatalf("copy of the echo: %s", ans)
	}
	// A technician moves the ticket on (to a status the map ignores) and
	// back to "Open" seconds later: not an echo any more.
	f.clock.Advance(2 * time.Second)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), idBody("Cancelled", f.footer(vulnA), ticketA, f.valid)); ans != `{"result":"ignored","reason":"ignore","vuln":"acme/1"}` {
		t.Fatalf("intermediate status: %s", ans)
	}
	f.clock.Advance(2 * time.Second)
	code, _, ans = f.do(t, http.MethodPost, hdr(), body)
	if code != 200 || ans != `{"result":"updated","vuln":"acme/1","status":"open"}` {
		t.Fatalf("technician: %d %s", code, ans)
	}
	if got := f.status(t, vulnA); got != faraday.StatusOpen {
		t.Fatalf("vuln is %v", got)
	}
}

// TestLoopGuardWindow: outside the window an equal status is a real change.
func TestLoopGuardWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, func(c *Config) { c.EchoWindow = time.Minute })
	f.vulns.Put(vulnA, faraday.StatusReopened)
	push(t, f.links, vulnA, "Open", f.clock.Now())
	f.clock.Advance(61 * time.Second)
	code, _, ans := f.do(t, http.MethodPost, hdr(), idBody("Open", f.footer(vulnA), ticketA, f.valid))
	if code != 200 || ans != `{"result":"updated","vuln":"acme/1","status":"open"}` {
		t.Fatalf("%d %s", code, ans)
	}
	// Disabled guard: an immediate echo is applied.
	g := newFixture(t, func(c *Config) { c.EchoWindow = -1 })
	g.vulns.Put(vulnA, faraday.StatusReopened)
	push(t, g.links, vulnA, "Open", g.clock.Now())
	if code, _, ans := g.do(t, http.MethodPost, hdr(), idBody("Open", g.footer(vulnA), ticketA, g.valid)); code != 200 || ans != `{"result":"updated","vuln":"acme/1","status":"open"}` {
		t.Fatalf("guard disabled: %d %s", code, ans)
	}
}

// TestConcurrentDeliveries: 100 deliveries of one change at once apply it
// once: one "updated", the others "unchanged", one SetStatus.
func TestConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	body := idBody("Closed", f.footer(vulnA), ticketA, f.valid)
	const n = 100
	var wg sync.WaitGroup
	codes := make([]int, n)
	answers := make([]string, n)
	for i := range n {
		wg.Go(func() { codes[i], _, answers[i] = f.do(t, http.MethodPost, hdr(), body) })
	}
	wg.Wait()
	updated := 0
	for i := range n {
		switch {
		case codes[i] != 200:
			t.Errorf("delivery %d: %d %s", i, codes[i], answers[i])
		case answers[i] == ansUpdatedClosed:
			updated++
		case answers[i] == `{"result":"unchanged","reason":"already_set","vuln":"acme/1","status":"closed"}`,
			answers[i] == `{"result":"unchanged","reason":"duplicate","vuln":"acme/1"}`:
		default:
			t.Errorf("delivery %d: %s", i, answers[i])
		}
	}
	if updated != 1 || f.vulns.Sets() != 1 {
		t.Fatalf("%d updated answers, %d sets; want 1 and 1", updated, f.vulns.Sets())
	}
	link, err := f.links.Get(context.Background(), vulnA)
	if err != nil {
		t.Fatal(err)
	}
	if li := link.LastIncoming; li == nil || li.Status != "Closed" || li.ChangeID == "" || li.ChangeID[:len(claimPrefix)] == claimPrefix {
		t.Fatalf("LastIncoming = %+v; want the committed change", li)
	}
}

// flakyVulns fails the first n calls of SetStatus (and Status when
// statusToo), then passes them to the wrapped store.
type flakyVulns struct {
	VulnStore
	fails     atomic.Int32
	calls     atomic.Int32
	statusToo bool
}

var errDown = errors.New("faraday is down")

func (v *flakyVulns) Status(ctx context.Context, k faraday.VulnKey) (faraday.Status, error) {
	if v.statusToo && v.fails.Add(-1) >= 0 {
		return 0, errDown
	}
	return v.VulnStore.Status(ctx, k)
}

func (v *flakyVulns) SetStatus(ctx context.Context, k faraday.VulnKey, s faraday.Status) error {
	v.calls.Add(1)
	if v.fails.Add(-1) >= 0 {
		return errDown
	}
	return v.VulnStore.SetStatus(ctx, k, s)
}

// TestStoreFailures: a store that fails fewer times than the retry bound
// is retried; one that keeps failing gets a 503, a dead letter, the claim
// rolled back, and Replay applies the change once the store is back.
func TestStoreFailures(t *testing.T) {
	t.Parallel()
	mem := NewMemoryVulnStore()
	flaky := &flakyVulns{VulnStore: mem}
	f := newFixture(t, func(c *Config) { c.Vulns = flaky; c.Retry = Retry{Attempts: 3, Wait: time.Millisecond} })
	mem.Put(vulnA, faraday.StatusOpen)

	flaky.fails.Store(2)
	body := idBody("Closed", f.footer(vulnA), ticketA, f.valid)
	if code, _, ans := f.do(t, http.MethodPost, hdr(), body); code != 200 || ans != ansUpdatedClosed {
		t.Fatalf("transient failure: %d %s", code, ans)
	}
	if c := flaky.calls.Load(); c != 3 {
		t.Fatalf("%d SetStatus calls, want 3", c)
	}

	mem.Put(vulnA, faraday.StatusOpen)
	flaky.calls.Store(0)
	flaky.fails.Store(100)
	code, _, ans := f.do(t, http.MethodPost, hdr(), body)
	if code != 503 || ans != `{"error":"unavailable"}` {
		t.Fatalf("lasting failure: %d %s", code, ans)
	}
	if c := flaky.calls.Load(); c != 3 {
		t.Fatalf("%d SetStatus calls, want 3 (bounded)", c)
	}
	f.mu.Lock()
	dead := append([]DeadLetter(nil), f.dead...)
	f.mu.Unlock()
	if len(dead) != 1 || dead[0].TicketID != ticketA || dead[0].Vuln != vulnA || dead[0].SDPStatus != "Closed" || !errors.Is(dead[0].Err, errDown) {
		t.Fatalf("dead letters: %+v", dead)
	}
	link, _ := f.links.Get(context.Background(), vulnA)
	if li := link.LastIncoming; li == nil || li.Status != "Closed" || li.ChangeID == claimPrefix+dead[0].DeliveryID {
		// The first delivery's committed change stays; the failed claim is gone.
		t.Fatalf("claim not rolled back: %+v", li)
	}
	flaky.fails.Store(0)
	o := f.h.Replay(context.Background(), dead[0])
	if o.Code != 200 || o.Result != ResultUpdated || o.Status != faraday.StatusClosed {
		t.Fatalf("replay: %+v", o)
	}
	if got, _ := mem.Status(context.Background(), vulnA); got != faraday.StatusClosed {
		t.Fatalf("after replay the vuln is %v", got)
	}
}

// TestTwoHandlersOneFile: two handlers, each with its own FileLinkStore on
// one file (as two processes would have), get the same change at once:
// it is applied once.
func TestTwoHandlersOneFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "links.json")
	open := func() *faraday.FileLinkStore {
		s, err := faraday.OpenFileLinkStore(path)
		if errors.Is(err, faraday.ErrFileStoreUnsupported) {
			t.Skip(err)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	s1, s2 := open(), open()
	link := faraday.Link{Key: vulnA, ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: ticketA}}
	if _, err := s1.CompareAndSet(context.Background(), link, 0); err != nil {
		t.Fatal(err)
	}
	shared := NewMemoryVulnStore() // Faraday itself
	shared.Put(vulnA, faraday.StatusOpen)
	a := newFixture(t, func(c *Config) { c.Links = s1; c.Vulns = shared })
	b := newFixture(t, func(c *Config) { c.Links = s2; c.Vulns = shared; c.Tokens = a.tokens })
	body := idBody("Resolved", a.footer(vulnA), ticketA, a.valid)
	const n = 20
	var wg sync.WaitGroup
	var updated atomic.Int32
	for i := range n {
		fx := a
		if i%2 == 1 {
			fx = b
		}
		wg.Go(func() {
			code, _, ans := fx.do(t, http.MethodPost, hdr(), body)
			if code != 200 {
				t.Errorf("%d %s", code, ans)
			}
			if ans == ansUpdatedClosed {
				updated.Add(1)
			}
		})
	}
	wg.Wait()
	if updated.Load() != 1 || shared.Sets() != 1 {
		t.Fatalf("%d updated, %d sets; want 1 and 1", updated.Load(), shared.Sets())
	}
	got, err := s2.Get(context.Background(), vulnA)
	if err != nil || got.LastIncoming == nil || got.LastIncoming.Status != "Resolved" {
		t.Fatalf("link seen by the other store: %+v %v", got, err)
	}
}

// TestConcurrentEchoes: copies of one echo delivery arriving together are
// one echo and duplicates; none applies the echoed status.
func TestConcurrentEchoes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	f.vulns.Put(vulnA, faraday.StatusReopened)
	push(t, f.links, vulnA, "Open", f.clock.Now())
	body := idBody("Open", f.footer(vulnA), ticketA, f.valid)
	const n = 20
	var wg sync.WaitGroup
	answers := make([]string, n)
	for i := range n {
		wg.Go(func() { _, _, answers[i] = f.do(t, http.MethodPost, hdr(), body) })
	}
	wg.Wait()
	count := map[string]int{}
	for _, a := range answers {
		count[a]++
	}
	if count[`{"result":"unchanged","reason":"echo","vuln":"acme/1"}`] != 1 ||
		count[`{"result":"unchanged","reason":"duplicate","vuln":"acme/1"}`] != n-1 {
		t.Fatalf("answers %v", count)
	}
	if got := f.status(t, vulnA); got != faraday.StatusReopened || f.vulns.Sets() != 0 {
		t.Fatalf("vuln %v after %d sets", got, f.vulns.Sets())
	}
	// A copy after the claim timeout is still a copy of the echo: no
	// other status came in between.
	f.clock.Advance(DefaultClaimTimeout)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), body); ans != `{"result":"unchanged","reason":"duplicate","vuln":"acme/1"}` {
		t.Fatalf("copy after the claim timeout: %s", ans)
	}
	// After the echo window, "Open" is a technician's change and applies.
	f.clock.Advance(DefaultEchoWindow)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), body); ans != `{"result":"updated","vuln":"acme/1","status":"open"}` {
		t.Fatalf("later: %s", ans)
	}
}
