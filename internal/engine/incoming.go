package engine

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
)

// VulnStatuses reads and sets the status of Faraday vulns. The webhook
// package's VulnStore has this shape (webhook.ClientVulnStore over the
// REST API, webhook.MemoryVulnStore), so one value serves both.
type VulnStatuses interface {
	Status(ctx context.Context, key faraday.VulnKey) (faraday.Status, error)
	SetStatus(ctx context.Context, key faraday.VulnKey, status faraday.Status) error
}

// ReconcileOptions tune ReconcileIncoming.
type ReconcileOptions struct {
	// Total is the number of vulns the source will yield, when known.
	Total int
	// Progress, when set, is called after each vuln, one call at a time.
	Progress func(Progress)
}

// claimPrefix marks an incoming change being applied. It is the webhook
// handler's convention: a change claimed under it, fresh and for the same
// status, is not applied a second time by either path.
const claimPrefix = "claim:"

// ReconcileIncoming catches the ticket status changes whose webhook
// delivery was missed. For the linked vulns among vulns it reads their
// tickets from SDP a page (100 tickets) at a time and compares each
// ticket's status with the one the link last knew (pushed or received):
//
//   - the same: nothing was missed (UpToDate);
//   - different, and the ticket was last updated before our last push
//     (by more than Config.ClockSkew): the push never reached the ticket,
//     and it is sent again (Pushed); updated within the clock skew of the
//     push: the vuln fails with ErrAmbiguousChange and nothing is changed;
//   - different otherwise: the incoming map decides. An Ignore or unmapped
//     status is Skipped; a mapped one is applied to the vuln through
//     statuses (Pushed, with Status the Faraday status) unless the vuln has
//     it already (UpToDate).
//
// A change is applied under the link's compare-and-set with the webhook
// handler's claim protocol (LastIncoming holds a claim while the vuln is
// set, then the change's id), so whichever of the webhook and the
// reconcile sees a change first applies it, and the other sees it done or
// in progress. A ticket SDP no longer has fails its vuln alone. The report
// and the error are as Export's.
func (e *Engine) ReconcileIncoming(ctx context.Context, vulns iter.Seq2[*faraday.Vuln, error], statuses VulnStatuses, opts *ReconcileOptions) (*Report, error) {
	p := e.state()
	if p == nil {
		return nil, ErrNotPrepared
	}
	if statuses == nil {
		return nil, errors.New("engine: ReconcileIncoming needs the vuln statuses")
	}
	if opts == nil {
		opts = &ReconcileOptions{}
	}
	rec := newRecorder(opts.Total, e.now, opts.Progress)
	r := &run{e: e, p: p, opts: &ExportOptions{}, sel: &selection{}, rec: rec}
	batch := make([]faraday.Link, 0, servicedesk.MaxRowCount)
	flush := func() {
		if len(batch) > 0 && !r.stopped() {
			r.reconcileBatch(ctx, batch, statuses)
		} else {
			for _, l := range batch {
				rec.add(r.notAttempted(l.Key))
			}
		}
		batch = batch[:0]
	}
	var src sourceErr
	for key := range distinct(ctx, vulns, rec, &src, nil) {
		if r.stopped() || ctx.Err() != nil {
			rec.add(r.notAttempted(key))
			break
		}
		l, err := e.cfg.Links.Get(ctx, key)
		switch {
		case errors.Is(err, faraday.ErrLinkNotFound):
			rec.add(Item{Key: key, Outcome: Skipped, Reason: "no ticket"})
			continue
		case err != nil:
			rec.add(r.failed(key, Item{}, fmt.Errorf("reading the link: %w", err), opStore))
			continue
		case l.State != faraday.LinkLinked:
			rec.add(Item{Key: key, Outcome: Skipped, Reason: "the ticket's creation is not finished (run Export)"})
			continue
		}
		batch = append(batch, l)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	return r.end(ctx, &src)
}

// reconcileBatch reads one page of tickets and reconciles each.
func (r *run) reconcileBatch(ctx context.Context, batch []faraday.Link, statuses VulnStatuses) {
	ids := make([]string, len(batch))
	for i, l := range batch {
		ids[i] = l.RequestID
	}
	opts := &servicedesk.ListOptions{
		RowCount:       servicedesk.MaxRowCount,
		SearchCriteria: []servicedesk.Criterion{{Field: "id", Condition: servicedesk.Is, Values: ids}},
	}
	tickets := make(map[string]*servicedesk.Request, len(batch))
	for req, err := range r.e.cfg.SDP.Requests.All(ctx, opts) {
		if err != nil {
			for _, l := range batch {
				r.rec.add(r.failed(l.Key, linkedItem(l, Failed, ""), fmt.Errorf("reading the tickets: %w", err), opCreate))
			}
			return
		}
		tickets[string(req.ID)] = req
	}
	for _, l := range batch {
		if r.stopped() {
			r.rec.add(r.notAttempted(l.Key))
			continue
		}
		req, ok := tickets[l.RequestID]
		if !ok {
			r.rec.add(r.failed(l.Key, linkedItem(l, Failed, ""),
				fmt.Errorf("ticket %s is not in ServiceDesk (deleted?): %w", l.RequestID, servicedesk.ErrNotFound), opTicket))
			continue
		}
		r.rec.add(r.reconcileTicket(ctx, l, req, statuses))
	}
}

// reconcileTicket compares one ticket with its link and applies what was
// missed.
func (r *run) reconcileTicket(ctx context.Context, l faraday.Link, req *servicedesk.Request, statuses VulnStatuses) Item {
	e, m := r.e, r.p.mapper
	if req.Status == nil || req.Status.Name == "" {
		return r.failed(l.Key, linkedItem(l, Failed, ""), fmt.Errorf("ticket %s has no status", l.RequestID), opTicket)
	}
	sdp := req.Status.Name
	// List rows may lack last_updated_time (SDP's do): it is read with
	// one Get, and only for a ticket whose status differs from the link's
	// after a push the ticket may not have received.
	var updated time.Time
	if req.LastUpdatedTime != nil && req.LastUpdatedTime.Millis > 0 {
		updated = req.LastUpdatedTime.Time()
	}
	changeID := "reconcile:" + l.RequestID + ":" + strconv.FormatInt(e.now().UnixMilli(), 10)
	for attempt := 0; attempt < 16; attempt++ {
		if attempt > 0 {
			var err error
			if l, err = e.cfg.Links.Get(ctx, l.Key); err != nil {
				return r.failed(l.Key, Item{TicketID: string(req.ID)}, fmt.Errorf("reading the link: %w", err), opStore)
			}
			if l.State != faraday.LinkLinked || l.RequestID != string(req.ID) {
				return linkedItem(l, Skipped, "the link changed meanwhile")
			}
		}
		known := knownStatus(&l)
		if sameStatus(known, sdp) {
			it := linkedItem(l, UpToDate, "")
			it.Status = sdp
			return it
		}
		now := e.now()
		if li := l.LastIncoming; li != nil && strings.HasPrefix(li.ChangeID, claimPrefix) && now.Sub(li.At.Time) < e.cfg.ClaimTimeout {
			return linkedItem(l, UpToDate, "a webhook delivery is applying a change to this vuln")
		}
		if updated.IsZero() && r.pushInDoubt(&l) {
			full, err := e.cfg.SDP.Requests.Get(ctx, req.ID)
			if err != nil {
				return r.failed(l.Key, linkedItem(l, Failed, ""), fmt.Errorf("reading ticket %s: %w", req.ID, err), opTicket)
			}
			switch {
			case full.LastUpdatedTime != nil && full.LastUpdatedTime.Millis > 0:
				updated = full.LastUpdatedTime.Time()
			case full.CreatedTime != nil && full.CreatedTime.Millis > 0:
				updated = full.CreatedTime.Time() // never edited since its creation
			default:
				return r.failed(l.Key, linkedItem(l, Failed, ""), fmt.Errorf(
					"%w: ticket %s says %q, has no last-updated or created time, and we pushed %q to it", ErrAmbiguousChange, req.ID, sdp, l.LastPushedStatus), opTicket)
			}
			if full.Status != nil && full.Status.Name != "" {
				sdp = full.Status.Name
			}
			continue
		}
		if lost, ambiguous := r.lostPush(&l, updated); lost {
			// The ticket has not changed since before our last push, yet
			// does not have its status: the push never arrived. Send the
			// vuln's status as it is now.
			want := l.LastPushedStatus
			if cur, err := statuses.Status(ctx, l.Key); err == nil {
				if w, err := m.Outgoing(cur); err == nil {
					want = w
				}
			}
			if sameStatus(want, sdp) {
				// The vuln went back to the status the ticket kept: record
				// that the ticket has it, with no echo to wait for.
				nl, err := faraday.UpdateLink(ctx, e.cfg.Links, l.Key, 0, func(x *faraday.Link) error {
					x.LastPushedStatus, x.LastPushedAt, x.EchoConsumed = sdp, faraday.NewTime(now), true
					return nil
				})
				if err != nil {
					return r.failed(l.Key, linkedItem(l, Failed, ""), fmt.Errorf("recording the ticket's status: %w", err), opStore)
				}
				return linkedItem(nl, UpToDate, fmt.Sprintf("the ticket's status %q is the vuln's again", sdp))
			}
			return r.pushStatus(ctx, l, want, "re-sent a push the ticket did not receive")
		} else if ambiguous {
			if in := m.Incoming(sdp); in.Action == mapping.Apply {
				if cur, err := statuses.Status(ctx, l.Key); err == nil && cur == in.Status {
					return linkedItem(l, UpToDate, fmt.Sprintf("the vuln is already %s", cur))
				}
			}
			return r.failed(l.Key, linkedItem(l, Failed, ""), fmt.Errorf(
				"%w: ticket %s says %q, last updated %s, and we pushed %q at %s: within the clock skew (%s), so whether the push was lost or overridden in ServiceDesk cannot be told; set the status by hand",
				ErrAmbiguousChange, l.RequestID, sdp, updated.UTC().Format(time.RFC3339Nano), l.LastPushedStatus,
				l.LastPushedAt.UTC().Format(time.RFC3339Nano), e.cfg.ClockSkew), opTicket)
		}
		in := m.Incoming(sdp)
		switch in.Action {
		case mapping.Ignored:
			return linkedItem(l, Skipped, fmt.Sprintf("the incoming map ignores %q", sdp))
		case mapping.Unmapped:
			return linkedItem(l, Skipped, fmt.Sprintf("%q is not in the incoming map", sdp))
		}
		cur, err := statuses.Status(ctx, l.Key)
		if err != nil {
			return r.failed(l.Key, linkedItem(l, Failed, ""), fmt.Errorf("reading the vuln's status: %w", err), opTicket)
		}
		if cur == in.Status {
			it := linkedItem(l, UpToDate, fmt.Sprintf("the vuln is already %s", cur))
			it.Status = cur.String()
			return it
		}
		claim := l.Clone()
		prev := l.LastIncoming
		claim.LastIncoming = &faraday.IncomingChange{Status: sdp, ChangeID: claimPrefix + changeID, At: faraday.NewTime(now)}
		cl, err := e.cfg.Links.CompareAndSet(ctx, claim, l.Revision)
		if errors.Is(err, faraday.ErrConflict) {
			continue
		}
		if err != nil {
			return r.failed(l.Key, linkedItem(l, Failed, ""), fmt.Errorf("claiming the change: %w", err), opStore)
		}
		if err := statuses.SetStatus(ctx, l.Key, in.Status); err != nil {
			r.settle(ctx, l.Key, changeID, func(*faraday.IncomingChange) *faraday.IncomingChange { return prev })
			return r.failed(l.Key, linkedItem(cl, Failed, ""), fmt.Errorf("setting the vuln's status: %w", err), opTicket)
		}
		r.settle(ctx, l.Key, changeID, func(c *faraday.IncomingChange) *faraday.IncomingChange {
			done := *c
			done.ChangeID = changeID
			return &done
		})
		it := linkedItem(cl, Pushed, fmt.Sprintf("applied %q missed by the webhook", sdp))
		it.Status = in.Status.String()
		return it
	}
	return r.failed(l.Key, linkedItem(l, Failed, ""), fmt.Errorf("the link kept changing: %w", faraday.ErrConflict), opTicket)
}

// ErrAmbiguousChange reports a ticket whose status differs from the one
// last pushed to it, last updated so close to the push (within
// Config.ClockSkew) that the incoming reconcile cannot tell a push that
// never arrived from a change made in ServiceDesk right after it. Nothing
// is changed on either side.
var ErrAmbiguousChange = errors.New("engine: cannot tell a lost push from a change in ServiceDesk")

// lostPush compares the ticket's last update (SDP's clock) with the last
// push recorded in the link (ours), whose status the ticket does not have.
// Updated well before the push (beyond the clock skew): the push was lost.
// Well after: the status was changed in SDP since. In between: ambiguous.
// The status set at creation is never lost: the create's answer
// confirmed it. Nor is a push older than the last incoming change.
func (r *run) lostPush(l *faraday.Link, updated time.Time) (lost, ambiguous bool) {
	if !r.pushInDoubt(l) || updated.IsZero() {
		return false, false
	}
	at := l.LastPushedAt.Time
	skew := r.e.cfg.ClockSkew
	switch {
	case updated.Before(at.Add(-skew)):
		return true, false
	case updated.After(at.Add(skew)):
		return false, false
	}
	return false, true
}

// pushInDoubt reports whether the link's last push may not have reached the
// ticket: it is not the status set at creation (the create's answer
// confirmed that one) and no incoming change came after it.
func (r *run) pushInDoubt(l *faraday.Link) bool {
	at := l.LastPushedAt.Time
	if l.LastPushedStatus == "" || at.IsZero() || at.Equal(l.CreatedAt.Time) {
		return false
	}
	li := l.LastIncoming
	return li == nil || li.At.Before(at)
}

// settle replaces this change's claim (commit or roll back), unless another
// writer has replaced it already.
func (r *run) settle(ctx context.Context, key faraday.VulnKey, changeID string, to func(*faraday.IncomingChange) *faraday.IncomingChange) {
	errGone := errors.New("claim gone")
	_, err := faraday.UpdateLink(context.WithoutCancel(ctx), r.e.cfg.Links, key, 0, func(l *faraday.Link) error {
		if l.Revision == 0 || l.LastIncoming == nil || l.LastIncoming.ChangeID != claimPrefix+changeID {
			return errGone
		}
		l.LastIncoming = to(l.LastIncoming)
		return nil
	})
	if err != nil && !errors.Is(err, errGone) {
		r.e.cfg.Logger.Warn("engine: could not settle an incoming claim; it expires after the claim timeout",
			"vuln", key.String(), "error", err.Error())
	}
}
