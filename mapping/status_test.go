package mapping

import (
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
)

func TestIncomingThreeResults(t *testing.T) {
	m := testMapper(t, func(c *Config) {
		c.Incoming = map[string]string{
			"Open": "open", "Closed": "closed", "Reopened": "re-opened",
			"On Hold": "risk-accepted", "Cancelled": "Ignore",
		}
	})
	tests := []struct {
		in   string
		want Incoming
	}{
		{"Open", Incoming{Apply, faraday.StatusOpen}},
		{"  open ", Incoming{Apply, faraday.StatusOpen}},
		{"CLOSED", Incoming{Apply, faraday.StatusClosed}},
		{"reopened", Incoming{Apply, faraday.StatusReopened}},
		{"On Hold", Incoming{Apply, faraday.StatusRiskAccepted}},
		{"cancelled", Incoming{Action: Ignored}},
		// Not mapped: never a guess, even when close to a mapped name.
		{"Resolved", Incoming{}},
		{"Opened", Incoming{}},
		{"On  Hold", Incoming{}},
		{"", Incoming{}},
	}
	for _, tc := range tests {
		if got := m.Incoming(tc.in); got != tc.want {
			t.Errorf("Incoming(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if Unmapped.String() != "unmapped" || Apply.String() != "apply" || Ignored.String() != "ignored" || Action(9).String() != "Action(9)" {
		t.Error("Action strings")
	}
	if got := m.IncomingStatuses(); len(got) != 5 || got[0] != "cancelled" {
		t.Errorf("IncomingStatuses = %q", got)
	}
}

func TestOutgoingEveryStatus(t *testing.T) {
	m := testMapper(t, nil)
	want := map[faraday.Status]string{
		faraday.StatusOpen: "Open", faraday.StatusClosed: "Closed",
		faraday.StatusReopened: "Open", faraday.StatusRiskAccepted: "On Hold",
	}
	for _, st := range faraday.Statuses() {
		got, err := m.Outgoing(st)
		if err != nil || got != want[st] {
			t.Errorf("Outgoing(%s) = %q, %v", st, got, err)
		}
	}
	if _, err := m.Outgoing(0); err == nil {
		t.Error("no error for an invalid status")
	}
	if _, err := m.Priority(7); err == nil {
		t.Error("no error for an invalid severity")
	}
}

func TestSeverityOfPriority(t *testing.T) {
	m := testMapper(t, nil) // Low is shared by low, informational, unclassified
	tests := []struct {
		priority string
		want     faraday.Severity
		ok       bool
	}{
		{"Urgent", faraday.SeverityCritical, true},
		{" urgent ", faraday.SeverityCritical, true},
		{"High", faraday.SeverityHigh, true},
		{"Medium", faraday.SeverityMedium, true},
		{"Low", 0, false},    // ambiguous: three severities
		{"Normal", 0, false}, // not mapped
	}
	for _, tc := range tests {
		got, ok := m.SeverityOf(tc.priority)
		if got != tc.want || ok != tc.ok {
			t.Errorf("SeverityOf(%q) = %s, %v; want %s, %v", tc.priority, got, ok, tc.want, tc.ok)
		}
	}
	c := m.Collapsed()
	if len(c) != 1 || len(c["Low"]) != 3 || c["Low"][0] != faraday.SeverityLow {
		t.Errorf("Collapsed = %v", c)
	}
}

// TestLoopGuardAsymmetricMap: re-opened pushes "Open", but "Open" coming
// back means open. Without the echo check the echo of our own push would
// move a re-opened vuln to open.
func TestLoopGuardAsymmetricMap(t *testing.T) {
	m := testMapper(t, func(c *Config) {
		c.Outgoing["re-opened"] = "Open"
		c.Incoming = map[string]string{"Open": "open", "Closed": "closed"}
	})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	window := 2 * time.Minute

	pushed, _ := m.Outgoing(faraday.StatusReopened)
	if pushed != "Open" {
		t.Fatalf("pushed %q", pushed)
	}
	// This is what the echo would do if applied: a real change of status.
	if got := m.Incoming(pushed); got.Status != faraday.StatusOpen {
		t.Fatalf("the map is not asymmetric: %+v", got)
	}
	entry := &faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: "1", LastPushedStatus: pushed, LastPushedAt: faraday.NewTime(t0)}
	last := PushedOf(entry)

	tests := []struct {
		name     string
		incoming string
		last     Pushed
		now      time.Time
		window   time.Duration
		want     bool
	}{
		{"echo right after the push", "Open", last, t0.Add(3 * time.Second), window, true},
		{"echo, other case and space", " open ", last, t0.Add(time.Second), window, true},
		{"echo at the window's edge", "Open", last, t0.Add(window), window, true},
		{"after the window: a real change", "Open", last, t0.Add(window + time.Millisecond), window, false},
		{"clock behind the pusher's", "Open", last, t0.Add(-time.Second), window, true},
		{"far in the past", "Open", last, t0.Add(-window - time.Second), window, false},
		{"already consumed: a real change", "Open", Pushed{Status: "Open", At: t0, Consumed: true}, t0.Add(time.Second), window, false},
		{"another status", "Closed", last, t0.Add(time.Second), window, false},
		{"nothing pushed", "Open", Pushed{}, t0, window, false},
		{"no window", "Open", last, t0, 0, false},
	}
	for _, tc := range tests {
		if got := IsEcho(tc.incoming, tc.last, tc.window, tc.now); got != tc.want {
			t.Errorf("%s: IsEcho = %v, want %v", tc.name, got, tc.want)
		}
	}

	// The whole guard as a host runs it: the echo is dropped once, then
	// the same status from a person is applied.
	vuln := faraday.StatusReopened
	deliver := func(status string, now time.Time) {
		if IsEcho(status, PushedOf(entry), window, now) {
			entry.EchoConsumed = true
			return
		}
		if in := m.Incoming(status); in.Action == Apply {
			vuln = in.Status
		}
	}
	deliver("Open", t0.Add(2*time.Second))
	if vuln != faraday.StatusReopened || !entry.EchoConsumed {
		t.Fatalf("echo applied: vuln %s consumed %v", vuln, entry.EchoConsumed)
	}
	deliver("Open", t0.Add(5*time.Second))
	if vuln != faraday.StatusOpen {
		t.Fatalf("second delivery dropped: vuln %s", vuln)
	}
	if (PushedOf(nil) != Pushed{}) {
		t.Error("PushedOf(nil)")
	}
}
