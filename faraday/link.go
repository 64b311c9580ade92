package faraday

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Link store errors.
var (
	// ErrLinkNotFound: no link for that vuln or ticket.
	ErrLinkNotFound = errors.New("faraday: link not found")
	// ErrConflict: a compare-and-set found another revision than expected;
	// re-read the link and try again.
	ErrConflict = errors.New("faraday: link changed concurrently")
	// ErrTicketLinked: the ticket is already linked to another vuln.
	ErrTicketLinked = errors.New("faraday: ticket already linked to another vuln")
	// ErrInvalidLink: the link breaks an invariant (see Link.Validate).
	ErrInvalidLink = errors.New("faraday: invalid link")
)

// VulnKey names a vuln across workspaces.
type VulnKey struct {
	Workspace string `json:"workspace"`
	VulnID    int64  `json:"vuln_id"`
}

// String returns "workspace/id".
func (k VulnKey) String() string { return k.Workspace + "/" + strconv.FormatInt(k.VulnID, 10) }

// Validate checks that the key names a workspace and a positive id.
func (k VulnKey) Validate() error {
	if strings.TrimSpace(k.Workspace) == "" {
		return fmt.Errorf("%w: empty workspace in vuln key", ErrInvalidLink)
	}
	if k.VulnID <= 0 {
		return fmt.Errorf("%w: vuln id %d in %s is not positive", ErrInvalidLink, k.VulnID, quoteValue(k.Workspace))
	}
	return nil
}

func compareKeys(a, b VulnKey) int {
	if c := cmp.Compare(a.Workspace, b.Workspace); c != 0 {
		return c
	}
	return cmp.Compare(a.VulnID, b.VulnID)
}

// Link is the vuln ↔ ticket link: the vuln's key, the revision the store
// gave it, and the ServiceDesk entry (pending intent or linked ticket, what
// was last pushed and the last incoming change applied). The entry is the
// same value the vuln's issue-tracker column holds under ServiceDeskKey.
type Link struct {
	Key VulnKey `json:"key"`
	// Revision is set by the store: 1 for a new link, one more at each
	// write. 0 means the link does not exist.
	Revision uint64 `json:"revision"`
	ServiceDeskEntry
}

// Validate checks the key and the entry.
func (l *Link) Validate() error {
	if err := l.Key.Validate(); err != nil {
		return err
	}
	if err := l.ServiceDeskEntry.Validate(); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrInvalidLink, l.Key, err)
	}
	return nil
}

// Clone returns a deep copy.
func (l Link) Clone() Link {
	l.ServiceDeskEntry = *l.clone()
	return l
}

// LinkStore keeps vuln ↔ ticket links. Every write is a compare-and-set on
// the link's revision, so two writers (replicas, or the webhook and the
// reconcile loop) apply a change once: the loser gets ErrConflict, re-reads
// and decides again. Implementations must be safe for concurrent use; a
// host can implement it over its own database.
type LinkStore interface {
	// Get returns the link of a vuln, or ErrLinkNotFound.
	Get(ctx context.Context, key VulnKey) (Link, error)
	// GetByTicket returns the link whose RequestID is requestID, or
	// ErrLinkNotFound. Pending links have no ticket yet.
	GetByTicket(ctx context.Context, requestID string) (Link, error)
	// CompareAndSet stores link if the stored revision of link.Key is
	// expected (0: there must be no link), and returns it with its new
	// revision, expected+1. Otherwise it fails with ErrConflict and stores
	// nothing. A link whose RequestID another vuln's link holds fails with
	// ErrTicketLinked; an invalid link with ErrInvalidLink.
	CompareAndSet(ctx context.Context, link Link, expected uint64) (Link, error)
	// Delete removes the link of key if its revision is expected; a
	// missing link gives ErrLinkNotFound, another revision ErrConflict.
	Delete(ctx context.Context, key VulnKey, expected uint64) error
}

// UpdateLink reads the link of key (a zero Link with Revision 0 when there
// is none), calls fn on a copy, and stores the result with CompareAndSet,
// re-reading and calling fn again on ErrConflict, at most attempts times
// (attempts < 1 means 8). fn returning an error stops without writing.
// When there is no link and fn leaves the zero Link unchanged, nothing is
// written and UpdateLink returns a zero Link (Revision 0: no link) and nil.
func UpdateLink(ctx context.Context, s LinkStore, key VulnKey, attempts int, fn func(*Link) error) (Link, error) {
	if attempts < 1 {
		attempts = 8
	}
	var err error
	for range attempts {
		var cur Link
		cur, err = s.Get(ctx, key)
		switch {
		case errors.Is(err, ErrLinkNotFound):
			cur = Link{Key: key}
		case err != nil:
			return Link{}, err
		}
		next := cur.Clone()
		if err := fn(&next); err != nil {
			return Link{}, err
		}
		next.Key = key
		if cur.Revision == 0 && reflect.DeepEqual(next, Link{Key: key}) {
			// fn left a missing link missing: nothing to write.
			return Link{}, nil
		}
		var stored Link
		stored, err = s.CompareAndSet(ctx, next, cur.Revision)
		if err == nil {
			return stored, nil
		}
		if !errors.Is(err, ErrConflict) {
			return Link{}, err
		}
	}
	return Link{}, fmt.Errorf("faraday: link %s: gave up after %d attempts: %w", key, attempts, err)
}

