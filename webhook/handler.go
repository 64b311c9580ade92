package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
)

// Handler is the webhook's http.Handler. Build it with NewHandler; it is
// safe for concurrent use.
type Handler struct {
	cfg        Config
	failures   *limiterSet[string]
	deliveries *limiterSet[int64]
	idPrefix   string
	seq        atomic.Uint64
	instance   string // the StatusMap's instance label
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns the handler configured by cfg, or an error wrapping
// ErrInvalidConfig that lists every problem with cfg.
func NewHandler(cfg Config) (*Handler, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var p [4]byte
	if _, err := rand.Read(p[:]); err != nil {
		return nil, fmt.Errorf("webhook: delivery id prefix: %w", err)
	}
	return &Handler{
		cfg:        c,
		failures:   newLimiterSet[string](c.Limits.AuthFailures, c.Limits.AuthFailureBurst, c.Limits.MaxAddresses),
		deliveries: newLimiterSet[int64](c.Limits.Deliveries, c.Limits.DeliveryBurst, c.Limits.MaxAddresses),
		idPrefix:   hex.EncodeToString(p[:]),
		// The label is the same in every reference the map writes: read
		// it once rather than computing a reference per delivery.
		instance: c.Statuses.Reference("_", 1).Instance,
	}, nil
}

// Header values shared by every answer; net/http only reads them.
var (
	headerJSON    = []string{"application/json"}
	headerNosniff = []string{"nosniff"}
)

var answerPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

var errTooLarge = errors.New("webhook: body too large")

// readBody reads body into buf, failing with errTooLarge past limit bytes.
// It reads the body directly, without a wrapper, so that nothing but the
// pooled buffer is allocated.
func readBody(buf *bytes.Buffer, body io.Reader, limit int64) error {
	for {
		if int64(buf.Len()) > limit {
			return errTooLarge
		}
		buf.Grow(4096)
		b := buf.AvailableBuffer()
		b = b[:min(int64(cap(b)), limit+1-int64(buf.Len()))]
		n, err := body.Read(b)
		buf.Write(b[:n])
		if err == io.EOF {
			if int64(buf.Len()) > limit {
				return errTooLarge
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// delivery is an authenticated, understood request.
type delivery struct {
	id        string
	at        time.Time
	ticketID  string
	sdpStatus string
	ref       faraday.VulnKey // zero when the description has none
	refOther  bool            // the reference is another instance's
	refOK     bool            // the reference verified (StatusMap.VerifyReference)
	settleErr error           // a claim that could not be settled
}

// ServeHTTP answers one webhook delivery.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	o := Outcome{DeliveryID: h.nextID()}
	h.serve(w, r, &o)
	o.Duration = time.Since(start)
	if h.cfg.OnOutcome != nil {
		h.cfg.OnOutcome(o)
	}
	h.write(w, &o)
	h.log(r, &o)
}

func (h *Handler) nextID() string {
	var b [8 + 1 + 16]byte
	n := copy(b[:], h.idPrefix)
	b[n] = '-'
	return string(strconv.AppendUint(b[:n+1], h.seq.Add(1), 16))
}

func reject(o *Outcome, code int, reason Reason, msg string) {
	o.Code, o.Result, o.Reason, o.Message = code, ResultRejected, reason, msg
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, o *Outcome) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(o, http.StatusMethodNotAllowed, ReasonMethod, "")
		return
	}
	limit := h.cfg.Limits.MaxBodyBytes
	if r.ContentLength > limit {
		reject(o, http.StatusRequestEntityTooLarge, ReasonTooLarge, "")
		return
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 {
			bufPool.Put(buf)
		}
	}()
	body := io.Reader(r.Body)
	if r.Body == nil {
		body = http.NoBody
	}
	if err := readBody(buf, body, limit); err != nil {
		if errors.Is(err, errTooLarge) {
			// Do not read on: tell the server to close the connection.
			w.Header().Set("Connection", "close")
			reject(o, http.StatusRequestEntityTooLarge, ReasonTooLarge, "")
			return
		}
		reject(o, http.StatusBadRequest, ReasonBadRequest, "the body could not be read")
		return
	}
	f := scan(buf.Bytes())
	ctx := r.Context()
	now := h.cfg.Now()

	tok, err := h.authenticate(ctx, &f, r.Header.Get(HeaderToken), now)
	if err != nil {
		if !isTokenProblem(err) {
			o.Code, o.Result, o.Reason, o.Err = http.StatusServiceUnavailable, ResultFailed, ReasonUnavailable, err
			return
		}
		addr := clientAddr(r, h.cfg.TrustedProxies)
		if ok, wait := h.failures.allow(addrKey(addr), now); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
			reject(o, http.StatusTooManyRequests, ReasonRateLimited, "")
			return
		}
		reject(o, http.StatusUnauthorized, ReasonUnauthorized, "")
		return
	}
	if ok, wait := h.deliveries.allow(tok.ID, now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(wait)))
		reject(o, http.StatusTooManyRequests, ReasonRateLimited, "")
		return
	}
	if h.cfg.Roles != nil {
		role, err := h.cfg.Roles(ctx, tok.UserID)
		if err != nil {
			o.Code, o.Result, o.Reason, o.Err = http.StatusServiceUnavailable, ResultFailed, ReasonUnavailable, fmt.Errorf("role lookup: %w", err)
			return
		}
		if !role.Allowed(faraday.UnitServiceDesk, faraday.ActionUpdate) {
			reject(o, http.StatusForbidden, ReasonForbidden, "")
			return
		}
	}
	if f.statusErr != "" {
		reject(o, http.StatusBadRequest, ReasonBadRequest, f.statusErr)
		return
	}
	d := delivery{id: o.DeliveryID, at: now, sdpStatus: f.status}
	o.SDPStatus = f.status
	if h.cfg.IDPolicy != IDIgnored && f.hasID {
		if !validTicketID(f.id) {
			reject(o, http.StatusBadRequest, ReasonBadRequest, "\"id\" is not a ServiceDesk request id (digits)")
			return
		}
		d.ticketID = f.id
		o.TicketID = f.id
	} else if h.cfg.IDPolicy == IDRequired {
		reject(o, http.StatusBadRequest, ReasonBadRequest, "no \"id\" field after \"desc\"")
		return
	}
	if f.hasDesc {
		if ref, ok := mapping.ParseReference(f.description()); ok {
			d.ref = faraday.VulnKey{Workspace: ref.Workspace, VulnID: ref.VulnID}
			d.refOther = h.instance != ref.Instance
			d.refOK = !d.refOther && h.cfg.Statuses.VerifyReference(ref)
			o.Reference = d.ref
		}
	}
	h.process(ctx, &d, o)
}

