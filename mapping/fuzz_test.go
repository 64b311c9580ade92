package mapping

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseReference(f *testing.F) {
	ref := unkeyed(Reference{Instance: "eu1", Workspace: "acme", VulnID: 42})
	f.Add("")
	f.Add(ref.String())
	f.Add("<p>Reference:&nbsp;" + strings.ReplaceAll(ref.String(), ":", "&#58;") + "</p>")
	f.Add("FRDREF:1::a:1:00000000")
	f.Add("FRDREF:FRDREF:1::acme:7:" + strings.Repeat("<a", 50))
	f.Add("x<!-- FRDREF:1::a:1:")
	f.Add(strings.Repeat("<1", 64) + ">")
	f.Add(testMapper(f, nil, WithReferenceKey(testKey)).Reference("acme", 7).String())
	f.Add("FRDREF:2::acme:7:" + strings.Repeat("0", 32))
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := ParseReference(s)
		if !ok {
			if got != (Reference{}) {
				t.Fatalf("not ok but %+v", got)
			}
		} else {
			if err := got.Validate(); err != nil {
				t.Fatalf("parsed an invalid reference %+v: %v", got, err)
			}
			if again, ok := ParseReference(got.String()); !ok || again != got {
				t.Fatalf("%+v does not round-trip: %+v %v", got, again, ok)
			}
		}
		// Whatever comes before, our footer is the one read.
		if back, ok := ParseReference(s + "<br>Reference: " + ref.String()); !ok || back != ref {
			t.Fatalf("footer after %q read as %+v, %v", s, back, ok)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	sample, err := os.ReadFile("testdata/config.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sample)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"templates":[{"name":"x","fields":[{"field":"udf_fields.a","type":"raw","json":"{"}]}]}`))
	f.Add([]byte(`{"subject":{"tag":"[{workspace}{id}"}} trailing`))
	f.Add([]byte(`{"priorities":{"med":"x","medium":"y"},"incoming":{"A":"ignore"," a ":"open"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			if c != nil {
				t.Fatal("config and error")
			}
			if !utf8.ValidString(err.Error()) && utf8.Valid(data) {
				t.Fatalf("invalid UTF-8 in error %q", err)
			}
			return
		}
		m, err := New(c)
		_ = c.Check(sampleCatalog())
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("New error is not Problems: %v", err)
			}
			for _, p := range ps {
				if p.Path == "" || p.Message == "" {
					t.Fatalf("problem without path or message: %+v", p)
				}
			}
			return
		}
		// A valid config maps a vuln and survives a JSON round trip.
		if _, err := m.Request(testVuln(), "1"); err != nil && !strings.Contains(err.Error(), "subject") {
			t.Fatalf("valid config cannot map: %v", err)
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := LoadConfig(b)
		if err != nil {
			t.Fatalf("round trip of a valid config fails: %v\n%s", err, b)
		}
		if _, err := New(c2); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseReferenceKey: no panic; an accepted key is long enough and
// encodes back to text that parses to the same bytes; errors never quote
// the input.
func FuzzParseReferenceKey(f *testing.F) {
	f.Add(EncodeReferenceKey(testKey))
	f.Add(strings.TrimRight(EncodeReferenceKey(testKey), "="))
	f.Add(" " + EncodeReferenceKey(make([]byte, 16)) + "\n")
	f.Add(EncodeReferenceKey(make([]byte, 15)))
	f.Add("%%%%")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseReferenceKey(s)
		if err != nil {
			if !errors.Is(err, ErrReferenceKey) {
				t.Fatalf("error %v does not wrap ErrReferenceKey", err)
			}
			if tr := strings.TrimSpace(s); len(tr) >= 8 && strings.Contains(err.Error(), tr) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if len(k) < MinReferenceKeyBytes {
			t.Fatalf("accepted a %d-byte key", len(k))
		}
		back, err := ParseReferenceKey(EncodeReferenceKey(k))
		if err != nil || string(back) != string(k) {
			t.Fatalf("round trip: %x, %v", back, err)
		}
	})
}
