package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/servicedesk"
)

// push sends a linked vuln's status to its ticket unless the ticket's
// known status already stands for it.
func (r *run) push(ctx context.Context, v *faraday.Vuln, link faraday.Link) Item {
	m := r.p.mapper
	want, err := m.Outgoing(v.Status)
	if err != nil {
		return r.failed(link.Key, Item{TicketID: link.RequestID}, err, opTicket)
	}
	if known := knownStatus(&link); satisfied(m, known, v.Status) {
		it := linkedItem(link, UpToDate, fmt.Sprintf("the ticket's status %q stands for %s", known, v.Status))
		it.Status = known
		return it
	}
	return r.pushStatus(ctx, link, want, "")
}

// pushStatus records the push in the link, then updates or closes the
// ticket. The record comes first so that the webhook recognises the echo
// even when SDP's trigger delivers it before the call returns. When SDP
// certainly refused the change, the record is rolled back; when the
// outcome is unknown it stays, and ReconcileIncoming re-sends a push the
// ticket never received.
func (r *run) pushStatus(ctx context.Context, link faraday.Link, want, reason string) Item {
	e := r.e
	key, ticket := link.Key, servicedesk.ID(link.RequestID)
	base := Item{TicketID: link.RequestID, DisplayID: link.DisplayID, URL: link.URL, Status: want}
	at := faraday.NewTime(e.now())
	errGone := errors.New("the link changed: the ticket is no longer this vuln's")
	prev, err := faraday.UpdateLink(ctx, e.cfg.Links, key, 0, func(l *faraday.Link) error {
		if l.Revision == 0 || l.State != faraday.LinkLinked || l.RequestID != link.RequestID {
			return errGone
		}
		l.LastPushedStatus, l.LastPushedAt, l.EchoConsumed = want, at, false
		return nil
	})
	if err != nil {
		op := opStore
		if errors.Is(err, errGone) {
			op = opTicket
		}
		return r.failed(key, base, fmt.Errorf("recording the push: %w", err), op)
	}
	if err := r.wait(ctx); err != nil {
		r.unpush(ctx, key, link, want, at)
		return r.failed(key, base, err, opTicket)
	}
	if r.p.closed[normStatus(want)] {
		err = e.cfg.SDP.Requests.Close(ctx, ticket, e.cfg.ClosureInfo)
		if errors.Is(err, servicedesk.ErrAlreadyClosed) {
			err = nil
		}
	} else {
		_, err = e.cfg.SDP.Requests.Update(ctx, ticket, &servicedesk.RequestInput{Status: &servicedesk.Ref{Name: want}})
	}
	if err != nil {
		if definite(err) {
			r.unpush(ctx, key, link, want, at)
		}
		var se *servicedesk.Error
		if (errors.Is(err, servicedesk.ErrClosureRule) || errors.Is(err, servicedesk.ErrMandatoryField)) && errors.As(err, &se) {
			err = fmt.Errorf("ServiceDesk refuses to set ticket %s to %q until %v are filled (closure rules: set them in Config.ClosureInfo or in SDP): %w", ticket, want, se.Fields(), err)
		} else {
			err = fmt.Errorf("pushing status %q to ticket %s: %w", want, ticket, err)
		}
		return r.failed(key, base, err, opTicket)
	}
	it := linkedItem(prev, Pushed, reason)
	it.Status = want
	return it
}

// unpush rolls a recorded push back, if it is still the last one.
func (r *run) unpush(ctx context.Context, key faraday.VulnKey, before faraday.Link, want string, at faraday.Time) {
	errGone := errors.New("pushed since")
	_, err := faraday.UpdateLink(context.WithoutCancel(ctx), r.e.cfg.Links, key, 0, func(l *faraday.Link) error {
		if l.Revision == 0 || l.LastPushedStatus != want || !l.LastPushedAt.Equal(at.Time) {
			return errGone
		}
		l.LastPushedStatus, l.LastPushedAt, l.EchoConsumed = before.LastPushedStatus, before.LastPushedAt, before.EchoConsumed
		return nil
	})
	if err != nil && !errors.Is(err, errGone) {
		r.e.cfg.Logger.Warn("engine: could not roll back a refused push in the link",
			slog.String("vuln", key.String()), slog.String("error", err.Error()))
	}
}
