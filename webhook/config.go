package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"golang.org/x/time/rate"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
)

// Path is the path of the seed's webhook URL,
// https://<faraday>/_api/v3/integrations/mesd/update-issue. The handler
// itself answers on any path it is mounted at.
const Path = "/_api/v3/integrations/mesd/update-issue"

// HeaderToken is the header the seed's SDP webhook sets ("1" there; a
// token when the host's setup sends the token in the header instead).
const HeaderToken = "X-ServiceDesk-Token"

// StatusMap is what the handler needs of the status mapping: the action an
// incoming ServiceDesk status asks for, this instance's footer reference of
// a vuln (to recognise references written by another instance), and the
// check of a footer reference read from a description. *mapping.Mapper
// satisfies it; build it with mapping.WithReferenceKey, with the key the
// exporter that wrote the tickets uses.
type StatusMap interface {
	Incoming(sdpStatus string) mapping.Incoming
	Reference(workspace string, vulnID int64) mapping.Reference
	// VerifyReference reports whether a parsed footer reference was
	// written by us (its keyed MAC matches).
	VerifyReference(ref mapping.Reference) bool
	// ReferenceKeyed reports whether VerifyReference checks a keyed MAC
	// (true) or only a checksum anyone can compute (false).
	ReferenceKeyed() bool
}

// RoleLookup returns the role of a token's user. A nil role with a nil
// error means the user has none, which allows nothing.
type RoleLookup func(ctx context.Context, userID int64) (*faraday.Role, error)

// IDPolicy says how the body's "id" field is used. Under every policy a
// footer reference that does not verify (StatusMap.VerifyReference)
// applies nothing: the answer is 200 ignored with
// ReasonUnverifiedReference.
type IDPolicy int8

// The policies. Under every policy a footer reference that does not verify
// (StatusMap.VerifyReference) applies nothing: the answer is 200 ignored
// with ReasonUnverifiedReference.
const (
	// IDIfPresent (the default) finds the vuln by the description's
	// verified footer reference; a body without one is ignored
	// (ReasonNoReference), even when it has an "id". When the body's tail
	// also holds an id, it must be the ticket linked to that vuln, else
	// nothing is applied (ReasonMismatch). With the seed's template (no
	// "id" field) an id-like tail can only be description text, which can
	// therefore never choose the vuln.
	IDIfPresent IDPolicy = iota
	// IDRequired is for templates with the recommended "id" field placed
	// after "desc" (the operator asserts it): a body without a readable id
	// is a 400, and the id finds the vuln. A footer reference, when
	// present, must verify and name the same vuln.
	IDRequired
	// IDIgnored is for templates without an "id" field (the seed's): an
	// id-like field at the end of the body can only be description text,
	// so it is ignored and the verified footer reference decides.
	IDIgnored
)

// String returns the policy's name.
func (p IDPolicy) String() string {
	switch p {
	case IDIfPresent:
		return "if-present"
	case IDRequired:
		return "required"
	case IDIgnored:
		return "ignored"
	}
	return fmt.Sprintf("IDPolicy(%d)", int8(p))
}

// Limits bounds what the handler accepts. Zero fields take the defaults
// shown.
type Limits struct {
	// MaxBodyBytes is the largest body read (1 MiB); more is a 413.
	MaxBodyBytes int64
	// AuthFailures is the sustained rate of failed authentications
	// allowed per client address (1 per second), with a burst of
	// AuthFailureBurst (10). Beyond it a failure is answered 429; a valid
	// token is never held back by it.
	AuthFailures     rate.Limit
	AuthFailureBurst int
	// Deliveries is the rate of authenticated deliveries allowed per
	// token (100 per second), with a burst of DeliveryBurst (1000): SDP
	// sends every delivery from one executor with one token, so this is a
	// generous bound against a leaked token, not a throttle for SDP.
	Deliveries    rate.Limit
	DeliveryBurst int
	// MaxAddresses bounds how many client addresses the failure limiter
	// remembers (10000); idle ones are forgotten first.
	MaxAddresses int
}

