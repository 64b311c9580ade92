package mapping

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vulndesk/mesd/faraday"
)

// Action is what an incoming ServiceDesk status asks for.
type Action int8

// The three results of an incoming status: never a guess.
const (
	// Unmapped: the status is not in the incoming map. Nothing is
	// applied; the caller reports it.
	Unmapped Action = iota
	// Apply: set the vuln to Incoming.Status.
	Apply
	// Ignored: the map says "ignore"; the change is discarded.
	Ignored
)

// String returns "unmapped", "apply" or "ignored".
func (a Action) String() string {
	switch a {
	case Unmapped:
		return "unmapped"
	case Apply:
		return "apply"
	case Ignored:
		return "ignored"
	}
	return fmt.Sprintf("Action(%d)", int8(a))
}

// Incoming is the result of an incoming status: an Action and, for Apply,
// the Faraday status.
type Incoming struct {
	Action Action
	Status faraday.Status
}

// Incoming looks an incoming ServiceDesk status name up in the incoming
// map, without case and surrounding white space.
func (m *Mapper) Incoming(sdpStatus string) Incoming {
	return m.incoming[normName(sdpStatus)]
}

// Outgoing returns the ServiceDesk status name pushed for a Faraday status.
func (m *Mapper) Outgoing(s faraday.Status) (string, error) {
	if !s.Valid() {
		return "", fmt.Errorf("mapping: %w: %s", faraday.ErrInvalidStatus, s)
	}
	return m.outgoing[s], nil
}

// Priority returns the ServiceDesk priority name of a severity.
func (m *Mapper) Priority(s faraday.Severity) (string, error) {
	if !s.Valid() {
		return "", fmt.Errorf("mapping: %w: %s", faraday.ErrInvalidSeverity, s)
	}
	return m.priority[s], nil
}

// SeverityOf returns the severity whose priority is name (compared without
// case and surrounding space) when exactly one severity maps to it. ok is
// false when none does, or when several do (Critical and High both on
// "High"): the reverse lookup never guesses.
func (m *Mapper) SeverityOf(priority string) (sev faraday.Severity, ok bool) {
	n := normName(priority)
	for _, s := range faraday.Severities() {
		if normName(m.priority[s]) == n {
			if ok {
				return 0, false
			}
			sev, ok = s, true
		}
	}
	return sev, ok
}

// Collapsed returns, for each priority that several severities share, the
// severities (highest first), so a UI can warn that they collapse. Such a
// mapping is allowed.
func (m *Mapper) Collapsed() map[string][]faraday.Severity {
	by := map[string][]faraday.Severity{}
	for _, s := range faraday.Severities() {
		by[m.priority[s]] = append(by[m.priority[s]], s)
	}
	for k, v := range by {
		if len(v) < 2 {
			delete(by, k)
		}
	}
	return by
}

// IncomingStatuses returns the ServiceDesk statuses of the incoming map
// (normalised: lower case, trimmed), sorted.
func (m *Mapper) IncomingStatuses() []string {
	out := make([]string, 0, len(m.incoming))
	for k := range m.incoming {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Pushed is what was last pushed to a ticket, as the link keeps it.
type Pushed struct {
	// Status is the ServiceDesk status name last pushed.
	Status string
	// At is when it was pushed.
	At time.Time
	// Consumed is set once its echo has been recognised.
	Consumed bool
}

// PushedOf returns what the link entry says was last pushed.
func PushedOf(e *faraday.ServiceDeskEntry) Pushed {
	if e == nil {
		return Pushed{}
	}
	return Pushed{Status: e.LastPushedStatus, At: e.LastPushedAt.Time, Consumed: e.EchoConsumed}
}

// IsEcho reports whether an incoming status is the echo of our own last
// push to the ticket: the same name (without case and surrounding space),
// not yet consumed, and at most window away from the push (either way, to
// tolerate clocks that disagree). The caller drops an echo and marks it
// consumed, so a later real change to the same status is applied. A zero
// or negative window, an empty last status or a zero push time never match.
func IsEcho(incoming string, last Pushed, window time.Duration, now time.Time) bool {
	if window <= 0 || last.Consumed || last.At.IsZero() || strings.TrimSpace(last.Status) == "" {
		return false
	}
	if normName(incoming) != normName(last.Status) {
		return false
	}
	age := now.Sub(last.At)
	return age <= window && age >= -window
}
