package engine

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vulndesk/mesd/faraday"
)

// Outcome is what a run did with one vuln.
type Outcome string

// The outcomes.
const (
	// Created: a new ticket was made and linked.
	Created Outcome = "created"
	// Found: the vuln's ticket already existed in SDP (made by a run that
	// was cut short, or before the link store, with Reconcile) and is now
	// linked.
	Found Outcome = "found"
	// Pushed: the vuln's status was pushed to its ticket, or (incoming
	// reconcile) the ticket's status was applied to the vuln.
	Pushed Outcome = "pushed"
	// UpToDate: the vuln is linked and nothing needed doing.
	UpToDate Outcome = "up_to_date"
	// Skipped: the vuln was left out (Reason says why: not confirmed, not
	// selected, repeated in the input, its status is not exported, …).
	Skipped Outcome = "skipped"
	// Failed: the vuln could not be handled; Err says why. The others went
	// on.
	Failed Outcome = "failed"
	// NotAttempted: the run stopped (a systemic failure or cancellation)
	// before this vuln's turn.
	NotAttempted Outcome = "not_attempted"
)

// Item is the report of one vuln.
type Item struct {
	// Key names the vuln; it is zero for a record the source could not
	// read (Err holds the source's error).
	Key     faraday.VulnKey
	Outcome Outcome
	// Reason is a short explanation for Skipped, UpToDate and Pushed.
	Reason string
	// TicketID, DisplayID and URL name the linked ticket, when there is
	// one.
	TicketID  string
	DisplayID string
	URL       string
	// Status is the ServiceDesk status pushed (or, incoming, the Faraday
	// status applied).
	Status string
	// Err is why the vuln failed. A Found item may also carry a
	// servicedesk.DuplicateError listing extra tickets to close, and a
	// Created one an error matching ErrFieldDropped naming the fields the
	// ticket came back without.
	Err error
}

// Report is the result of a run: one Item per vuln seen, the counts, and
// the systemic failure that stopped the run, if any.
type Report struct {
	Items []Item
	// Counts per outcome.
	Created, Found, Pushed, UpToDate, Skipped, Failed, NotAttempted int
	// Duration is how long the run took.
	Duration time.Duration
	// Err is the failure that stopped the run early (a *SystemicError or
	// the context's error), nil when every vuln had its turn.
	Err error
}

// Progress is what the progress callback receives after each vuln.
type Progress struct {
	// Done is the number of vulns finished; Total the number expected, or
	// 0 when the source does not say (see ExportOptions.Total).
	Done, Total int
	// Counts per outcome so far.
	Created, Found, Pushed, UpToDate, Skipped, Failed int
	// Elapsed is the time since the run started; Rate the vulns finished
	// per second.
	Elapsed time.Duration
	Rate    float64
}

// SystemicError is a failure of the whole setup that stops a run once
// instead of failing every vuln alike: credentials refused, a forbidden
// call, a mandatory field SDP requires (4012), a name SDP does not know
// (4001), no SDP API at the URL, SDP unreachable, or a failing link store.
type SystemicError struct {
	// Vuln is the vuln whose turn revealed the failure.
	Vuln faraday.VulnKey
	// Err is the failure (a *servicedesk.Error, a transport or store
	// error).
	Err error
	// MandatoryFields are the fields a 4012 answer named, also learned by
	// the engine so that the next Prepare reports them.
	MandatoryFields []string
}

// Error says what stopped the run.
func (e *SystemicError) Error() string {
	msg := fmt.Sprintf("engine: run stopped at vuln %s: %v", e.Vuln, e.Err)
	if len(e.MandatoryFields) > 0 {
		msg += fmt.Sprintf(" (the template requires %v: add them to its fields in the configuration)", e.MandatoryFields)
	}
	return msg
}

// Unwrap returns the failure.
func (e *SystemicError) Unwrap() error { return e.Err }

// ErrStopped is the Err of the items a run did not reach; errors.Is also
// finds the cause it wraps.
var ErrStopped = errors.New("engine: run stopped before this vuln")

// recorder collects items and reports progress; safe for concurrent use.
type recorder struct {
	mu       sync.Mutex
	rep      *Report
	total    int
	start    time.Time
	now      func() time.Time
	progress func(Progress)
}

func newRecorder(total int, now func() time.Time, progress func(Progress)) *recorder {
	return &recorder{rep: &Report{}, total: total, start: now(), now: now, progress: progress}
}

func (r *recorder) add(it Item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := r.rep
	rep.Items = append(rep.Items, it)
	switch it.Outcome {
	case Created:
		rep.Created++
	case Found:
		rep.Found++
	case Pushed:
		rep.Pushed++
	case UpToDate:
		rep.UpToDate++
	case Skipped:
		rep.Skipped++
	case Failed:
		rep.Failed++
	case NotAttempted:
		rep.NotAttempted++
	}
	if r.progress == nil {
		return
	}
	done := len(rep.Items) - rep.NotAttempted
	el := r.now().Sub(r.start)
	p := Progress{
		Done: done, Total: r.total,
		Created: rep.Created, Found: rep.Found, Pushed: rep.Pushed, UpToDate: rep.UpToDate,
		Skipped: rep.Skipped, Failed: rep.Failed, Elapsed: el,
	}
	if el > 0 {
		p.Rate = float64(done) / el.Seconds()
	}
	r.progress(p)
}

func (r *recorder) finish(err error) *Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.Err = err
	r.rep.Duration = r.now().Sub(r.start)
	return r.rep
}
