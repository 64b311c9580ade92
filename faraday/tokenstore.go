package faraday

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// TokenStore keeps user tokens: their descriptions and the SHA-256 of each
// token, never the token itself. Implementations must be safe for concurrent
// use. A host can implement it over its own database; this package has an
// in-memory and a file-backed one.
type TokenStore interface {
	// Lookup returns the token whose hash is h, or an error wrapping
	// ErrTokenUnknown. It finds the token through an index on the hash and
	// confirms it with a constant-time comparison; it does not check
	// expiry, revocation or scope (see ValidateToken).
	Lookup(ctx context.Context, h TokenHash) (UserToken, error)
	// Create stores a token with hash h described by spec. The store sets
	// ID, CreatedAt and Revoked=false and returns the stored description.
	Create(ctx context.Context, spec UserToken, h TokenHash) (UserToken, error)
	// Revoke marks the token revoked; an unknown id gives ErrTokenNotFound.
	// Revoking twice is not an error.
	Revoke(ctx context.Context, id int64) error
	// List returns every token's description, without secrets, by id.
	List(ctx context.Context) ([]UserToken, error)
}

// StoreOption configures the stores of this package.
type StoreOption func(*storeConfig)

type storeConfig struct {
	now func() time.Time
}

// WithClock sets the clock the store uses for creation times (time.Now by
// default).
func WithClock(now func() time.Time) StoreOption {
	return func(c *storeConfig) {
		if now != nil {
			c.now = now
		}
	}
}