// linkIndex is the state both link stores share. For the file store it
// also keeps each link's JSON, encoded once when the link is stored, so a
// write re-encodes one link rather than all of them.
type linkIndex struct {
	byKey    map[VulnKey]*Link
	byTicket map[string]VulnKey
	enc      map[VulnKey][]byte // nil for the memory store
}

func newLinkIndex() *linkIndex {
	return &linkIndex{byKey: map[VulnKey]*Link{}, byTicket: map[string]VulnKey{}}
}

func newEncodedLinkIndex() *linkIndex {
	ix := newLinkIndex()
	ix.enc = map[VulnKey][]byte{}
	return ix
}

func (ix *linkIndex) get(key VulnKey) (Link, error) {
	l, ok := ix.byKey[key]
	if !ok {
		return Link{}, fmt.Errorf("%w: vuln %s", ErrLinkNotFound, key)
	}
	return l.Clone(), nil
}

func (ix *linkIndex) getByTicket(id string) (Link, error) {
	key, ok := ix.byTicket[id]
	if !ok {
		return Link{}, fmt.Errorf("%w: ticket %s", ErrLinkNotFound, quoteValue(id))
	}
	return ix.get(key)
}

func (ix *linkIndex) cas(link Link, expected uint64) (Link, error) {
	if err := link.Validate(); err != nil {
		return Link{}, err
	}
	var have uint64
	old := ix.byKey[link.Key]
	if old != nil {
		have = old.Revision
	}
	if have != expected {
		return Link{}, fmt.Errorf("%w: vuln %s is at revision %d, not %d", ErrConflict, link.Key, have, expected)
	}
	if link.RequestID != "" {
		if k, ok := ix.byTicket[link.RequestID]; ok && k != link.Key {
			return Link{}, fmt.Errorf("%w: ticket %s belongs to vuln %s, not %s", ErrTicketLinked, quoteValue(link.RequestID), k, link.Key)
		}
	}
	link.Revision = expected + 1
	var enc []byte
	if ix.enc != nil {
		var err error
		if enc, err = json.Marshal(&link); err != nil {
			return Link{}, fmt.Errorf("faraday: encoding link %s: %w", link.Key, err)
		}
	}
	return ix.put(link, old, enc), nil
}

// put stores link (already validated and checked) in place of old, with
// its JSON when the index keeps it.
func (ix *linkIndex) put(link Link, old *Link, enc []byte) Link {
	stored := link.Clone()
	if ix.enc != nil {
		ix.enc[stored.Key] = enc
	}
	if old != nil && old.RequestID != "" && old.RequestID != stored.RequestID {
		delete(ix.byTicket, old.RequestID)
	}
	if stored.RequestID != "" {
		ix.byTicket[stored.RequestID] = stored.Key
	}
	ix.byKey[stored.Key] = &stored
	return stored.Clone()
}

func (ix *linkIndex) delete(key VulnKey, expected uint64) error {
	old, ok := ix.byKey[key]
	if !ok {
		return fmt.Errorf("%w: vuln %s", ErrLinkNotFound, key)
	}
	if old.Revision != expected {
		return fmt.Errorf("%w: vuln %s is at revision %d, not %d", ErrConflict, key, old.Revision, expected)
	}
	if old.RequestID != "" {
		delete(ix.byTicket, old.RequestID)
	}
	delete(ix.byKey, key)
	delete(ix.enc, key)
	return nil
}

// MemoryLinkStore is a LinkStore in memory.
type MemoryLinkStore struct {
	mu sync.RWMutex
	ix *linkIndex
}

// NewMemoryLinkStore returns an empty in-memory link store.
func NewMemoryLinkStore() *MemoryLinkStore { return &MemoryLinkStore{ix: newLinkIndex()} }

// Get implements LinkStore.
func (s *MemoryLinkStore) Get(ctx context.Context, key VulnKey) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.get(key)
}

// GetByTicket implements LinkStore.
func (s *MemoryLinkStore) GetByTicket(ctx context.Context, requestID string) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.getByTicket(requestID)
}

// CompareAndSet implements LinkStore.
func (s *MemoryLinkStore) CompareAndSet(ctx context.Context, link Link, expected uint64) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ix.cas(link, expected)
}

// Delete implements LinkStore.
func (s *MemoryLinkStore) Delete(ctx context.Context, key VulnKey, expected uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ix.delete(key, expected)
}