// Retry bounds how the handler retries a failing vuln store before it
// answers 503 and hands the delivery to the dead-letter callback.
type Retry struct {
	// Attempts is the number of calls, the first included (3).
	Attempts int
	// Wait is the pause before the second call, doubled before each
	// further one (20ms).
	Wait time.Duration
}

// Config configures a Handler. Tokens, Links, Statuses and Vulns are
// required; everything else has a default.
type Config struct {
	// Tokens validates the presented token.
	Tokens faraday.TokenStore
	// Links finds the vuln of a ticket and records incoming changes.
	Links faraday.LinkStore
	// Statuses maps incoming ServiceDesk statuses (a *mapping.Mapper).
	Statuses StatusMap
	// Vulns reads and sets vuln statuses.
	Vulns VulnStore

	// Scopes are the token scopes accepted (service_desk only by default).
	Scopes []faraday.Scope
	// Roles, when set, looks up the token user's role, which must allow
	// updating the service_desk unit; otherwise the answer is 403.
	Roles RoleLookup
	// IDPolicy says how the body's "id" field is used.
	IDPolicy IDPolicy
	// AllowUnkeyedReferences lets NewHandler accept a StatusMap whose
	// footer references are not keyed (a mapping.Mapper built without
	// mapping.WithReferenceKey) under IDIfPresent or IDIgnored. RISK: an
	// unkeyed reference is a checksum anyone can compute, so any SDP user
	// who can write a request's description and set its status can then
	// change the status of any vuln. Leave it false unless every SDP user
	// who can edit requests is trusted to change Faraday vulns; IDRequired
	// (the id decides) needs no key.
	AllowUnkeyedReferences bool
	// EchoWindow is how long after a push an incoming status equal to it
	// is taken for its echo (2 minutes). Negative disables the loop guard.
	EchoWindow time.Duration
	// ClaimTimeout is how long a delivery being applied holds off
	// duplicates of it (30 seconds); a claim older than that (its process
	// died) no longer counts.
	ClaimTimeout time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// when finding a client's address; none by default.
	TrustedProxies []netip.Prefix
	// Limits bounds body size and rates.
	Limits Limits
	// Retry bounds the retries of a failing vuln store.
	Retry Retry
	// Logger receives one line per request (slog.Default() when nil).
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// DeadLetter receives each delivery whose change could not be applied
	// after the retries (it was answered 503), so the host can replay it
	// with Handler.Replay. It is called synchronously; keep it short.
	DeadLetter func(DeadLetter)
	// OnOutcome is called once per request, after the answer is decided
	// and before it is written. It is called synchronously.
	OnOutcome func(Outcome)
}

// Defaults of the Config fields left zero.
const (
	DefaultMaxBodyBytes     = 1 << 20
	DefaultAuthFailures     = rate.Limit(1)
	DefaultAuthFailureBurst = 10
	DefaultDeliveries       = rate.Limit(100)
	DefaultDeliveryBurst    = 1000
	DefaultMaxAddresses     = 10000
	DefaultRetryAttempts    = 3
	DefaultRetryWait        = 20 * time.Millisecond
	DefaultEchoWindow       = 2 * time.Minute
	DefaultClaimTimeout     = 30 * time.Second
	maxRetryAttempts        = 10
	maxRetryWait            = 5 * time.Second
)

// ErrInvalidConfig is wrapped by every error NewHandler returns.
var ErrInvalidConfig = errors.New("webhook: invalid config")

