package faraday

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// benchSize returns n, or small when MESD_BENCH_SMALL=1.
func benchSize(n, small int) int {
	if os.Getenv("MESD_BENCH_SMALL") == "1" {
		return small
	}
	return n
}

// BenchmarkTokenLookup compares ValidateToken on the stores with the
// standard-library baseline doing the same work: hash the presented token
// with SHA-256 and look it up in a map[string].
func BenchmarkTokenLookup(b *testing.B) {
	requireFileStores(b)
	ctx := context.Background()
	n := benchSize(10000, 10)
	now := time.Now()
	file, err := OpenFileTokenStore(filepath.Join(b.TempDir(), "tokens.json"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = file.Close() }()
	mem := NewMemoryTokenStore()
	baseline := make(map[string]UserToken, n)
	var plains []string
	for i := range n {
		plain, h, err := NewTokenSecret()
		if err != nil {
			b.Fatal(err)
		}
		spec := UserToken{UserID: 1, Alias: "t" + strconv.Itoa(i), Scope: ScopeServiceDesk}
		tok, err := mem.Create(ctx, spec, h)
		if err != nil {
			b.Fatal(err)
		}
		baseline[string(h[:])] = tok
		plains = append(plains, plain)
	}
	// The file store gets the same tokens in one write.
	if err := file.fs.update(context.Background(), func(ix *tokenIndex) (*tokenIndex, error) {
		mem.mu.RLock()
		defer mem.mu.RUnlock()
		for _, r := range mem.ix.byID {
			c := *r
			if err := ix.add(&c); err != nil {
				return nil, err
			}
		}
		return ix, nil
	}); err != nil {
		b.Fatal(err)
	}
	b.Run("baseline-map-sha256", func(b *testing.B) {
		i := 0
		for b.Loop() {
			h := sha256.Sum256([]byte(plains[i%n]))
			tok, ok := baseline[string(h[:])]
			if !ok || tok.Revoked || tok.Scope != ScopeServiceDesk {
				b.Fatal("baseline lookup failed")
			}
			i++
		}
	})
	for _, c := range []struct {
		name  string
		store TokenStore
	}{{"memory-store", mem}, {"file-store", file}} {
		b.Run(c.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := ValidateToken(ctx, c.store, plains[i%n], now, ScopeServiceDesk); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkFileLinkStoreCAS compares one compare-and-set on a file store of
// n links (re-encode, temp file, fsync, rename) with the standard-library
// baseline writing the same number of bytes with os.WriteFile (no fsync,
// no lock, no rename) and with os.WriteFile followed by fsync.
func BenchmarkFileLinkStoreCAS(b *testing.B) {
	requireFileStores(b)
	ctx := context.Background()
	n := benchSize(1000, 5)
	dir := b.TempDir()
	s, err := OpenFileLinkStore(filepath.Join(dir, "links.json"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for i := range n {
		l := pendingLink("acme", int64(i+1))
		l.State, l.RequestID, l.DisplayID = LinkLinked, strconv.Itoa(100000+i), strconv.Itoa(i)
		l.URL = "https://sdp.example.com/app/itdesk/ui/requests/" + l.RequestID + "/details"
		l.CreatedAt, l.LastPushedStatus, l.LastPushedAt = NewTime(t0), "Open", NewTime(t0)
		if _, err := s.CompareAndSet(ctx, l, 0); err != nil {
			b.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "links.json"))
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%d links, %d bytes", n, len(data))
	b.Run("baseline-os.WriteFile", func(b *testing.B) {
		p := filepath.Join(dir, "plain.json")
		for b.Loop() {
			if err := os.WriteFile(p, data, 0o600); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-os.WriteFile+fsync", func(b *testing.B) {
		p := filepath.Join(dir, "plain-sync.json")
		for b.Loop() {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := f.Write(data); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("file-store-CAS", func(b *testing.B) {
		key := VulnKey{"acme", 1}
		for b.Loop() {
			if _, err := UpdateLink(ctx, s, key, 1, func(l *Link) error {
				l.LastPushedStatus = "Status " + strconv.FormatUint(l.Revision, 10)
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("file-store-Get", func(b *testing.B) {
		key := VulnKey{"acme", 1}
		for b.Loop() {
			if _, err := s.Get(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVulnDecode compares decoding a vuln into Vuln with decoding the
// same bytes into a map.
func BenchmarkVulnDecode(b *testing.B) {
	data, err := os.ReadFile("testdata/vuln_host.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline-map", func(b *testing.B) {
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Vuln", func(b *testing.B) {
		for b.Loop() {
			var v Vuln
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
