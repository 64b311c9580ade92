package mapping

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestVerifyReferenceRejectsForgedFooter: a CRC-32 check is computable by
// anyone who can write a description, so a keyed Mapper accepts only
// references carrying the HMAC of its key.
func TestVerifyReferenceRejectsForgedFooter(t *testing.T) {
	m := testMapper(t, nil, WithReferenceKey(testKey))
	if !m.ReferenceKeyed() {
		t.Fatal("ReferenceKeyed() = false with a key")
	}
	// The forgery a requester can write: an unkeyed reference with a
	// correct CRC-32.
	payload := "1::acme:2"
	forged := "FRDREF:" + payload + ":" + strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(payload)))|1<<32, 16)[1:]
	ref, ok := ParseReference("<div>my laptop is slow " + forged + "</div>")
	if !ok || ref.Workspace != "acme" || ref.VulnID != 2 {
		t.Fatalf("ParseReference(%q) = %+v, %v; want it parsed (verification is separate)", forged, ref, ok)
	}
	if m.VerifyReference(ref) {
		t.Errorf("keyed Mapper verified the forged unkeyed reference %s", forged)
	}

	// Our own footer verifies after SDP's HTML handling.
	v := testVuln()
	d := m.Description(v)
	got, ok := ParseReference("<div>" + strings.ReplaceAll(d, ":", "&#58;") + "</div>")
	if !ok || got != m.Reference("acme", 123) || !got.Keyed() || !m.VerifyReference(got) {
		t.Fatalf("own footer: %+v %v, verified %v", got, ok, m.VerifyReference(got))
	}
	if len(got.MAC) != 32 || strings.Trim(got.MAC, "0123456789abcdef") != "" {
		t.Errorf("MAC %q: want 32 lower-case hex digits (128 bits)", got.MAC)
	}

	// A keyed MAC moved to another vuln, a MAC under another key, a
	// flipped digit: none verifies.
	moved := got
	moved.VulnID = 124
	other := testMapper(t, nil, WithReferenceKey(bytes.Repeat([]byte{7}, 32))).Reference("acme", 123)
	flipped := got
	flipped.MAC = strings.Map(func(r rune) rune {
		if r == '0' {
			return '1'
		}
		return '0'
	}, got.MAC[:1]) + got.MAC[1:]
	otherInstance := got
	otherInstance.Instance = "eu1"
	for name, r := range map[string]Reference{"moved": moved, "other key": other, "flipped": flipped, "other instance": otherInstance} {
		if m.VerifyReference(r) {
			t.Errorf("%s: %s verified", name, r)
		}
		if back, ok := ParseReference(r.String()); ok && m.VerifyReference(back) {
			t.Errorf("%s: %s verified after a round trip", name, r)
		}
	}

	// Without a key: checksums only, never a keyed reference.
	u := testMapper(t, nil)
	if u.ReferenceKeyed() {
		t.Error("ReferenceKeyed() = true without a key")
	}
	if !u.VerifyReference(ref) || u.VerifyReference(got) {
		t.Errorf("unkeyed Mapper: checksum verified %v (want true), keyed verified %v (want false)", u.VerifyReference(ref), u.VerifyReference(got))
	}
	if r := u.Reference("acme", 2); r.Keyed() || r.String() != forged {
		t.Errorf("unkeyed Reference = %s, want %s", r, forged)
	}
}

func TestWithReferenceKeyLength(t *testing.T) {
	for _, n := range []int{0, 1, MinReferenceKeyBytes - 1} {
		_, err := New(validConfig(), WithReferenceKey(make([]byte, n)))
		if err == nil || !strings.Contains(err.Error(), "at least 16") {
			t.Errorf("%d-byte key: err = %v, want a length error", n, err)
		}
	}
	key := bytes.Repeat([]byte{1}, MinReferenceKeyBytes)
	m, err := New(validConfig(), WithReferenceKey(key))
	if err != nil {
		t.Fatal(err)
	}
	r := m.Reference("acme", 1)
	key[0] = 2 // the Mapper keeps its own copy
	if !m.VerifyReference(r) {
		t.Error("changing the caller's slice changed the Mapper's key")
	}
	if _, err := New(validConfig(), nil); err == nil {
		t.Error("nil Option accepted")
	}
	if _, err := New(nil); err == nil {
		t.Error("nil Config accepted")
	}
}

func TestReferenceKeyEncoding(t *testing.T) {
	k1, err := NewReferenceKey()
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := NewReferenceKey()
	if len(k1) != 32 || bytes.Equal(k1, k2) {
		t.Fatalf("NewReferenceKey: %d bytes, two equal: %v", len(k1), bytes.Equal(k1, k2))
	}
	text := EncodeReferenceKey(k1)
	for _, in := range []string{text, " " + text + "\n", strings.TrimRight(text, "=")} {
		back, err := ParseReferenceKey(in)
		if err != nil || !bytes.Equal(back, k1) {
			t.Errorf("ParseReferenceKey(%q) = %x, %v", in, back, err)
		}
	}
	short := EncodeReferenceKey(make([]byte, 15))
	for _, bad := range []string{"", "   ", short, "not*base64!!", text[:len(text)-5] + "%%%%"} {
		_, err := ParseReferenceKey(bad)
		if !errors.Is(err, ErrReferenceKey) {
			t.Errorf("ParseReferenceKey(%q): err = %v, want ErrReferenceKey", bad, err)
			continue
		}
		if bad != "" && strings.TrimSpace(bad) != "" && strings.Contains(err.Error(), strings.TrimSpace(bad)) {
			t.Errorf("error quotes the key text: %v", err)
		}
	}
}

// TestParseReferenceLinearOnLoneAngles: each '<' that starts no tag must
// not rescan the rest of the text for a '>'.
func TestParseReferenceLinearOnLoneAngles(t *testing.T) {
	in := func(n int) string { return strings.Repeat("<1", n/2) + ">" }
	timeIt := func(s string) time.Duration {
		best := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			if _, ok := ParseReference(s); ok {
				t.Fatal("found a reference in noise")
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	// Linear: 4× the input takes about 4× the time; quadratic, 16×. On a
	// loaded machine one measurement can be off, so a few attempts are
	// allowed and the best counts.
	var small, large time.Duration
	ratio := math.Inf(1)
	for attempt := 0; attempt < 4 && ratio >= 8; attempt++ {
		small, large = timeIt(in(256<<10)), timeIt(in(1<<20))
		ratio = min(ratio, float64(large)/float64(max(small, time.Microsecond)))
	}
	if large > time.Second {
		t.Errorf("1 MiB of %q took %v", "<1", large)
	}
	if ratio >= 8 {
		t.Errorf("4× the input took %.1f× the time (%v vs %v): not linear", ratio, large, small)
	}
	// The footer after such text is still found.
	m := testMapper(t, nil)
	if r, ok := ParseReference(in(64<<10) + m.Reference("acme", 9).String()); !ok || r.VulnID != 9 {
		t.Errorf("reference after lone '<'s: %+v %v", r, ok)
	}
}
