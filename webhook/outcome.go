package webhook

import (
	"time"

	"github.com/vulndesk/mesd/faraday"
)

// Result is the first word of every answer.
type Result string

// The results. The first three are 200 answers, which SDP must not retry;
// the others are errors.
const (
	// ResultUpdated: the vuln's status was changed.
	ResultUpdated Result = "updated"
	// ResultUnchanged: the vuln already had the status, the delivery is a
	// duplicate of one being applied, or it is the echo of our own push.
	ResultUnchanged Result = "unchanged"
	// ResultIgnored: the change was deliberately not applied (see Reason).
	ResultIgnored Result = "ignored"
	// ResultRejected: the request was refused (4xx).
	ResultRejected Result = "rejected"
	// ResultFailed: the change could not be applied now (503); it was
	// handed to the dead-letter callback.
	ResultFailed Result = "failed"
)

// Reason says why a delivery got its result.
type Reason string

// The reasons.
const (
	// ReasonAlreadySet: the vuln already has the mapped status (unchanged).
	ReasonAlreadySet Reason = "already_set"
	// ReasonEcho: the status is the echo of the one last pushed to the
	// ticket, within the echo window; the echo is now consumed (unchanged).
	ReasonEcho Reason = "echo"
	// ReasonDuplicate: another delivery of the same change is being
	// applied (unchanged).
	ReasonDuplicate Reason = "duplicate"
	// ReasonIgnore: the incoming map says to ignore the status; the change
	// is discarded and the link stays (ignored).
	ReasonIgnore Reason = "ignore"
	// ReasonNotMapped: the status is not in the incoming map (ignored).
	ReasonNotMapped Reason = "not_mapped"
	// ReasonUnknownTicket: no link for the ticket id or the footer
	// reference (ignored).
	ReasonUnknownTicket Reason = "unknown_ticket"
	// ReasonNoReference: the body has no footer reference where the
	// policy needs one, or neither an id nor a reference (ignored).
	ReasonNoReference Reason = "no_reference"
	// ReasonUnverifiedReference: the description's footer reference does
	// not verify (forged, or written with another key or none).
	ReasonUnverifiedReference Reason = "unverified_reference"
	// ReasonMismatch: the id's link and the footer reference name
	// different vulns (ignored).
	ReasonMismatch Reason = "id_reference_mismatch"
	// ReasonOtherInstance: the footer reference was written by another
	// Faraday instance (ignored).
	ReasonOtherInstance Reason = "other_instance"
	// ReasonVulnNotFound: the linked vuln no longer exists (ignored).
	ReasonVulnNotFound Reason = "vuln_not_found"

	// ReasonMethod: not a POST (405).
	ReasonMethod Reason = "method_not_allowed"
	// ReasonTooLarge: the body exceeds Limits.MaxBodyBytes (413).
	ReasonTooLarge Reason = "body_too_large"
	// ReasonUnauthorized: no valid token (401); the cause is never told.
	ReasonUnauthorized Reason = "unauthorized"
	// ReasonForbidden: the token's user may not update service_desk (403).
	ReasonForbidden Reason = "forbidden"
	// ReasonRateLimited: too many failed authentications from the address,
	// or too many deliveries with the token (429).
	ReasonRateLimited Reason = "rate_limited"
	// ReasonBadRequest: the body has no readable status, or a malformed
	// id (400).
	ReasonBadRequest Reason = "bad_request"
	// ReasonUnavailable: a store kept failing (503).
	ReasonUnavailable Reason = "unavailable"
)

// Outcome describes how one request was answered. It holds neither the
// token nor the description.
type Outcome struct {
	// Code is the HTTP status answered.
	Code int
	// Result and Reason are the answer's words.
	Result Result
	Reason Reason
	// Message details a 400.
	Message string
	// DeliveryID identifies the request in logs, outcomes and dead
	// letters.
	DeliveryID string
	// TicketID is the body's request id, if any.
	TicketID string
	// Vuln is the linked vuln the delivery was for, when known.
	Vuln faraday.VulnKey
	// Reference is the vuln named by the description's footer reference,
	// when there is one (from this instance or another).
	Reference faraday.VulnKey
	// SDPStatus is the ServiceDesk status delivered, when readable and
	// authenticated.
	SDPStatus string
	// Status is the Faraday status applied (or already there).
	Status faraday.Status
	// Err is the store error behind a 503, or a failure to settle the
	// claim on the link after the change was applied.
	Err error
	// Duration is how long the handler took.
	Duration time.Duration
}

// DeadLetter is a delivery that was authenticated and understood but could
// not be applied because a store kept failing. Pass it to Handler.Replay to
// try again. It holds neither the token nor the description.
type DeadLetter struct {
	DeliveryID string
	// At is when the delivery arrived.
	At time.Time
	// TicketID is the body's request id, if any.
	TicketID string
	// Reference is the vuln named by the footer reference, if any.
	Reference faraday.VulnKey
	// Vuln is the linked vuln, when the link was found.
	Vuln faraday.VulnKey
	// SDPStatus is the ServiceDesk status delivered.
	SDPStatus string
	// Err is the last store error.
	Err error
}

// answer renders the small JSON body of an outcome.
func (o *Outcome) answer(b []byte) []byte {
	switch o.Code {
	case 200:
		b = append(b, `{"result":`...)
		b = appendJSONString(b, string(o.Result))
		if o.Reason != "" {
			b = append(b, `,"reason":`...)
			b = appendJSONString(b, string(o.Reason))
		}
		if o.Vuln.VulnID != 0 {
			b = append(b, `,"vuln":`...)
			b = appendJSONString(b, o.Vuln.String())
		}
		if o.Status.Valid() {
			b = append(b, `,"status":`...)
			b = appendJSONString(b, o.Status.String())
		}
		return append(b, '}')
	default:
		b = append(b, `{"error":`...)
		b = appendJSONString(b, string(o.Reason))
		if o.Message != "" {
			b = append(b, `,"message":`...)
			b = appendJSONString(b, o.Message)
		}
		return append(b, '}')
	}
}

// appendJSONString appends s as a JSON string (ASCII-safe: every control
// character, quote, backslash and non-ASCII rune escaped).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		case r > 0xffff:
			r -= 0x10000
			hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
			b = append(b, '\\', 'u', hex[hi>>12&0xf], hex[hi>>8&0xf], hex[hi>>4&0xf], hex[hi&0xf])
			b = append(b, '\\', 'u', hex[lo>>12&0xf], hex[lo>>8&0xf], hex[lo>>4&0xf], hex[lo&0xf])
		default:
			b = append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
		}
	}
	return append(b, '"')
}
