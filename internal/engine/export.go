package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
)

// ExportOptions select the vulns of an export and say what to do with
// linked ones. The zero value (or nil) exports every confirmed vuln whose
// status is open or re-opened and leaves linked vulns alone.
type ExportOptions struct {
	// IDs, when set, keeps only the vulns with these ids (in any
	// workspace).
	IDs []int64
	// MinSeverity, when set, keeps only vulns of this severity or higher.
	MinSeverity faraday.Severity
	// Statuses, when set, keeps only vulns with one of these statuses, and
	// makes tickets for vulns of any of them. When empty, every status is
	// kept for linked vulns (see PushStatus) but tickets are made only for
	// open and re-opened vulns: a ticket is work to do, and a closed vuln
	// asks for none.
	Statuses []faraday.Status
	// PushStatus pushes the status of linked vulns to their tickets where
	// it differs (see Engine.Export).
	PushStatus bool
	// Reconcile searches SDP for each unlinked vuln's tag before creating
	// its ticket, for a new link store against an SDP that already holds
	// tickets made by an earlier setup. It costs one search per vuln.
	Reconcile bool
	// Total is the number of vulns the source will yield, when known; it
	// is passed on in Progress.
	Total int
	// Progress, when set, is called after each vuln, one call at a time
	// (from the engine's workers; keep it short).
	Progress func(Progress)
}