// withDefaults validates c and returns a copy with defaults filled in. It
// reports every problem at once.
func (c Config) withDefaults() (Config, error) {
	var errs []error
	bad := func(field, msg string) {
		errs = append(errs, fmt.Errorf("%w: %s %s", ErrInvalidConfig, field, msg))
	}
	if c.Tokens == nil {
		bad("Tokens", "is nil; a token store is required")
	}
	if c.Links == nil {
		bad("Links", "is nil; a link store is required")
	}
	if c.Statuses == nil {
		bad("Statuses", "is nil; the incoming status map (a *mapping.Mapper) is required")
	}
	if c.Vulns == nil {
		bad("Vulns", "is nil; a vuln store is required")
	}
	if len(c.Scopes) == 0 {
		c.Scopes = []faraday.Scope{faraday.ScopeServiceDesk}
	}
	for i, s := range c.Scopes {
		if !s.Valid() {
			bad(fmt.Sprintf("Scopes[%d]", i), fmt.Sprintf("is %q, not a Faraday token scope", string(s)))
		}
	}
	if c.IDPolicy < IDIfPresent || c.IDPolicy > IDIgnored {
		bad("IDPolicy", fmt.Sprintf("is %d, not one of IDIfPresent, IDRequired, IDIgnored", c.IDPolicy))
	} else if c.Statuses != nil && c.IDPolicy != IDRequired && !c.AllowUnkeyedReferences && !c.Statuses.ReferenceKeyed() {
		bad("Statuses", fmt.Sprintf("writes unkeyed footer references, which anyone can forge, and IDPolicy %s finds vulns by them: build the mapper with mapping.WithReferenceKey (the exporter's key), or use IDRequired, or set AllowUnkeyedReferences to accept the risk", c.IDPolicy))
	}
	switch {
	case c.EchoWindow == 0:
		c.EchoWindow = DefaultEchoWindow
	case c.EchoWindow < 0:
		c.EchoWindow = 0 // disabled
	}
	switch {
	case c.ClaimTimeout == 0:
		c.ClaimTimeout = DefaultClaimTimeout
	case c.ClaimTimeout < 0:
		bad("ClaimTimeout", fmt.Sprintf("is %v; it must be positive", c.ClaimTimeout))
	}
	for i, p := range c.TrustedProxies {
		if !p.IsValid() {
			bad(fmt.Sprintf("TrustedProxies[%d]", i), "is not a valid prefix")
		}
	}
	l := &c.Limits
	switch {
	case l.MaxBodyBytes == 0:
		l.MaxBodyBytes = DefaultMaxBodyBytes
	case l.MaxBodyBytes < 0:
		bad("Limits.MaxBodyBytes", fmt.Sprintf("is %d; it must be positive", l.MaxBodyBytes))
	}
	fillRate(&l.AuthFailures, &l.AuthFailureBurst, DefaultAuthFailures, DefaultAuthFailureBurst, "Limits.AuthFailures", "Limits.AuthFailureBurst", bad)
	fillRate(&l.Deliveries, &l.DeliveryBurst, DefaultDeliveries, DefaultDeliveryBurst, "Limits.Deliveries", "Limits.DeliveryBurst", bad)
	switch {
	case l.MaxAddresses == 0:
		l.MaxAddresses = DefaultMaxAddresses
	case l.MaxAddresses < 0:
		bad("Limits.MaxAddresses", fmt.Sprintf("is %d; it must be positive", l.MaxAddresses))
	}
	r := &c.Retry
	switch {
	case r.Attempts == 0:
		r.Attempts = DefaultRetryAttempts
	case r.Attempts < 0 || r.Attempts > maxRetryAttempts:
		bad("Retry.Attempts", fmt.Sprintf("is %d; it must be between 1 and %d", r.Attempts, maxRetryAttempts))
	}
	switch {
	case r.Wait == 0:
		r.Wait = DefaultRetryWait
	case r.Wait < 0 || r.Wait > maxRetryWait:
		bad("Retry.Wait", fmt.Sprintf("is %v; it must be between 0 and %v", r.Wait, maxRetryWait))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, errors.Join(errs...)
}

func fillRate(r *rate.Limit, burst *int, defRate rate.Limit, defBurst int, name, burstName string, bad func(string, string)) {
	switch {
	case *r == 0:
		*r = defRate
	case *r < 0:
		bad(name, fmt.Sprintf("is %v; it must be positive (rate.Inf for no limit)", float64(*r)))
	}
	switch {
	case *burst == 0:
		*burst = defBurst
	case *burst < 0:
		bad(burstName, fmt.Sprintf("is %d; it must be at least 1", *burst))
	}
}
