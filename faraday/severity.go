package faraday

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Severity is a vulnerability's severity. The values are ordered, so
// comparisons work as expected: SeverityCritical > SeverityHigh >
// SeverityMedium > SeverityLow > SeverityInformational > SeverityUnclassified.
// The zero value is not a severity; it marshals with an error.
type Severity int8

// The six severities Faraday stores, from lowest to highest.
const (
	SeverityUnclassified Severity = iota + 1
	SeverityInformational
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

// ErrInvalidSeverity is wrapped by every error about a severity that is not
// one of the six Faraday knows.
var ErrInvalidSeverity = errors.New("faraday: invalid severity")

// Severities returns the six severities from highest to lowest.
func Severities() []Severity {
	return []Severity{SeverityCritical, SeverityHigh, SeverityMedium, SeverityLow, SeverityInformational, SeverityUnclassified}
}

var severityNames = [...]string{"", "unclassified", "informational", "low", "medium", "high", "critical"}

// String returns the name Faraday stores in its database ("medium",
// "informational", ...); it is also the value the JSON filter language
// expects. An invalid severity prints as "Severity(n)".
func (s Severity) String() string {
	if !s.Valid() {
		return "Severity(" + strconv.Itoa(int(s)) + ")"
	}
	return severityNames[s]
}

// APIName returns the name the REST API writes: "med" for medium, "info" for
// informational, the stored name for the others. It returns "" for an
// invalid severity.
func (s Severity) APIName() string {
	switch s {
	case SeverityMedium:
		return "med"
	case SeverityInformational:
		return "info"
	}
	if !s.Valid() {
		return ""
	}
	return severityNames[s]
}

// Valid reports whether s is one of the six severities.
func (s Severity) Valid() bool { return s >= SeverityUnclassified && s <= SeverityCritical }

// ParseSeverity reads a severity from a stored name ("medium",
// "informational", ...) or an API short form ("med", "info"), in any case and
// with surrounding white space. Anything else is an error wrapping
// ErrInvalidSeverity that quotes the value.
func ParseSeverity(text string) (Severity, error) {
	v := strings.ToLower(strings.TrimSpace(text))
	switch v {
	case "med":
		return SeverityMedium, nil
	case "info":
		return SeverityInformational, nil
	}
	for i := SeverityUnclassified; i <= SeverityCritical; i++ {
		if severityNames[i] == v {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w %s (want critical, high, medium or med, low, informational or info, unclassified)", ErrInvalidSeverity, quoteValue(text))
}

// MarshalText writes the API form (see APIName); it fails for an invalid
// severity. JSON uses it, so a Severity marshals as the API writes it.
func (s Severity) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("%w: cannot marshal %s", ErrInvalidSeverity, s)
	}
	return []byte(s.APIName()), nil
}

// UnmarshalText parses text with ParseSeverity.
func (s *Severity) UnmarshalText(text []byte) error {
	v, err := ParseSeverity(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// quoteValue quotes an outside value for an error message, cut to a length
// that keeps messages readable whatever the input.
func quoteValue(s string) string {
	const limit = 64
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	cut := limit
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