// validTicketID reports whether s is an SDP request id: decimal digits.
func validTicketID(s string) bool {
	if s == "" || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// authenticate validates the body's Authorization token, else the header's
// when it holds a token rather than "1". A token in the body that fails
// does not hide a valid one in the header: text at the end of a
// description can pose as a body token when the template has none.
func (h *Handler) authenticate(ctx context.Context, f *fields, header string, now time.Time) (faraday.UserToken, error) {
	err := error(errNoToken)
	if f.hasToken {
		if t := stripTokenPrefix(f.token); t != "" {
			var tok faraday.UserToken
			tok, err = faraday.ValidateToken(ctx, h.cfg.Tokens, t, now, h.cfg.Scopes...)
			if err == nil {
				return tok, nil
			}
		}
	}
	if t := stripTokenPrefix(header); t != "" && t != "1" {
		tok, herr := faraday.ValidateToken(ctx, h.cfg.Tokens, t, now, h.cfg.Scopes...)
		if herr == nil {
			return tok, nil
		}
		if err == nil || isTokenProblem(err) {
			err = herr
		}
	}
	return faraday.UserToken{}, err
}

var errNoToken = errors.New("webhook: no token")

func isTokenProblem(err error) bool {
	return errors.Is(err, errNoToken) || errors.Is(err, faraday.ErrTokenUnknown) ||
		errors.Is(err, faraday.ErrTokenRevoked) || errors.Is(err, faraday.ErrTokenExpired) ||
		errors.Is(err, faraday.ErrTokenScope)
}

// stripTokenPrefix trims white space and a leading "Token " (any case).
func stripTokenPrefix(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 6 && strings.EqualFold(s[:5], "token") && (s[5] == ' ' || s[5] == '\t') {
		s = strings.TrimSpace(s[6:])
	}
	return s
}

// process finds the vuln of an authenticated delivery and applies it.
func (h *Handler) process(ctx context.Context, d *delivery, o *Outcome) {
	ok200 := func(res Result, reason Reason) {
		o.Code, o.Result, o.Reason = http.StatusOK, res, reason
	}
	hasRef := d.ref != (faraday.VulnKey{})
	byTicket := h.cfg.IDPolicy == IDRequired && d.ticketID != ""
	if !byTicket && !hasRef {
		// Only a verified footer reference finds the vuln: an id without
		// one may be description text posing as the id field.
		ok200(ResultIgnored, ReasonNoReference)
		return
	}
	if d.refOther {
		// Another instance's reference: without an id it names no vuln
		// of ours; with one, id and reference cannot agree.
		if d.ticketID == "" {
			ok200(ResultIgnored, ReasonOtherInstance)
		} else {
			ok200(ResultIgnored, ReasonMismatch)
		}
		return
	}
	if hasRef && !d.refOK {
		ok200(ResultIgnored, ReasonUnverifiedReference)
		return
	}
	link, err := h.findLink(ctx, d, byTicket)
	switch {
	case errors.Is(err, faraday.ErrLinkNotFound):
		ok200(ResultIgnored, ReasonUnknownTicket)
		return
	case err != nil:
		h.fail(d, o, err)
		return
	}
	o.Vuln = link.Key
	if hasRef && d.ref != link.Key || d.ticketID != "" && d.ticketID != link.RequestID {
		ok200(ResultIgnored, ReasonMismatch)
		return
	}
	in := h.cfg.Statuses.Incoming(d.sdpStatus)
	res, reason, err := h.apply(ctx, d, link, in)
	o.Err = d.settleErr
	if err != nil {
		h.fail(d, o, err)
		return
	}
	if res == ResultUpdated || reason == ReasonAlreadySet {
		o.Status = in.Status
	}
	ok200(res, reason)
}

// findLink returns the linked link of the delivery's ticket id when
// byTicket, else of its footer reference.
func (h *Handler) findLink(ctx context.Context, d *delivery, byTicket bool) (faraday.Link, error) {
	var link faraday.Link
	err := h.retry(ctx, func() error {
		var err error
		if byTicket {
			link, err = h.cfg.Links.GetByTicket(ctx, d.ticketID)
		} else {
			link, err = h.cfg.Links.Get(ctx, d.ref)
		}
		return err
	})
	if err == nil && link.State != faraday.LinkLinked {
		return faraday.Link{}, faraday.ErrLinkNotFound
	}
	return link, err
}

// Prefixes of LastIncoming.ChangeID: a change being applied, and an echo
// consumed. A committed change has the bare delivery id.
const (
	claimPrefix = "claim:"
	echoPrefix  = "echo:"
)

// isDuplicate reports whether li, the link's last incoming change, is
// another delivery of the same status that is still being applied (within
// ClaimTimeout), or an echo consumed with no other status seen since
// (within EchoWindow of its consumption, or ClaimTimeout if longer): SDP
// sends copies of one delivery, while a technician must change the status
// in between (a delivery that clears the echo record) to send it again, so
// a late copy of our echo is never applied as a change.
func (h *Handler) isDuplicate(li *faraday.IncomingChange, d *delivery, now time.Time) bool {
	if li == nil || !sameStatus(li.Status, d.sdpStatus) {
		return false
	}
	age := now.Sub(li.At.Time)
	switch {
	case strings.HasPrefix(li.ChangeID, echoPrefix):
		return age < max(h.cfg.EchoWindow, h.cfg.ClaimTimeout)
	case strings.HasPrefix(li.ChangeID, claimPrefix):
		return age < h.cfg.ClaimTimeout && li.ChangeID != claimPrefix+d.id
	}
	return false
}

// casAttempts bounds the compare-and-set loop of one delivery.
const casAttempts = 16

// apply decides and applies the change under compare-and-set on the link:
// it consumes an echo, recognises a duplicate being applied, claims the
// change (LastIncoming with a claim id) before setting the vuln, and
// commits or rolls the claim back after.
func (h *Handler) apply(ctx context.Context, d *delivery, link faraday.Link, in mapping.Incoming) (Result, Reason, error) {
	key := link.Key
	for attempt := 0; attempt < casAttempts; attempt++ {
		if attempt > 0 {
			var err error
			link, err = h.getLink(ctx, key)
			if errors.Is(err, faraday.ErrLinkNotFound) {
				return ResultIgnored, ReasonUnknownTicket, nil
			}
			if err != nil {
				return "", "", err
			}
		}
		now := h.cfg.Now()
		if li := link.LastIncoming; li != nil && strings.HasPrefix(li.ChangeID, echoPrefix) && !sameStatus(li.Status, d.sdpStatus) {
			// The ticket moved on since the echo: copies of the echo no
			// longer need recognising, and the same status set again
			// later is a real change.
			next := link.Clone()
			next.LastIncoming.ChangeID = strings.TrimPrefix(li.ChangeID, echoPrefix)
			stored, err := h.cfg.Links.CompareAndSet(ctx, next, link.Revision)
			if err != nil {
				if errors.Is(err, faraday.ErrConflict) {
					continue
				}
				return "", "", err
			}
			link = stored
		}
		if mapping.IsEcho(d.sdpStatus, mapping.PushedOf(&link.ServiceDeskEntry), h.cfg.EchoWindow, now) {
			next := link.Clone()
			next.EchoConsumed = true
			// Recorded so that a second copy of this delivery, arriving
			// while the echo would no longer match, is a duplicate.
			next.LastIncoming = &faraday.IncomingChange{Status: d.sdpStatus, ChangeID: echoPrefix + d.id, At: faraday.NewTime(now)}
			if _, err := h.cfg.Links.CompareAndSet(ctx, next, link.Revision); err != nil {
				if errors.Is(err, faraday.ErrConflict) {
					continue
				}
				return "", "", err
			}
			return ResultUnchanged, ReasonEcho, nil
		}
		switch in.Action {
		case mapping.Ignored:
			return ResultIgnored, ReasonIgnore, nil
		case mapping.Apply:
		default:
			return ResultIgnored, ReasonNotMapped, nil
		}
		if h.isDuplicate(link.LastIncoming, d, now) {
			return ResultUnchanged, ReasonDuplicate, nil
		}
		var cur faraday.Status
		err := h.retry(ctx, func() (err error) {
			cur, err = h.cfg.Vulns.Status(ctx, key)
			return err
		})
		if errors.Is(err, ErrVulnNotFound) {
			return ResultIgnored, ReasonVulnNotFound, nil
		}
		if err != nil {
			return "", "", err
		}
		if cur == in.Status {
			return ResultUnchanged, ReasonAlreadySet, nil
		}
		claim := link.Clone()
		if p := mapping.PushedOf(&link.ServiceDeskEntry); !p.Consumed && p.Status != "" && !sameStatus(p.Status, d.sdpStatus) {
			// The ticket moved to another status than our last push: an
			// echo of that push still pending is lost or out of date, and
			// must not swallow a technician's later change back to it.
			claim.EchoConsumed = true
		}
		prev := link.LastIncoming
		claim.LastIncoming = &faraday.IncomingChange{Status: d.sdpStatus, ChangeID: claimPrefix + d.id, At: faraday.NewTime(now)}
		claimed, err := h.cfg.Links.CompareAndSet(ctx, claim, link.Revision)
		if err != nil {
			if errors.Is(err, faraday.ErrConflict) {
				continue
			}
			return "", "", err
		}
		err = h.setStatus(ctx, key, in.Status)
		if err != nil {
			h.settleClaim(ctx, d, claimed, prev)
			if errors.Is(err, ErrVulnNotFound) {
				return ResultIgnored, ReasonVulnNotFound, nil
			}
			return "", "", err
		}
		done := *claimed.LastIncoming
		done.ChangeID = d.id
		h.settleClaim(ctx, d, claimed, &done)
		return ResultUpdated, "", nil
	}
	return "", "", fmt.Errorf("webhook: link %s kept changing: %w", key, faraday.ErrConflict)
}

// setStatus sets the vuln's status, retried.
func (h *Handler) setStatus(ctx context.Context, key faraday.VulnKey, status faraday.Status) error {
	var err error
	for i := 0; i < h.cfg.Retry.Attempts; i++ {
		if i > 0 {
			if werr := h.pause(ctx, i); werr != nil {
				return errors.Join(err, werr)
			}
		}
		err = h.cfg.Vulns.SetStatus(ctx, key, status)
		if !retryable(ctx, err) {
			return err
		}
	}
	return err
}

var errClaimGone = errors.New("webhook: claim gone")

// settleClaim replaces this delivery's claim in LastIncoming with to (the
// committed change, or what was there before the claim). It first tries
// the revision the claim wrote; if the link changed since, it re-reads it,
// and leaves it alone when the claim is gone (another delivery took over).
// A failure is only reported (Outcome.Err): the claim expires after
// ClaimTimeout anyway.
func (h *Handler) settleClaim(ctx context.Context, d *delivery, claimed faraday.Link, to *faraday.IncomingChange) {
	id := d.id
	next := claimed
	next.LastIncoming = to
	_, err := h.cfg.Links.CompareAndSet(ctx, next, claimed.Revision)
	if !errors.Is(err, faraday.ErrConflict) && ctx.Err() == nil {
		if err != nil {
			d.settleErr = fmt.Errorf("settling the claim: %w", err)
		}
		return
	}
	_, err = faraday.UpdateLink(context.WithoutCancel(ctx), h.cfg.Links, claimed.Key, casAttempts, func(l *faraday.Link) error {
		if l.Revision == 0 || l.LastIncoming == nil || l.LastIncoming.ChangeID != claimPrefix+id {
			return errClaimGone
		}
		l.LastIncoming = to
		return nil
	})
	if err != nil && !errors.Is(err, errClaimGone) {
		d.settleErr = fmt.Errorf("settling the claim: %w", err)
	}
}

func (h *Handler) getLink(ctx context.Context, key faraday.VulnKey) (faraday.Link, error) {
	var link faraday.Link
	err := h.retry(ctx, func() (err error) {
		link, err = h.cfg.Links.Get(ctx, key)
		return err
	})
	return link, err
}

// sameStatus compares SDP status names as the maps do: without case and
// surrounding white space.
func sameStatus(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// retry calls fn up to Retry.Attempts times while it fails with an error
// other than a not-found, a conflict or the request's end, pausing
// Retry.Wait, then twice that, and so on.
func (h *Handler) retry(ctx context.Context, fn func() error) error {
	var err error
	for i := 0; i < h.cfg.Retry.Attempts; i++ {
		if i > 0 {
			if werr := h.pause(ctx, i); werr != nil {
				return errors.Join(err, werr)
			}
		}
		err = fn()
		if !retryable(ctx, err) {
			return err
		}
	}
	return err
}

func retryable(ctx context.Context, err error) bool {
	return err != nil && !errors.Is(err, ErrVulnNotFound) && !errors.Is(err, faraday.ErrLinkNotFound) &&
		!errors.Is(err, faraday.ErrConflict) && ctx.Err() == nil
}

// pause waits before attempt i (1 for the second call): Retry.Wait
// doubled i-1 times.
func (h *Handler) pause(ctx context.Context, i int) error {
	t := time.NewTimer(h.cfg.Retry.Wait << (i - 1))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// fail answers 503 and hands the delivery to the dead-letter callback.
func (h *Handler) fail(d *delivery, o *Outcome, err error) {
	o.Code, o.Result, o.Reason, o.Err = http.StatusServiceUnavailable, ResultFailed, ReasonUnavailable, err
	if h.cfg.DeadLetter != nil {
		h.cfg.DeadLetter(DeadLetter{
			DeliveryID: d.id, At: d.at, TicketID: d.ticketID, Reference: d.ref,
			Vuln: o.Vuln, SDPStatus: d.sdpStatus, Err: err,
		})
	}
}

// Replay applies a dead-lettered delivery again, with the current links
// and statuses, and returns its outcome (a failure is handed to the
// dead-letter callback again). The echo check uses the current clock.
func (h *Handler) Replay(ctx context.Context, dl DeadLetter) Outcome {
	start := time.Now()
	o := Outcome{DeliveryID: dl.DeliveryID, TicketID: dl.TicketID, Reference: dl.Reference, SDPStatus: dl.SDPStatus}
	// A delivery is dead-lettered only after its reference verified.
	d := delivery{id: dl.DeliveryID, at: dl.At, ticketID: dl.TicketID, sdpStatus: dl.SDPStatus, ref: dl.Reference, refOK: true}
	h.process(ctx, &d, &o)
	o.Duration = time.Since(start)
	if h.cfg.OnOutcome != nil {
		h.cfg.OnOutcome(o)
	}
	return o
}

func (h *Handler) write(w http.ResponseWriter, o *Outcome) {
	bp := answerPool.Get().(*[]byte)
	b := o.answer((*bp)[:0])
	hd := w.Header()
	hd["Content-Type"] = headerJSON
	hd["X-Content-Type-Options"] = headerNosniff
	w.WriteHeader(o.Code)
	_, _ = w.Write(b)
	*bp = b
	answerPool.Put(bp)
}

// log writes the request's one line: outcome, vuln, timing; never the
// token, never the description.
func (h *Handler) log(r *http.Request, o *Outcome) {
	level := slog.LevelInfo
	switch {
	case o.Code >= 500:
		level = slog.LevelError
	case o.Code >= 400 || o.Err != nil || o.Reason == ReasonMismatch:
		level = slog.LevelWarn
	}
	ctx := r.Context()
	if !h.cfg.Logger.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 13)
	attrs = append(attrs,
		slog.String("delivery", o.DeliveryID),
		slog.Int("code", o.Code),
		slog.String("result", string(o.Result)))
	if o.Reason != "" {
		attrs = append(attrs, slog.String("reason", string(o.Reason)))
	}
	if o.Message != "" {
		attrs = append(attrs, slog.String("message", o.Message))
	}
	if o.TicketID != "" {
		attrs = append(attrs, slog.String("ticket", o.TicketID))
	}
	if o.Vuln.VulnID != 0 {
		attrs = append(attrs, slog.String("vuln", o.Vuln.String()))
	}
	if o.Reference.VulnID != 0 {
		attrs = append(attrs, slog.String("reference", o.Reference.String()))
	}
	if o.SDPStatus != "" {
		attrs = append(attrs, slog.String("sdp_status", o.SDPStatus))
	}
	if o.Status.Valid() {
		attrs = append(attrs, slog.String("status", o.Status.String()))
	}
	if o.Err != nil {
		attrs = append(attrs, slog.String("error", o.Err.Error()))
	}
	attrs = append(attrs, slog.String("remote", r.RemoteAddr), slog.Duration("duration", o.Duration))
	h.cfg.Logger.LogAttrs(ctx, level, "webhook delivery", attrs...)
}
