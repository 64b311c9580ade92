package faraday

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseSeverityEverySpelling(t *testing.T) {
	cases := map[string]Severity{
		"critical": SeverityCritical, "CRITICAL": SeverityCritical, " Critical\t": SeverityCritical,
		"high": SeverityHigh, "High": SeverityHigh, "\nHIGH ": SeverityHigh,
		"medium": SeverityMedium, "Medium": SeverityMedium, "med": SeverityMedium, "MED": SeverityMedium, " Med ": SeverityMedium,
		"low": SeverityLow, "LOW": SeverityLow, "  low": SeverityLow,
		"informational": SeverityInformational, "Informational": SeverityInformational,
		"info": SeverityInformational, "INFO": SeverityInformational, "Info\r\n": SeverityInformational,
		"unclassified": SeverityUnclassified, "UNCLASSIFIED": SeverityUnclassified, " Unclassified ": SeverityUnclassified,
	}
	for in, want := range cases {
		got, err := ParseSeverity(in)
		if err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseSeverityRejects(t *testing.T) {
	for _, in := range []string{"", " ", "crit", "medi", "informative", "none", "0", "1", "Important", "information", "medium-high", "mediu m"} {
		_, err := ParseSeverity(in)
		if !errors.Is(err, ErrInvalidSeverity) {
			t.Errorf("ParseSeverity(%q) error = %v; want ErrInvalidSeverity", in, err)
			continue
		}
		if !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("ParseSeverity(%q) error %q does not quote the value", in, err)
		}
	}
	long := strings.Repeat("x", 10000)
	_, err := ParseSeverity(long)
	if err == nil || len(err.Error()) > 300 {
		t.Errorf("error for a long value is %d bytes; want it cut", len(err.Error()))
	}
}

func TestSeverityOrder(t *testing.T) {
	all := Severities()
	want := []string{"critical", "high", "medium", "low", "informational", "unclassified"}
	if len(all) != len(want) {
		t.Fatalf("Severities() has %d entries", len(all))
	}
	for i, s := range all {
		if s.String() != want[i] {
			t.Errorf("Severities()[%d] = %s; want %s", i, s, want[i])
		}
		if i > 0 && all[i-1] <= s {
			t.Errorf("%s should be greater than %s", all[i-1], s)
		}
	}
	if SeverityCritical <= SeverityHigh || SeverityHigh <= SeverityMedium || SeverityMedium <= SeverityLow ||
		SeverityLow <= SeverityInformational || SeverityInformational <= SeverityUnclassified {
		t.Error("severity constants are not ordered")
	}
}

func TestSeverityJSON(t *testing.T) {
	want := map[Severity]string{
		SeverityCritical: `"critical"`, SeverityHigh: `"high"`, SeverityMedium: `"med"`,
		SeverityLow: `"low"`, SeverityInformational: `"info"`, SeverityUnclassified: `"unclassified"`,
	}
	for s, w := range want {
		b, err := json.Marshal(s)
		if err != nil || string(b) != w {
			t.Errorf("Marshal(%s) = %s, %v; want %s", s, b, err, w)
		}
		var back Severity
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("Unmarshal(%s) = %v, %v; want %s", b, back, err, s)
		}
		// The stored name decodes too.
		if err := json.Unmarshal([]byte(`"`+s.String()+`"`), &back); err != nil || back != s {
			t.Errorf("Unmarshal(stored %s) = %v, %v", s.String(), back, err)
		}
	}
	if _, err := json.Marshal(Severity(0)); !errors.Is(err, ErrInvalidSeverity) {
		t.Errorf("Marshal(zero) error = %v; want ErrInvalidSeverity", err)
	}
	var s Severity
	err := json.Unmarshal([]byte(`"urgent"`), &s)
	if !errors.Is(err, ErrInvalidSeverity) || !strings.Contains(err.Error(), `"urgent"`) {
		t.Errorf("Unmarshal(urgent) error = %v", err)
	}
	if Severity(9).String() != "Severity(9)" || Severity(9).APIName() != "" || Severity(0).Valid() {
		t.Error("invalid severity formatting")
	}
}

func FuzzParseSeverity(f *testing.F) {
	for _, s := range []string{"critical", "med", " INFO ", "informational", "", "x", "médium", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSeverity(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidSeverity) {
				t.Fatalf("error %v does not wrap ErrInvalidSeverity", err)
			}
			return
		}
		if !s.Valid() {
			t.Fatalf("ParseSeverity(%q) = invalid %d without error", in, s)
		}
		for _, form := range []string{s.String(), s.APIName()} {
			back, err := ParseSeverity(form)
			if err != nil || back != s {
				t.Fatalf("re-parse of %q = %v, %v; want %v", form, back, err, s)
			}
		}
	})
}
