package mapping

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReferenceString(t *testing.T) {
	r := Reference{Workspace: "acme", VulnID: 123}
	s := r.String()
	r = unkeyed(r)
	if !strings.HasPrefix(s, "FRDREF:1::acme:123:") || len(s) != len("FRDREF:1::acme:123:")+8 {
		t.Fatalf("reference = %q", s)
	}
	if got, ok := ParseReference(s); !ok || got != r {
		t.Fatalf("ParseReference(%q) = %+v, %v", s, got, ok)
	}
	for _, bad := range []Reference{{Workspace: "", VulnID: 1}, {Workspace: "a b", VulnID: 1}, {Workspace: "a", VulnID: 0}, {Instance: "x:y", Workspace: "a", VulnID: 1}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
	if (Reference{Instance: "eu-1.a_b", Workspace: "w$(x)+-_", VulnID: 1}).Validate() != nil {
		t.Error("valid reference rejected")
	}
}

func TestParseReferenceCases(t *testing.T) {
	ref := unkeyed(Reference{Instance: "eu1", Workspace: "acme", VulnID: 42})
	tok := ref.String()
	other := Reference{Workspace: "acme", VulnID: 7}.String()
	bad := strings.Replace(tok, ":42:", ":43:", 1) // wrong check
	tests := []struct {
		name string
		in   string
		want Reference
		ok   bool
	}{
		{"plain", "x " + tok, ref, true},
		{"in a paragraph", "<p>Reference: " + tok + "</p>", ref, true},
		{"entity-encoded colons", strings.ReplaceAll(tok, ":", "&#58;"), ref, true},
		{"hex entities", strings.ReplaceAll(tok, ":", "&#x3a;"), ref, true},
		{"inline tag inside", strings.Replace(tok, "acme", "ac<wbr>me", 1), ref, true},
		{"span around part", strings.Replace(tok, "eu1", "<span style=\"x\">eu1</span>", 1), ref, true},
		{"nbsp around", "Reference:&nbsp;" + tok + "&nbsp;", ref, true},
		{"last wins", other + "<br>" + tok, ref, true},
		{"look-alike after with a bad check is skipped", tok + "<br>" + bad, ref, true},
		{"only a bad check", bad, Reference{}, false},
		{"glued to a word before", "x" + tok, Reference{}, false},
		{"glued to a word after", tok + "a", Reference{}, false},
		{"block tag splits it", strings.Replace(tok, "acme", "ac<br>me", 1), Reference{}, false},
		{"truncated", tok[:len(tok)-1], Reference{}, false},
		{"empty", "", Reference{}, false},
		{"leading zero id", "FRDREF:1::a:07:00000000", Reference{}, false},
		{"other version", strings.Replace(tok, "FRDREF:1:", "FRDREF:2:", 1), Reference{}, false},
		{"comment hides nothing", "<!-- " + other + " -->" + tok, ref, true},
		{"reference in a comment is not read", tok + "<!-- " + other + " -->", ref, true},
	}
	for _, tc := range tests {
		got, ok := ParseReference(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: ParseReference(%q) = %+v, %v; want %+v, %v", tc.name, tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// wrapLikeSDP changes HTML the way a rich-text editor and SDP's storage
// may: wrap it in block tags, encode characters as entities, turn spaces
// into no-break spaces, add white space around tags.
func wrapLikeSDP(rng *rand.Rand, s string) string {
	var b strings.Builder
	b.WriteString([]string{"", "<div>", "<p style=\"margin:0\">", "<html><body>"}[rng.Intn(4)])
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		chunk := s[:size]
		s = s[size:]
		switch {
		case chunk == "<" || chunk == "&": // markup: keep, maybe pad tags
			if chunk == "<" && rng.Intn(4) == 0 {
				b.WriteString("\n")
			}
			b.WriteString(chunk)
		case chunk == " " && rng.Intn(3) == 0:
			b.WriteString([]string{"&nbsp;", "\u00a0", "&#160;", " \n "}[rng.Intn(4)])
		case r == ':' && rng.Intn(3) == 0:
			b.WriteString([]string{"&#58;", "&#x3A;", "&colon;"}[rng.Intn(3)])
		case r > 127 && r != utf8.RuneError && rng.Intn(3) == 0:
			fmt.Fprintf(&b, "&#%d;", r)
		default:
			b.WriteString(chunk)
		}
	}
	b.WriteString([]string{"", "</div>", "</p>\n", "</body></html>"}[rng.Intn(4)])
	return b.String()
}

// TestReferenceRoundTripProperty: a reference written into any description
// (random vuln text with quotes, <, &, emoji and look-alike references, up
// to 100 KB) is parsed back as written after HTML wrapping and entity
// encoding.
func TestReferenceRoundTripProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	cases := 200
	if testing.Short() {
		cases = 40
	}
	for i := range cases {
		size := rng.Intn(2000)
		if i%20 == 0 {
			size = 100 << 10
		}
		label := []string{"", "eu1", "a.b-c_d"}[rng.Intn(3)]
		ws := []string{"acme", "w$(x)+-_", "a1"}[rng.Intn(3)]
		id := rng.Int63n(1e15) + 1
		m := testMapper(t, func(c *Config) {
			c.InstanceLabel = label
			c.Description.MaxBytes = 200 << 10
		}, testKeyOption(i%2 == 0)...)
		v := testVuln()
		v.WorkspaceName, v.ID = ws, id
		v.Name = randomText(rng, 200)
		v.Desc = randomText(rng, size)
		v.Resolution = randomText(rng, size/4)
		d := m.Description(v)
		want := m.Reference(ws, id)
		if got, ok := ParseReference(d); !ok || got != want {
			t.Fatalf("case %d: plain: got %+v %v, want %+v", i, got, ok, want)
		}
		w := wrapLikeSDP(rng, d)
		if got, ok := ParseReference(w); !ok || got != want || !m.VerifyReference(got) {
			t.Fatalf("case %d: wrapped: got %+v %v, want %+v\n%s", i, got, ok, want, w[max(0, len(w)-400):])
		}
	}
}

func TestReferenceAfterCutProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	m := testMapper(t, func(c *Config) { c.Description.MaxBytes = 4096 })
	for i := range 100 {
		v := testVuln()
		v.Desc = randomText(rng, 3000+rng.Intn(20000))
		d := m.Description(v)
		if len(d) > 4096 || !utf8.ValidString(d) {
			t.Fatalf("case %d: %d bytes, valid %v", i, len(d), utf8.ValidString(d))
		}
		if got, ok := ParseReference(wrapLikeSDP(rng, d)); !ok || got.VulnID != 123 {
			t.Fatalf("case %d: %+v %v", i, got, ok)
		}
	}
}

// TestHTMLToTextIsLinear guards against quadratic scans of unclosed tags.
func TestHTMLToTextIsLinear(t *testing.T) {
	in := strings.Repeat("<a", 200_000) + strings.Repeat("&", 100_000) + strings.Repeat("<!--", 10_000)
	if _, ok := ParseReference(in); ok {
		t.Fatal("found a reference in noise")
	}
}

// unkeyed returns r with the unkeyed checksum ParseReference reads back.
func unkeyed(r Reference) Reference {
	r.MAC = r.crcCheck()
	return r
}

// testKey is a fixed reference key for tests.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// testKeyOption returns WithReferenceKey(testKey) when keyed.
func testKeyOption(keyed bool) []Option {
	if keyed {
		return []Option{WithReferenceKey(testKey)}
	}
	return nil
}