// Export works through vulns: unconfirmed and unselected vulns are skipped;
// a vuln without a link gets a ticket (pending intent, create, link); a
// vuln whose pending intent an earlier run left gets its ticket through
// CreateOnce, which finds it if the earlier run made it; a linked vuln is
// left alone or, with PushStatus, gets its status pushed. Up to
// Config.Concurrency vulns are worked on at once.
//
// The source may be any iterator: faraday's Vulns.All, the CSV export
// reader's records, a slice. Its errors are recorded as failed items and
// the run goes on (a malformed CSV row does not stop an export); a
// source that ends on an error (a Faraday client's failing page) makes
// that error, wrapped, the run's error. Vulns may be used after the
// iterator has moved on: a source must not reuse them.
//
// Export returns the report of every vuln seen, and an error when the run
// stopped early: a *SystemicError (also in Report.Err), or the context's
// error. The source is not read past a stop; vulns already handed to a
// worker but not begun are NotAttempted. After a stop, the
// link store is consistent: a ticket whose create was answered is linked,
// and one whose answer was lost is found by the next run. Export needs
// Prepare to have succeeded. Two runs exporting the same vulns at the same
// time through one link store are guarded against each other only with
// Config.PendingGrace: without it, the pending intent of one looks like a
// crashed run's to the other.
func (e *Engine) Export(ctx context.Context, vulns iter.Seq2[*faraday.Vuln, error], opts *ExportOptions) (*Report, error) {
	p := e.state()
	if p == nil {
		return nil, ErrNotPrepared
	}
	if opts == nil {
		opts = &ExportOptions{}
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	sel := newSelection(opts)
	rec := newRecorder(opts.Total, e.now, opts.Progress)
	r := &run{e: e, p: p, opts: opts, sel: sel, rec: rec}

	jobs := make(chan *faraday.Vuln)
	var wg sync.WaitGroup
	for range e.cfg.Concurrency {
		wg.Go(func() {
			for v := range jobs {
				if r.stopped() || ctx.Err() != nil {
					rec.add(r.notAttempted(vulnKey(v)))
					continue
				}
				rec.add(r.export(ctx, v))
			}
		})
	}
	var src sourceErr
	for key, v := range distinct(ctx, vulns, rec, &src, sel.skip) {
		if r.stopped() || ctx.Err() != nil {
			rec.add(r.notAttempted(key))
			break
		}
		select {
		case jobs <- v:
		case <-ctx.Done():
			rec.add(r.notAttempted(key))
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(jobs)
	wg.Wait()
	return r.end(ctx, &src)
}

// end returns the report and the run's error: the systemic stop, else the
// context's error, else the source's final error.
func (r *run) end(ctx context.Context, src *sourceErr) (*Report, error) {
	err := r.stopErr()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && src.last != nil {
		err = fmt.Errorf("engine: the vuln source failed: %w", src.last)
	}
	return r.rec.finish(err), err
}

// distinct yields the vulns of a source, each key once, in order. A read
// error is recorded as a failed item (and remembered in src), a vuln skip
// names a reason for as skipped (skip may be nil), a repeated key as
// skipped; the reading stops when ctx ends.
func distinct(ctx context.Context, vulns iter.Seq2[*faraday.Vuln, error], rec *recorder, src *sourceErr,
	skip func(*faraday.Vuln) string) iter.Seq2[faraday.VulnKey, *faraday.Vuln] {
	return func(yield func(faraday.VulnKey, *faraday.Vuln) bool) {
		seen := make(map[faraday.VulnKey]struct{})
		for v, err := range vulns {
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				src.saw(err)
				rec.add(Item{Outcome: Failed, Reason: "the source could not read a vuln", Err: err})
				continue
			}
			src.saw(nil)
			if v == nil {
				continue
			}
			key := vulnKey(v)
			if skip != nil {
				if reason := skip(v); reason != "" {
					rec.add(Item{Key: key, Outcome: Skipped, Reason: reason})
					continue
				}
			}
			if _, dup := seen[key]; dup {
				rec.add(Item{Key: key, Outcome: Skipped, Reason: "repeated in the input"})
				continue
			}
			seen[key] = struct{}{}
			if !yield(key, v) {
				return
			}
		}
	}
}

// sourceErr remembers whether the source's last yield was an error other
// than a malformed CSV row (after which the reader goes on): a source that
// ends on one has failed.
type sourceErr struct{ last error }

func (s *sourceErr) saw(err error) {
	if err != nil && errors.Is(err, faraday.ErrInvalidExport) {
		err = nil
	}
	s.last = err
}

// validate reports every option that cannot select anything.
func (o *ExportOptions) validate() error {
	var bad []string
	if o.MinSeverity != 0 && !o.MinSeverity.Valid() {
		bad = append(bad, fmt.Sprintf("MinSeverity %d is not a severity", o.MinSeverity))
	}
	for i, st := range o.Statuses {
		if !st.Valid() {
			bad = append(bad, fmt.Sprintf("Statuses[%d] %d is not a status", i, st))
		}
	}
	for i, id := range o.IDs {
		if id <= 0 {
			bad = append(bad, fmt.Sprintf("IDs[%d] %d is not a vuln id", i, id))
		}
	}
	if o.Total < 0 {
		bad = append(bad, fmt.Sprintf("Total %d is negative", o.Total))
	}
	if len(bad) > 0 {
		return fmt.Errorf("engine: invalid export options: %s", strings.Join(bad, "; "))
	}
	return nil
}

// selection applies ExportOptions' filters.
type selection struct {
	ids      map[int64]bool
	min      faraday.Severity
	statuses map[faraday.Status]bool
}

func newSelection(o *ExportOptions) *selection {
	s := &selection{min: o.MinSeverity}
	if len(o.IDs) > 0 {
		s.ids = make(map[int64]bool, len(o.IDs))
		for _, id := range o.IDs {
			s.ids[id] = true
		}
	}
	if len(o.Statuses) > 0 {
		s.statuses = make(map[faraday.Status]bool, len(o.Statuses))
		for _, st := range o.Statuses {
			s.statuses[st] = true
		}
	}
	return s
}

func (s *selection) skip(v *faraday.Vuln) string {
	switch {
	case !v.Confirmed:
		return "not confirmed"
	case s.ids != nil && !s.ids[v.ID]:
		return "not among the selected ids"
	case s.min.Valid() && v.Severity < s.min:
		return fmt.Sprintf("severity %s is below %s", v.Severity, s.min)
	case s.statuses != nil && !s.statuses[v.Status]:
		return fmt.Sprintf("status %s is not selected", v.Status)
	}
	return ""
}

// creates reports whether a ticket is made for an unlinked vuln.
func (s *selection) creates(v *faraday.Vuln) bool {
	if s.statuses != nil {
		return true
	}
	return v.Status == faraday.StatusOpen || v.Status == faraday.StatusReopened
}

func vulnKey(v *faraday.Vuln) faraday.VulnKey {
	return faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID}
}

// run is one Export or reconcile.
type run struct {
	e    *Engine
	p    *prepared
	opts *ExportOptions
	sel  *selection
	rec  *recorder

	stop     atomic.Bool
	stopOnce sync.Once
	stopWith error
}

func (r *run) stopped() bool { return r.stop.Load() }

// export handles one selected vuln.
func (r *run) export(ctx context.Context, v *faraday.Vuln) Item {
	e := r.e
	key := vulnKey(v)
	link, err := e.cfg.Links.Get(ctx, key)
	switch {
	case errors.Is(err, faraday.ErrLinkNotFound):
		if !r.sel.creates(v) {
			return Item{Key: key, Outcome: Skipped, Reason: fmt.Sprintf("no ticket is made for a %s vuln", v.Status)}
		}
		return r.create(ctx, v, key)
	case err != nil:
		return r.failed(key, Item{}, fmt.Errorf("reading the link: %w", err), opStore)
	}
	switch link.State {
	case faraday.LinkPending:
		if g := e.cfg.PendingGrace; g > 0 && e.now().Sub(link.CreatedAt.Time) < g {
			return Item{Key: key, Outcome: Skipped, Reason: fmt.Sprintf(
				"another run is creating its ticket (pending since %s)", link.CreatedAt.UTC().Format(time.RFC3339))}
		}
		return r.finishPending(ctx, v, link)
	case faraday.LinkLinked:
		if r.opts.PushStatus {
			return r.push(ctx, v, link)
		}
		return linkedItem(link, UpToDate, "linked")
	}
	return r.failed(key, Item{}, fmt.Errorf("%w: link state %q", faraday.ErrInvalidLink, link.State), opTicket)
}

func linkedItem(l faraday.Link, o Outcome, reason string) Item {
	return Item{Key: l.Key, Outcome: o, Reason: reason, TicketID: l.RequestID, DisplayID: l.DisplayID, URL: l.URL}
}

// wait takes a token of the engine's write limiter.
func (r *run) wait(ctx context.Context) error {
	if r.e.limiter == nil {
		return nil
	}
	return r.e.limiter.Wait(ctx)
}

// create writes the pending intent, creates the ticket and links it.
func (r *run) create(ctx context.Context, v *faraday.Vuln, key faraday.VulnKey) Item {
	e, m := r.e, r.p.mapper
	in, err := m.Request(v, r.p.requesterID)
	if err != nil {
		return r.failed(key, Item{}, err, opTicket)
	}
	tag, err := m.Tag(key.Workspace, key.VulnID)
	if err != nil {
		return r.failed(key, Item{}, err, opTicket)
	}
	pending := faraday.Link{Key: key, ServiceDeskEntry: faraday.ServiceDeskEntry{
		State: faraday.LinkPending, Tag: tag, CreatedAt: faraday.NewTime(e.now()),
	}}
	pl, err := e.cfg.Links.CompareAndSet(ctx, pending, 0)
	if errors.Is(err, faraday.ErrConflict) {
		// Another writer made the link since we read it: decide again.
		return r.export(ctx, v)
	}
	if err != nil {
		return r.failed(key, Item{}, fmt.Errorf("writing the pending intent: %w", err), opStore)
	}
	if r.opts.Reconcile {
		return r.createOnce(ctx, v, pl, in)
	}
	if err := r.wait(ctx); err != nil {
		r.dropPending(ctx, pl)
		return r.failed(key, Item{}, err, opCreate)
	}
	req, err := e.cfg.SDP.Requests.Create(ctx, in)
	if err != nil {
		if definite(err) {
			r.dropPending(ctx, pl)
		}
		r.learn(in, err)
		return r.failed(key, Item{}, fmt.Errorf("creating the ticket: %w", err), opCreate)
	}
	return r.link(ctx, v, pl, req, Created, r.dropped(key, in, req))
}

// createOnce finishes a pending intent: it finds the ticket by its tag or
// creates it.
func (r *run) createOnce(ctx context.Context, v *faraday.Vuln, pl faraday.Link, in *servicedesk.RequestInput) Item {
	key := pl.Key
	if err := r.wait(ctx); err != nil {
		return r.failed(key, Item{}, err, opCreate)
	}
	req, created, err := r.e.cfg.SDP.Requests.CreateOnce(ctx, pl.Tag, in)
	var dup *servicedesk.DuplicateError
	var note error
	switch {
	case errors.As(err, &dup) && req != nil:
		note = err
	case err != nil:
		r.learn(in, err)
		return r.failed(key, Item{}, fmt.Errorf("finding or creating the ticket: %w", err), opCreate)
	}
	o := Found
	if created {
		o, note = Created, r.dropped(key, in, req)
	}
	return r.link(ctx, v, pl, req, o, note)
}

// finishPending handles a vuln whose pending intent an earlier run left.
func (r *run) finishPending(ctx context.Context, v *faraday.Vuln, pl faraday.Link) Item {
	m := r.p.mapper
	in, err := m.Request(v, r.p.requesterID)
	if err != nil {
		return r.failed(pl.Key, Item{}, err, opTicket)
	}
	tag, err := m.Tag(pl.Key.Workspace, pl.Key.VulnID)
	if err != nil {
		return r.failed(pl.Key, Item{}, err, opTicket)
	}
	if tag != pl.Tag {
		// The tag format changed since the intent was written: look for a
		// ticket under the old tag first, then carry on with the new one.
		if err := r.wait(ctx); err != nil {
			return r.failed(pl.Key, Item{}, err, opCreate)
		}
		found, err := r.e.cfg.SDP.Requests.FindByTag(ctx, pl.Tag)
		if err != nil {
			return r.failed(pl.Key, Item{}, fmt.Errorf("searching for the ticket: %w", err), opCreate)
		}
		if len(found) > 0 {
			var note error
			if len(found) > 1 {
				ids := make([]servicedesk.ID, 0, len(found)-1)
				for _, f := range found[1:] {
					ids = append(ids, f.ID)
				}
				note = &servicedesk.DuplicateError{Tag: pl.Tag, Kept: found[0].ID, Duplicates: ids}
			}
			return r.link(ctx, v, pl, found[0], Found, note)
		}
		next := pl.Clone()
		next.Tag = tag
		nl, err := r.e.cfg.Links.CompareAndSet(ctx, next, pl.Revision)
		if errors.Is(err, faraday.ErrConflict) {
			return r.export(ctx, v)
		}
		if err != nil {
			return r.failed(pl.Key, Item{}, fmt.Errorf("rewriting the pending intent: %w", err), opStore)
		}
		pl = nl
	}
	if r.e.cfg.PendingGrace > 0 {
		// Take the stale intent over before finishing it: of several
		// exporters that find it stale at once, one wins this
		// compare-and-set and the others then see a fresh intent and leave
		// it to the winner, instead of each creating the ticket.
		next := pl.Clone()
		next.CreatedAt = faraday.NewTime(r.e.now())
		nl, err := r.e.cfg.Links.CompareAndSet(ctx, next, pl.Revision)
		if errors.Is(err, faraday.ErrConflict) {
			return r.export(ctx, v)
		}
		if err != nil {
			return r.failed(pl.Key, Item{}, fmt.Errorf("taking over the pending intent: %w", err), opStore)
		}
		pl = nl
	}
	return r.createOnce(ctx, v, pl, in)
}

// link turns the pending intent into the linked entry. The write is not
// cancelled with ctx: the ticket exists, so the link must be kept.
func (r *run) link(ctx context.Context, v *faraday.Vuln, pl faraday.Link, req *servicedesk.Request, o Outcome, note error) Item {
	e := r.e
	wctx := context.WithoutCancel(ctx)
	url, err := e.cfg.SDP.RequestURL(req.ID)
	if err != nil {
		url = ""
	}
	entry, err := r.p.mapper.TrackerEntry(v, req, url, e.now())
	if err != nil {
		return r.failed(pl.Key, Item{TicketID: string(req.ID)}, fmt.Errorf("recording the ticket: %w", err), opTicket)
	}
	entry.Tag = pl.Tag
	errGone := errors.New("the pending intent was replaced")
	l, err := faraday.UpdateLink(wctx, e.cfg.Links, pl.Key, 0, func(l *faraday.Link) error {
		if l.Revision == 0 || l.State != faraday.LinkPending || l.Tag != pl.Tag {
			return errGone
		}
		l.ServiceDeskEntry = *entry
		return nil
	})
	if err != nil {
		op := opStore
		if errors.Is(err, errGone) {
			op = opTicket
		}
		return r.failed(pl.Key, Item{TicketID: string(req.ID)}, fmt.Errorf("linking ticket %s: %w", req.ID, err), op)
	}
	it := linkedItem(l, o, "")
	it.Status = l.LastPushedStatus
	it.Err = note
	return it
}

// dropPending removes an intent whose create SDP certainly refused, so the
// next run creates without a search.
func (r *run) dropPending(ctx context.Context, pl faraday.Link) {
	err := r.e.cfg.Links.Delete(context.WithoutCancel(ctx), pl.Key, pl.Revision)
	if err != nil && !errors.Is(err, faraday.ErrConflict) && !errors.Is(err, faraday.ErrLinkNotFound) {
		r.e.cfg.Logger.Warn("engine: could not drop a pending intent; the next run will search for it",
			slog.String("vuln", pl.Key.String()), slog.String("error", err.Error()))
	}
}

// learn records the mandatory fields a 4012 answer named for the request's
// template, so that the next Prepare reports them.
func (r *run) learn(in *servicedesk.RequestInput, err error) {
	if !errors.Is(err, servicedesk.ErrMandatoryField) || in.Template == nil {
		return
	}
	for _, k := range []string{string(in.Template.ID), in.Template.Name} {
		if k != "" {
			r.e.learned.Learn(servicedesk.ID(k), err)
		}
	}
}

// knownStatus is the ticket's status as the link knows it: the later of
// the last push and the last incoming change applied.
func knownStatus(l *faraday.Link) string {
	st, at := l.LastPushedStatus, l.LastPushedAt.Time
	// A claim (a change being applied, or whose applier died) is not known
	// to have taken effect.
	if li := l.LastIncoming; li != nil && li.Status != "" && !strings.HasPrefix(li.ChangeID, claimPrefix) && (st == "" || !li.At.Before(at)) {
		st = li.Status
	}
	return st
}

// satisfied reports whether an SDP status already stands for the vuln's
// status: it is the outgoing status, or it maps back to the vuln's status.
func satisfied(m *mapping.Mapper, sdpStatus string, s faraday.Status) bool {
	if sdpStatus == "" {
		return false
	}
	if want, err := m.Outgoing(s); err == nil && sameStatus(want, sdpStatus) {
		return true
	}
	in := m.Incoming(sdpStatus)
	return in.Action == mapping.Apply && in.Status == s
}

// FromExport turns the records of faraday's CSV export reader
// (ExportReader.All) into the source Export takes. A malformed row reaches
// the run as its *faraday.RowError, recorded as a failed item, and the
// reading goes on.
func FromExport(records iter.Seq2[*faraday.ExportRecord, error]) iter.Seq2[*faraday.Vuln, error] {
	return func(yield func(*faraday.Vuln, error) bool) {
		for rec, err := range records {
			var v *faraday.Vuln
			if rec != nil {
				v = rec.Vuln
			}
			if !yield(v, err) {
				return
			}
		}
	}
}
