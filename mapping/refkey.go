package mapping

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// Option configures a Mapper beyond its Config: things that are not
// configuration text, such as secrets.
type Option func(*options) error

type options struct {
	refKey []byte
}

// WithReferenceKey makes the Mapper write keyed footer references: their
// check is an HMAC-SHA256 under key (truncated to 128 bits), so only
// holders of the key can write a reference that VerifyReference accepts.
// The key must be at least MinReferenceKeyBytes long (NewReferenceKey
// makes one) and is copied. The exporter that writes the tickets and the
// webhook that reads them back must use the same key.
func WithReferenceKey(key []byte) Option {
	k := append([]byte(nil), key...)
	return func(o *options) error {
		if len(k) < MinReferenceKeyBytes {
			return fmt.Errorf("mapping: reference key is %d bytes; at least %d are needed (use NewReferenceKey)", len(k), MinReferenceKeyBytes)
		}
		o.refKey = k
		return nil
	}
}

// NewReferenceKey returns a new random reference key of 32 bytes, read
// from crypto/rand. Store it with EncodeReferenceKey.
func NewReferenceKey() ([]byte, error) {
	k := make([]byte, referenceKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("mapping: new reference key: %w", err)
	}
	return k, nil
}

// EncodeReferenceKey returns the text form of a reference key for storing
// it (in a file or an environment variable): standard base64 with
// padding, as in RFC 4648 section 4. ParseReferenceKey reads it back.
func EncodeReferenceKey(key []byte) string {
	return base64.StdEncoding.EncodeToString(key)
}

// ErrReferenceKey is wrapped by ParseReferenceKey's errors.
var ErrReferenceKey = errors.New("mapping: invalid reference key")

// ParseReferenceKey reads a key written by EncodeReferenceKey: standard
// base64, padding optional, surrounding white space ignored. The key must
// be at least MinReferenceKeyBytes long. Errors never quote the text.
func ParseReferenceKey(text string) ([]byte, error) {
	t := strings.TrimSpace(text)
	if t == "" {
		return nil, fmt.Errorf("%w: empty", ErrReferenceKey)
	}
	enc := base64.StdEncoding
	if !strings.HasSuffix(t, "=") && len(t)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	k, err := enc.DecodeString(t)
	if err != nil {
		var ce base64.CorruptInputError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%w: not base64 (bad character or length at byte %d)", ErrReferenceKey, int64(ce))
		}
		return nil, fmt.Errorf("%w: not base64", ErrReferenceKey)
	}
	if len(k) < MinReferenceKeyBytes {
		return nil, fmt.Errorf("%w: %d bytes; at least %d are needed", ErrReferenceKey, len(k), MinReferenceKeyBytes)
	}
	return k, nil
}

// ReferenceKeyed reports whether the Mapper writes and verifies keyed
// references (it was built WithReferenceKey). When false, its references
// carry only a checksum that anyone can compute.
func (m *Mapper) ReferenceKeyed() bool { return m.macs != nil }

// VerifyReference reports whether ref, as ParseReference returned it, was
// written with this Mapper's key: a keyed reference whose MAC matches
// (compared in constant time). A Mapper without a key accepts an unkeyed
// reference whose checksum matches, which proves nothing about its writer,
// and never a keyed one. A keyed Mapper never accepts an unkeyed
// reference, such as the footers of tickets created before it had a key.
func (m *Mapper) VerifyReference(ref Reference) bool {
	if ref.Validate() != nil {
		return false
	}
	if !m.ReferenceKeyed() {
		return ref.crcMatches()
	}
	if !ref.Keyed() {
		return false
	}
	var want [keyedMACHex]byte
	m.macs.sum(&want, ref)
	return hmac.Equal(want[:], []byte(ref.MAC))
}

// macPool computes keyed MACs with pooled HMAC states: the webhook checks
// one per delivery, and a fresh HMAC costs several allocations.
type macPool struct{ p sync.Pool }

type macState struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func newMACPool(key []byte) *macPool {
	k := bytes.Clone(key)
	mp := &macPool{}
	mp.p.New = func() any { return &macState{h: hmac.New(sha256.New, k), buf: make([]byte, 0, 128)} }
	return mp
}

// sum writes the keyed MAC of r, as hex, to dst.
func (mp *macPool) sum(dst *[keyedMACHex]byte, r Reference) {
	st := mp.p.Get().(*macState)
	st.buf = r.appendPayload(st.buf[:0], refVersionKeyed)
	st.h.Reset()
	st.h.Write(st.buf)
	s := st.h.Sum(st.sum[:0])
	hex.Encode(dst[:], s[:keyedMACHex/2])
	mp.p.Put(st)
}
