package faraday

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseStatusEverySpelling(t *testing.T) {
	cases := map[string]Status{
		"open": StatusOpen, "OPEN": StatusOpen, " Open ": StatusOpen,
		"opened": StatusOpen, "Opened": StatusOpen, "\tOPENED\n": StatusOpen,
		"closed": StatusClosed, "Closed": StatusClosed, " CLOSED": StatusClosed,
		"re-opened": StatusReopened, "Re-Opened": StatusReopened, " RE-OPENED ": StatusReopened,
		"risk-accepted": StatusRiskAccepted, "Risk-Accepted": StatusRiskAccepted, "RISK-ACCEPTED\r\n": StatusRiskAccepted,
	}
	for in, want := range cases {
		got, err := ParseStatus(in)
		if err != nil || got != want {
			t.Errorf("ParseStatus(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseStatusRejects(t *testing.T) {
	for _, in := range []string{"", "reopened", "re opened", "risk accepted", "Risk Accepted", "accepted", "close", "resolved", "opend"} {
		_, err := ParseStatus(in)
		if !errors.Is(err, ErrInvalidStatus) || !strings.Contains(err.Error(), `"`+in+`"`) {
			t.Errorf("ParseStatus(%q) error = %v; want ErrInvalidStatus quoting the value", in, err)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	want := map[Status]string{
		StatusOpen: `"open"`, StatusClosed: `"closed"`, StatusReopened: `"re-opened"`, StatusRiskAccepted: `"risk-accepted"`,
	}
	if len(Statuses()) != 4 {
		t.Fatalf("Statuses() = %v", Statuses())
	}
	for _, s := range Statuses() {
		b, err := json.Marshal(s)
		if err != nil || string(b) != want[s] {
			t.Errorf("Marshal(%v) = %s, %v; want %s", s, b, err, want[s])
		}
		var back Status
		if err := json.Unmarshal(b, &back); err != nil || back != s {
			t.Errorf("Unmarshal(%s) = %v, %v", b, back, err)
		}
	}
	var s Status
	if err := json.Unmarshal([]byte(`"opened"`), &s); err != nil || s != StatusOpen {
		t.Errorf("legacy opened = %v, %v", s, err)
	}
	if b, _ := json.Marshal(s); string(b) != `"open"` {
		t.Errorf("legacy opened re-marshals as %s; want \"open\"", b)
	}
	if _, err := json.Marshal(Status(0)); !errors.Is(err, ErrInvalidStatus) {
		t.Errorf("Marshal(zero) error = %v", err)
	}
	if Status(7).String() != "Status(7)" {
		t.Errorf("Status(7).String() = %q", Status(7).String())
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{"open", "opened", " Re-Opened ", "risk-accepted", "", "x", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseStatus(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidStatus) {
				t.Fatalf("error %v does not wrap ErrInvalidStatus", err)
			}
			return
		}
		back, err := ParseStatus(s.String())
		if err != nil || back != s {
			t.Fatalf("re-parse of %q = %v, %v", s.String(), back, err)
		}
	})
}