func newStoreConfig(opts []StoreOption) storeConfig {
	c := storeConfig{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// tokenIndex is the state both token stores share: records by id and an
// index from the first eight bytes of the hash to the records that share
// them (almost always one).
type tokenIndex struct {
	nextID   int64
	byID     map[int64]*tokenRecord
	byPrefix map[uint64][]*tokenRecord
}

func newTokenIndex() *tokenIndex {
	return &tokenIndex{nextID: 1, byID: map[int64]*tokenRecord{}, byPrefix: map[uint64][]*tokenRecord{}}
}

func hashPrefix(h TokenHash) uint64 { return binary.BigEndian.Uint64(h[:8]) }

func (ix *tokenIndex) lookup(h TokenHash) (UserToken, error) {
	for _, r := range ix.byPrefix[hashPrefix(h)] {
		if subtle.ConstantTimeCompare(r.hash[:], h[:]) == 1 {
			return r.UserToken, nil
		}
	}
	return UserToken{}, ErrTokenUnknown
}

func (ix *tokenIndex) add(r *tokenRecord) error {
	if _, err := ix.lookup(r.hash); err == nil {
		return fmt.Errorf("faraday: a token with the same hash is already stored")
	}
	if _, ok := ix.byID[r.ID]; ok {
		return fmt.Errorf("faraday: token id %d used twice", r.ID)
	}
	ix.byID[r.ID] = r
	p := hashPrefix(r.hash)
	ix.byPrefix[p] = append(ix.byPrefix[p], r)
	if r.ID >= ix.nextID {
		ix.nextID = r.ID + 1
	}
	return nil
}

func (ix *tokenIndex) create(spec UserToken, h TokenHash, now time.Time) (UserToken, error) {
	if !spec.Scope.Valid() {
		return UserToken{}, fmt.Errorf("%w %s", ErrInvalidScope, quoteValue(string(spec.Scope)))
	}
	if strings.TrimSpace(spec.Alias) == "" {
		return UserToken{}, fmt.Errorf("faraday: token alias is empty")
	}
	r := &tokenRecord{UserToken: spec, hash: h}
	r.ID = ix.nextID
	r.Revoked = false
	r.CreatedAt = now.UTC()
	if err := ix.add(r); err != nil {
		return UserToken{}, err
	}
	return r.UserToken, nil
}

func (ix *tokenIndex) revoke(id int64) error {
	r, ok := ix.byID[id]
	if !ok {
		return fmt.Errorf("%w: %d", ErrTokenNotFound, id)
	}
	r.Revoked = true
	return nil
}

func (ix *tokenIndex) list() []UserToken {
	out := make([]UserToken, 0, len(ix.byID))
	for _, r := range ix.byID {
		out = append(out, r.UserToken)
	}
	slices.SortFunc(out, func(a, b UserToken) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// MemoryTokenStore is a TokenStore in memory.
type MemoryTokenStore struct {
	cfg storeConfig
	mu  sync.RWMutex
	ix  *tokenIndex
}

// NewMemoryTokenStore returns an empty in-memory token store.
func NewMemoryTokenStore(opts ...StoreOption) *MemoryTokenStore {
	return &MemoryTokenStore{cfg: newStoreConfig(opts), ix: newTokenIndex()}
}

// Lookup implements TokenStore.
func (s *MemoryTokenStore) Lookup(ctx context.Context, h TokenHash) (UserToken, error) {
	if err := ctx.Err(); err != nil {
		return UserToken{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.lookup(h)
}

// Create implements TokenStore.
func (s *MemoryTokenStore) Create(ctx context.Context, spec UserToken, h TokenHash) (UserToken, error) {
	if err := ctx.Err(); err != nil {
		return UserToken{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ix.create(spec, h, s.cfg.now())
}

// Revoke implements TokenStore.
func (s *MemoryTokenStore) Revoke(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ix.revoke(id)
}

// List implements TokenStore.
func (s *MemoryTokenStore) List(ctx context.Context) ([]UserToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.ix.list(), nil
}

// FileTokenStore is a TokenStore kept in a JSON file (mode 0600) that
// several processes may share: a token created by one command works at once
// in a server started before or after, and a revocation refuses the token at
// the server's next lookup. Writes replace the file atomically under an
// advisory lock on path+".lock"; lookups take no lock and cost one stat(2)
// unless the file changed. Edit the file only through a store.
type FileTokenStore struct {
	cfg storeConfig
	fs  *fileState[*tokenIndex]
}

const tokenFileFormat = "mesd-faraday-tokens/1" //nolint:gosec // a format name, not a credential

type tokenFile struct {
	Format string            `json:"format"`
	NextID int64             `json:"next_id"`
	Tokens []tokenRecordJSON `json:"tokens"`
}

// OpenFileTokenStore opens (or prepares to create) the token file at path.
// A missing file is an empty store; a file that is not a token store is an
// error naming the path and the problem.
// Symbolic links in path are resolved once, here: writes replace the target
// and lock beside it. A file writable by group or others is refused (at
// open and at every re-read); a rewrite keeps the file's mode, and a new
// file is created 0600. Waiting for the lock of a write ends with the
// write's context.
func OpenFileTokenStore(path string, opts ...StoreOption) (*FileTokenStore, error) {
	fs, err := newFileState(path, decodeTokenFile, encodeTokenFile, newTokenIndex)
	if err != nil {
		return nil, err
	}
	return &FileTokenStore{cfg: newStoreConfig(opts), fs: fs}, nil
}

func decodeTokenFile(data []byte) (*tokenIndex, error) {
	var tf tokenFile
	if err := json.Unmarshal(data, &tf); err != nil {
		return nil, fmt.Errorf("not a token store: %s", jsonErrText(err))
	}
	if tf.Format != tokenFileFormat {
		return nil, fmt.Errorf("format %s, want %q", quoteValue(tf.Format), tokenFileFormat)
	}
	ix := newTokenIndex()
	for i, t := range tf.Tokens {
		var h TokenHash
		b, err := hex.DecodeString(t.Hash)
		if err != nil || len(b) != len(h) {
			return nil, fmt.Errorf("tokens[%d] (id %d): sha256 is not %d hex bytes", i, t.ID, len(h))
		}
		copy(h[:], b)
		if !t.Scope.Valid() {
			return nil, fmt.Errorf("tokens[%d] (id %d): %w %s", i, t.ID, ErrInvalidScope, quoteValue(string(t.Scope)))
		}
		if err := ix.add(&tokenRecord{UserToken: t.UserToken, hash: h}); err != nil {
			return nil, fmt.Errorf("tokens[%d] (id %d): %w", i, t.ID, err)
		}
	}
	if tf.NextID > ix.nextID {
		ix.nextID = tf.NextID
	}
	return ix, nil
}

func encodeTokenFile(ix *tokenIndex) ([]byte, error) {
	tf := tokenFile{Format: tokenFileFormat, NextID: ix.nextID, Tokens: make([]tokenRecordJSON, 0, len(ix.byID))}
	for _, t := range ix.list() {
		r := ix.byID[t.ID]
		tf.Tokens = append(tf.Tokens, tokenRecordJSON{UserToken: r.UserToken, Hash: hex.EncodeToString(r.hash[:])})
	}
	return json.MarshalIndent(tf, "", "  ")
}

// Lookup implements TokenStore. It sees changes other processes made.
func (s *FileTokenStore) Lookup(ctx context.Context, h TokenHash) (UserToken, error) {
	if err := ctx.Err(); err != nil {
		return UserToken{}, err
	}
	var tok UserToken
	err := s.fs.view(func(ix *tokenIndex) error {
		var err error
		tok, err = ix.lookup(h)
		return err
	})
	return tok, err
}

// Create implements TokenStore.
func (s *FileTokenStore) Create(ctx context.Context, spec UserToken, h TokenHash) (UserToken, error) {
	if err := ctx.Err(); err != nil {
		return UserToken{}, err
	}
	var tok UserToken
	err := s.fs.update(ctx, func(ix *tokenIndex) (*tokenIndex, error) {
		var err error
		tok, err = ix.create(spec, h, s.cfg.now())
		return ix, err
	})
	return tok, err
}

// Revoke implements TokenStore.
func (s *FileTokenStore) Revoke(ctx context.Context, id int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.fs.update(ctx, func(ix *tokenIndex) (*tokenIndex, error) {
		return ix, ix.revoke(id)
	})
}

// List implements TokenStore.
func (s *FileTokenStore) List(ctx context.Context) ([]UserToken, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []UserToken
	err := s.fs.view(func(ix *tokenIndex) error {
		out = ix.list()
		return nil
	})
	return out, err
}

// Close releases the file the store keeps open. The store is unusable
// afterwards.
func (s *FileTokenStore) Close() error { return s.fs.close() }

var (
	_ TokenStore = (*MemoryTokenStore)(nil)
	_ TokenStore = (*FileTokenStore)(nil)
)