// FileLinkStore is a LinkStore kept in a JSON file that several processes
// may share. Each write re-reads the file under an advisory lock on
// path+".lock", checks the revision, and replaces the file atomically (temp
// file, fsync, rename); reads take no lock and see other processes' writes
// at once, at the cost of one stat(2) when nothing changed. Every write
// rewrites the whole file, so it suits thousands of links, not millions;
// back LinkStore with a database beyond that. Edit the file only through a
// store.
type FileLinkStore struct {
	fs *fileState[*linkIndex]
}

const linkFileFormat = "mesd-faraday-links/1"

// OpenFileLinkStore opens (or prepares to create) the link file at path.
// A missing file is an empty store; a file that is not a link store, or
// holds an invalid link, is an error naming the path and the link.
// Symbolic links in path are resolved once, here: writes replace the target
// and lock beside it. A file writable by group or others is refused (at
// open and at every re-read); a rewrite keeps the file's mode, and a new
// file is created 0600. Waiting for the lock of a write ends with the
// write's context.
func OpenFileLinkStore(path string) (*FileLinkStore, error) {
	fs, err := newFileState(path, decodeLinkFile, encodeLinkFile, newEncodedLinkIndex)
	if err != nil {
		return nil, err
	}
	return &FileLinkStore{fs: fs}, nil
}

func decodeLinkFile(data []byte) (*linkIndex, error) {
	var lf struct {
		Format string            `json:"format"`
		Links  []json.RawMessage `json:"links"`
	}
	if err := json.Unmarshal(data, &lf); err != nil {
		return nil, fmt.Errorf("not a link store: %s", jsonErrText(err))
	}
	if lf.Format != linkFileFormat {
		return nil, fmt.Errorf("format %s, want %q", quoteValue(lf.Format), linkFileFormat)
	}
	ix := newEncodedLinkIndex()
	for i, raw := range lf.Links {
		var l Link
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("links[%d]: %s", i, jsonErrText(err))
		}
		if l.Revision == 0 {
			return nil, fmt.Errorf("links[%d] (%s): revision 0", i, l.Key)
		}
		if _, dup := ix.byKey[l.Key]; dup {
			return nil, fmt.Errorf("links[%d]: vuln %s appears twice", i, l.Key)
		}
		if err := l.Validate(); err != nil {
			return nil, fmt.Errorf("links[%d]: %w", i, err)
		}
		if k, ok := ix.byTicket[l.RequestID]; ok && l.RequestID != "" {
			return nil, fmt.Errorf("links[%d]: %w: ticket %s also belongs to vuln %s", i, ErrTicketLinked, quoteValue(l.RequestID), k)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return nil, fmt.Errorf("links[%d]: %s", i, jsonErrText(err))
		}
		ix.put(l, nil, compact.Bytes())
	}
	return ix, nil
}

// encodeLinkFile writes {"format":...,"links":[...]} with the links in key
// order, from the JSON kept for each link.
func encodeLinkFile(ix *linkIndex) ([]byte, error) {
	keys := make([]VulnKey, 0, len(ix.byKey))
	size := 64
	for k := range ix.byKey {
		keys = append(keys, k)
		size += len(ix.enc[k]) + 1
	}
	slices.SortFunc(keys, compareKeys)
	buf := make([]byte, 0, size)
	buf = append(buf, `{"format":"`+linkFileFormat+`","links":[`...)
	for i, k := range keys {
		enc, ok := ix.enc[k]
		if !ok {
			return nil, fmt.Errorf("faraday: link %s has no encoding", k)
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, enc...)
	}
	return append(buf, "]}\n"...), nil
}

// Get implements LinkStore.
func (s *FileLinkStore) Get(ctx context.Context, key VulnKey) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	var l Link
	err := s.fs.view(func(ix *linkIndex) error {
		var err error
		l, err = ix.get(key)
		return err
	})
	return l, err
}

// GetByTicket implements LinkStore.
func (s *FileLinkStore) GetByTicket(ctx context.Context, requestID string) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	var l Link
	err := s.fs.view(func(ix *linkIndex) error {
		var err error
		l, err = ix.getByTicket(requestID)
		return err
	})
	return l, err
}

// CompareAndSet implements LinkStore.
func (s *FileLinkStore) CompareAndSet(ctx context.Context, link Link, expected uint64) (Link, error) {
	if err := ctx.Err(); err != nil {
		return Link{}, err
	}
	var stored Link
	err := s.fs.update(ctx, func(ix *linkIndex) (*linkIndex, error) {
		var err error
		stored, err = ix.cas(link, expected)
		return ix, err
	})
	return stored, err
}

// Delete implements LinkStore.
func (s *FileLinkStore) Delete(ctx context.Context, key VulnKey, expected uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.fs.update(ctx, func(ix *linkIndex) (*linkIndex, error) {
		return ix, ix.delete(key, expected)
	})
}

// Close releases the file the store keeps open. The store is unusable
// afterwards.
func (s *FileLinkStore) Close() error { return s.fs.close() }

var (
	_ LinkStore = (*MemoryLinkStore)(nil)
	_ LinkStore = (*FileLinkStore)(nil)
)
