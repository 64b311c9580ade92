package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strings"
	"syscall"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/servicedesk"
)

// halt records the systemic failure that stops the run; only the first
// one is kept and logged.
func (r *run) halt(err *SystemicError) {
	r.stopOnce.Do(func() {
		r.stopWith = err
		r.stop.Store(true)
		r.e.cfg.Logger.Error("engine: run stopped", slog.String("vuln", err.Vuln.String()), slog.String("error", err.Error()))
	})
}

func (r *run) stopErr() error {
	if !r.stop.Load() {
		return nil
	}
	return r.stopWith
}

func (r *run) notAttempted(key faraday.VulnKey) Item {
	err := ErrStopped
	if cause := r.stopErr(); cause != nil {
		err = fmt.Errorf("%w: %w", ErrStopped, cause)
	}
	return Item{Key: key, Outcome: NotAttempted, Err: err}
}

// failed records a vuln's failure, or stops the run when the failure is
// systemic.
func (r *run) failed(key faraday.VulnKey, it Item, err error, op opKind) Item {
	it.Key, it.Outcome, it.Err = key, Failed, err
	if systemic(err, op) {
		se := &SystemicError{Vuln: key, Err: err}
		if errors.Is(err, servicedesk.ErrMandatoryField) {
			se.MandatoryFields = servicedesk.MandatoryFields(err)
		}
		r.halt(se)
		return it
	}
	r.e.cfg.Logger.Warn("engine: vuln failed", slog.String("vuln", key.String()), slog.String("error", err.Error()))
	return it
}

// opKind tells calls apart where one SDP answer means different things.
type opKind int

const (
	opCreate opKind = iota // create, search
	opTicket               // update or close of one ticket
	opStore                // link store
)

// systemic reports whether err is a failure of the setup rather than of
// one vuln.
func systemic(err error, op opKind) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if op == opStore {
		return !errors.Is(err, faraday.ErrTicketLinked) && !errors.Is(err, faraday.ErrInvalidLink)
	}
	var se *servicedesk.Error
	if errors.As(err, &se) {
		switch {
		case errors.Is(err, servicedesk.ErrUnauthorized), errors.Is(err, servicedesk.ErrForbidden),
			errors.Is(err, servicedesk.ErrUnexpectedContent):
			return true
		case errors.Is(err, servicedesk.ErrMandatoryField):
			// On a create, the template's; on a close, the closure rules',
			// reported with the ticket like a 4003.
			return op == opCreate
		case errors.Is(err, servicedesk.ErrAlreadyClosed), errors.Is(err, servicedesk.ErrClosureRule):
			return false
		case errors.Is(err, servicedesk.ErrInvalidInput):
			// A lookup name of the configuration SDP does not know.
			return true
		case errors.Is(err, servicedesk.ErrNotFound):
			// No requests API at the URL; for one ticket, that ticket is
			// gone.
			return op == opCreate
		}
		return false
	}
	// Transport failures that no retry will mend.
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns)
}

// definite reports whether SDP certainly did not act on a failed write: it
// answered with a client error (a refused input, credentials, a rate
// limit), or was never reached (connection refused, a name that does not
// resolve). Anything else (a server error, a lost answer, a timeout) may
// have taken effect.
func definite(err error) bool {
	var se *servicedesk.Error
	if errors.As(err, &se) {
		return se.HTTPStatus >= 400 && se.HTTPStatus < 500
	}
	var dns *net.DNSError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &dns)
}

// dropped reports the fields a created ticket came back without, logged
// once per vuln.
func (r *run) dropped(key faraday.VulnKey, in *servicedesk.RequestInput, req *servicedesk.Request) error {
	fields := droppedFields(in, req)
	if len(fields) == 0 {
		return nil
	}
	err := fmt.Errorf("%w: ticket %s came back without %s", ErrFieldDropped, req.ID, strings.Join(fields, ", "))
	r.e.cfg.Logger.Warn("engine: ticket created without some fields", slog.String("vuln", key.String()), slog.String("error", err.Error()))
	return err
}

// ErrFieldDropped marks a Created item whose ticket came back without a
// field the request set: SDP accepted the create but dropped the value
// (a dropdown value that is not exactly one of its options, for one). The
// ticket exists and is linked; the configuration needs a look.
var ErrFieldDropped = errors.New("engine: ServiceDesk dropped a field of the request")

// droppedFields compares the lookup fields a create set with the request
// SDP answered, and names those that came back empty.
func droppedFields(in *servicedesk.RequestInput, got *servicedesk.Request) []string {
	var out []string
	check := func(name string, set bool, back bool) {
		if set && !back {
			out = append(out, name)
		}
	}
	check("priority", in.Priority != nil, got.Priority != nil && got.Priority.Name != "")
	check("status", in.Status != nil, got.Status != nil && got.Status.Name != "")
	check("template", in.Template != nil, got.Template != nil && (got.Template.Name != "" || got.Template.ID != ""))
	check("requester", in.Requester != nil, got.Requester != nil && got.Requester.ID != "")
	check("technician", in.Technician != nil, got.Technician != nil && got.Technician.ID != "")
	check("group", in.Group != nil, got.Group != nil && got.Group.Name != "")
	for _, f := range []struct {
		name string
		in   *servicedesk.Ref
		back *servicedesk.Ref
	}{
		{"category", in.Category, got.Category}, {"subcategory", in.Subcategory, got.Subcategory},
		{"item", in.Item, got.Item}, {"urgency", in.Urgency, got.Urgency}, {"impact", in.Impact, got.Impact},
		{"site", in.Site, got.Site}, {"level", in.Level, got.Level}, {"mode", in.Mode, got.Mode},
		{"request_type", in.RequestType, got.RequestType}, {"service_category", in.ServiceCategory, got.ServiceCategory},
	} {
		check(f.name, f.in != nil, f.back != nil && (f.back.Name != "" || f.back.ID != ""))
	}
	keys := make([]string, 0, len(in.UDFFields))
	for k, v := range in.UDFFields {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if back, ok := got.UDFFields[k]; !ok || back == nil || back == "" {
			out = append(out, "udf_fields."+k)
		}
	}
	return out
}
