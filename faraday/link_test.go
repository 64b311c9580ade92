package faraday

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type linkStoreMaker struct {
	name string
	make func(t *testing.T) LinkStore
}

func linkStoreMakers() []linkStoreMaker {
	makers := []linkStoreMaker{
		{"memory", func(*testing.T) LinkStore { return NewMemoryLinkStore() }},
	}
	if !flockSupported {
		return makers
	}
	return append(makers, linkStoreMaker{"file", func(t *testing.T) LinkStore {
		s, err := OpenFileLinkStore(filepath.Join(t.TempDir(), "links.json"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}})
}

func pendingLink(ws string, id int64) Link {
	return Link{Key: VulnKey{ws, id}, ServiceDeskEntry: ServiceDeskEntry{State: LinkPending, Tag: "[FRD " + ws + "/" + strconv.FormatInt(id, 10) + "]"}}
}

func TestLinkStoreCompareAndSet(t *testing.T) {
	ctx := context.Background()
	for _, mk := range linkStoreMakers() {
		t.Run(mk.name, func(t *testing.T) {
			s := mk.make(t)
			key := VulnKey{"acme", 12}
			if _, err := s.Get(ctx, key); !errors.Is(err, ErrLinkNotFound) {
				t.Fatalf("Get on empty store = %v", err)
			}
			p, err := s.CompareAndSet(ctx, pendingLink("acme", 12), 0)
			if err != nil || p.Revision != 1 || p.State != LinkPending {
				t.Fatalf("create pending = %+v, %v", p, err)
			}
			if _, err := s.CompareAndSet(ctx, pendingLink("acme", 12), 0); !errors.Is(err, ErrConflict) {
				t.Errorf("second create = %v; want ErrConflict", err)
			}
			if _, err := s.GetByTicket(ctx, ""); !errors.Is(err, ErrLinkNotFound) {
				t.Errorf("pending link found by empty ticket id: %v", err)
			}
			linked := p
			linked.State = LinkLinked
			linked.RequestID = "100000000000123"
			linked.DisplayID = "123"
			linked.CreatedAt = NewTime(t0)
			l, err := s.CompareAndSet(ctx, linked, 1)
			if err != nil || l.Revision != 2 {
				t.Fatalf("link = %+v, %v", l, err)
			}
			if _, err := s.CompareAndSet(ctx, linked, 1); !errors.Is(err, ErrConflict) {
				t.Errorf("stale revision = %v; want ErrConflict", err)
			}
			got, err := s.GetByTicket(ctx, "100000000000123")
			if err != nil || got.Key != key || got.DisplayID != "123" || got.Revision != 2 || !got.CreatedAt.Equal(t0) {
				t.Errorf("GetByTicket = %+v, %v", got, err)
			}
			// Another vuln cannot take the same ticket.
			other := pendingLink("acme", 13)
			other.State, other.RequestID = LinkLinked, "100000000000123"
			if _, err := s.CompareAndSet(ctx, other, 0); !errors.Is(err, ErrTicketLinked) {
				t.Errorf("duplicate ticket = %v; want ErrTicketLinked", err)
			}
			// Moving to another ticket frees the old id.
			got.RequestID = "200"
			got.LastIncoming = &IncomingChange{Status: "Closed", ChangeID: "c1", At: NewTime(t0.Add(time.Minute))}
			moved, err := s.CompareAndSet(ctx, got, 2)
			if err != nil || moved.Revision != 3 {
				t.Fatalf("move = %v", err)
			}
			if _, err := s.GetByTicket(ctx, "100000000000123"); !errors.Is(err, ErrLinkNotFound) {
				t.Errorf("old ticket id still found: %v", err)
			}
			if g, err := s.GetByTicket(ctx, "200"); err != nil || g.LastIncoming == nil || g.LastIncoming.ChangeID != "c1" {
				t.Errorf("new ticket = %+v, %v", g, err)
			}
			// The caller's copy does not alias the stored one.
			moved.LastIncoming.Status = "changed"
			if g, _ := s.Get(ctx, key); g.LastIncoming.Status != "Closed" {
				t.Error("stored link changed through a returned value")
			}
			if err := s.Delete(ctx, key, 2); !errors.Is(err, ErrConflict) {
				t.Errorf("delete with a stale revision = %v", err)
			}
			if err := s.Delete(ctx, key, 3); err != nil {
				t.Errorf("delete = %v", err)
			}
			if err := s.Delete(ctx, key, 3); !errors.Is(err, ErrLinkNotFound) {
				t.Errorf("second delete = %v", err)
			}
			if _, err := s.GetByTicket(ctx, "200"); !errors.Is(err, ErrLinkNotFound) {
				t.Errorf("deleted link found by ticket: %v", err)
			}
		})
	}
}

func TestLinkStoreRejectsInvalid(t *testing.T) {
	ctx := context.Background()
	for _, mk := range linkStoreMakers() {
		s := mk.make(t)
		bad := []Link{
			{Key: VulnKey{"", 1}, ServiceDeskEntry: ServiceDeskEntry{State: LinkPending, Tag: "t"}},
			{Key: VulnKey{"ws", 0}, ServiceDeskEntry: ServiceDeskEntry{State: LinkPending, Tag: "t"}},
			{Key: VulnKey{"ws", 1}, ServiceDeskEntry: ServiceDeskEntry{State: LinkPending}},
			{Key: VulnKey{"ws", 1}, ServiceDeskEntry: ServiceDeskEntry{State: LinkLinked, Tag: "t"}},
			{Key: VulnKey{"ws", 1}, ServiceDeskEntry: ServiceDeskEntry{State: "done", RequestID: "1"}},
		}
		for _, l := range bad {
			if _, err := s.CompareAndSet(ctx, l, 0); !errors.Is(err, ErrInvalidLink) {
				t.Errorf("%s: CAS(%+v) = %v; want ErrInvalidLink", mk.name, l, err)
			}
		}
	}
}

// TestLinkStoreConcurrentIncrements has goroutines increment one counter
// through compare-and-set; no increment may be lost.
func TestLinkStoreConcurrentIncrements(t *testing.T) {
	const workers, each = 8, 25
	for _, mk := range linkStoreMakers() {
		t.Run(mk.name, func(t *testing.T) {
			s := mk.make(t)
			key := VulnKey{"ws", 1}
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						if _, err := UpdateLink(context.Background(), s, key, 100000, incrementCounter); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			checkCounter(t, s, key, workers*each)
		})
	}
}

// incrementCounter keeps a counter in the link's LastIncoming.ChangeID.
func incrementCounter(l *Link) error {
	n := 0
	if l.Revision == 0 {
		l.State, l.Tag = LinkPending, "[FRD "+l.Key.String()+"]"
	} else {
		var err error
		if n, err = strconv.Atoi(l.LastIncoming.ChangeID); err != nil {
			return err
		}
	}
	l.LastIncoming = &IncomingChange{Status: "In Progress", ChangeID: strconv.Itoa(n + 1)}
	return nil
}

func checkCounter(t *testing.T, s LinkStore, key VulnKey, want int) {
	t.Helper()
	l, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if l.LastIncoming == nil || l.LastIncoming.ChangeID != strconv.Itoa(want) || l.Revision != uint64(want) {
		t.Fatalf("counter %v at revision %d; want %d at revision %d (lost writes)", l.LastIncoming, l.Revision, want, want)
	}
}

func TestUpdateLinkStops(t *testing.T) {
	s := NewMemoryLinkStore()
	boom := errors.New("boom")
	if _, err := UpdateLink(context.Background(), s, VulnKey{"ws", 1}, 3, func(*Link) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("fn error = %v", err)
	}
	if _, err := s.Get(context.Background(), VulnKey{"ws", 1}); !errors.Is(err, ErrLinkNotFound) {
		t.Error("a failed update wrote")
	}
	// A store that always conflicts makes UpdateLink give up after the bound.
	calls := 0
	_, err := UpdateLink(context.Background(), conflictingStore{s}, VulnKey{"ws", 1}, 3, func(l *Link) error {
		calls++
		return incrementCounter(l)
	})
	if !errors.Is(err, ErrConflict) || calls != 3 {
		t.Errorf("always conflicting: %v after %d calls", err, calls)
	}
}

type conflictingStore struct{ LinkStore }

func (conflictingStore) CompareAndSet(context.Context, Link, uint64) (Link, error) {
	return Link{}, ErrConflict
}

func TestFileLinkStorePersistsAndSeesOtherWriters(t *testing.T) {
	requireFileStores(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "links.json")
	a, err := OpenFileLinkStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	b, err := OpenFileLinkStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	l := pendingLink("acme", 7)
	l.LastPushedStatus, l.LastPushedAt, l.EchoConsumed = "Open", NewTime(t0), true
	if _, err := a.CompareAndSet(ctx, l, 0); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, l.Key)
	if err != nil || got.Tag != "[FRD acme/7]" || got.LastPushedStatus != "Open" || !got.EchoConsumed || !got.LastPushedAt.Equal(t0) {
		t.Fatalf("other instance reads %+v, %v", got, err)
	}
	// b writes, a sees it at its next read, and a's stale CAS conflicts.
	got.State, got.RequestID = LinkLinked, "55"
	if _, err := b.CompareAndSet(ctx, got, 1); err != nil {
		t.Fatal(err)
	}
	if g, err := a.GetByTicket(ctx, "55"); err != nil || g.Revision != 2 {
		t.Errorf("a after b's write: %+v, %v", g, err)
	}
	if _, err := a.CompareAndSet(ctx, l, 1); !errors.Is(err, ErrConflict) {
		t.Errorf("stale CAS through a = %v", err)
	}
	// A fresh store reads the file.
	c, err := OpenFileLinkStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if g, err := c.Get(ctx, l.Key); err != nil || g.RequestID != "55" {
		t.Errorf("reopened: %+v, %v", g, err)
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	if _, err := c.Get(ctx, l.Key); err == nil {
		t.Error("closed store still answers")
	}
}

func TestFileStoresRejectBadFiles(t *testing.T) {
	requireFileStores(t)
	dir := t.TempDir()
	cases := map[string]string{
		"garbage":       "not json",
		"wrong format":  `{"format": "something-else", "links": []}`,
		"invalid link":  `{"format": "mesd-faraday-links/1", "links": [{"key": {"workspace": "w", "vuln_id": 1}, "revision": 1, "state": "linked"}]}`,
		"zero revision": `{"format": "mesd-faraday-links/1", "links": [{"key": {"workspace": "w", "vuln_id": 1}, "revision": 0, "state": "pending", "tag": "t"}]}`,
		"duplicate": `{"format": "mesd-faraday-links/1", "links": [{"key": {"workspace": "w", "vuln_id": 1}, "revision": 1, "state": "pending", "tag": "t"},` +
			`{"key": {"workspace": "w", "vuln_id": 1}, "revision": 2, "state": "pending", "tag": "t"}]}`,
	}
	for name, content := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenFileLinkStore(p)
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %v does not name %s", name, err, p)
		}
	}
	p := filepath.Join(dir, "tokens.json")
	secret := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeZ"
	if err := os.WriteFile(p, []byte(`{"format": "mesd-faraday-tokens/1", "tokens": [{"id": 1, "alias": "a", "scope": "service_desk", "sha256": "`+secret+`"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFileTokenStore(p)
	if err == nil || !strings.Contains(err.Error(), "sha256") || strings.Contains(err.Error(), secret) {
		t.Errorf("bad hash error = %v", err)
	}
}

func TestFileTokenStoreModeAndReopen(t *testing.T) {
	requireFileStores(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.json")
	s, err := OpenFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, plain, err := IssueToken(ctx, s, UserToken{UserID: 1, Alias: "cli", Scope: ScopeServiceDesk})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), plain) {
		t.Error("the token file holds the plaintext")
	}
	s2, err := OpenFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s2.Close() }()
	got, err := ValidateToken(ctx, s2, plain, time.Now(), ScopeServiceDesk)
	if err != nil || got.ID != tok.ID {
		t.Errorf("token after reopen: %v, %v", got, err)
	}
	// Ids keep growing after a reopen.
	tok2, _, err := IssueToken(ctx, s2, UserToken{UserID: 1, Alias: "second", Scope: ScopeJira})
	if err != nil || tok2.ID != tok.ID+1 {
		t.Errorf("second id = %d, %v", tok2.ID, err)
	}
}

func FuzzDecodeLinkFile(f *testing.F) {
	f.Add([]byte(`{"format":"mesd-faraday-links/1","links":[{"key":{"workspace":"w","vuln_id":1},"revision":3,"state":"linked","request_id":"9","last_incoming":{"status":"Closed","change_id":"c"}}]}`))
	f.Add([]byte(`{"format":"mesd-faraday-links/1","links":[]}`))
	f.Add([]byte(`{"format":"mesd-faraday-links/1","links":[{"key":{"workspace":"w","vuln_id":2},"revision":1,"state":"pending","tag":"[FRD w/2]"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := decodeLinkFile(data)
		if err != nil {
			return
		}
		enc, err := encodeLinkFile(ix)
		if err != nil {
			t.Fatalf("encode after decode: %v", err)
		}
		ix2, err := decodeLinkFile(enc)
		if err != nil {
			t.Fatalf("decode of our own output: %v\n%s", err, enc)
		}
		enc2, err := encodeLinkFile(ix2)
		if err != nil || string(enc2) != string(enc) {
			t.Fatalf("output not stable:\n%s\n%s", enc, enc2)
		}
		for k, l := range ix.byKey {
			l2 := ix2.byKey[k]
			if l2 == nil || l2.Revision != l.Revision || l2.RequestID != l.RequestID || l2.State != l.State {
				t.Fatalf("link %s changed: %+v → %+v", k, l, l2)
			}
		}
	})
}

func TestLinkJSON(t *testing.T) {
	l := Link{Key: VulnKey{"acme", 12}, Revision: 4, ServiceDeskEntry: ServiceDeskEntry{
		State: LinkLinked, Tag: "[FRD acme/12]", RequestID: "100", DisplayID: "7", URL: "https://sdp/7", Template: "Default",
		CreatedAt: NewTime(t0), LastPushedStatus: "Open", LastPushedAt: NewTime(t0.Add(time.Second)), EchoConsumed: true,
		LastIncoming: &IncomingChange{Status: "Closed", ChangeID: "1714000000000", At: NewTime(t0.Add(time.Minute))},
	}}
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"key":{"workspace":"acme","vuln_id":12},"revision":4,"state":"linked","tag":"[FRD acme/12]","request_id":"100",` +
		`"display_id":"7","url":"https://sdp/7","template":"Default","created_at":"2026-05-01T12:00:00+00:00","last_pushed_status":"Open",` +
		`"last_pushed_at":"2026-05-01T12:00:01+00:00","echo_consumed":true,"last_incoming":{"status":"Closed","change_id":"1714000000000","at":"2026-05-01T12:01:00+00:00"}}`
	if string(b) != want {
		t.Errorf("JSON = %s\nwant %s", b, want)
	}
	var back Link
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, l) {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	// The entry is what the issue-tracker column holds.
	it := IssueTracker{ServiceDesk: &l.ServiceDeskEntry}
	text, err := it.ColumnText()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseIssueTracker(text)
	if err != nil || !reflect.DeepEqual(*parsed.ServiceDesk, l.ServiceDeskEntry) {
		t.Errorf("entry through the column = %+v, %v", parsed.ServiceDesk, err)
	}
}
