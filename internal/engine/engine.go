package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
)

// Defaults of Config.
const (
	DefaultConcurrency = 4
	// DefaultClaimTimeout is how long an incoming change claimed by the
	// webhook (or another reconcile) holds off the incoming reconcile; the
	// webhook handler's default.
	DefaultClaimTimeout = 30 * time.Second
	// DefaultClockSkew is how far apart ServiceDesk's clock and ours may
	// be (see Config.ClockSkew).
	DefaultClockSkew = 5 * time.Second
)

// Config configures an Engine. SDP, Mapping and Links are required.
type Config struct {
	// SDP is the ServiceDesk client.
	SDP *servicedesk.Client
	// Mapping is the integration's configuration. Prepare validates it and
	// checks it against the instance; the Engine never changes it.
	Mapping *mapping.Config
	// Links keeps the vuln ↔ ticket links (a faraday.FileLinkStore, a
	// faraday.MemoryLinkStore or the host's own).
	Links faraday.LinkStore
	// Concurrency is how many vulns are worked on at once
	// (DefaultConcurrency).
	Concurrency int
	// Rate, when positive, bounds the SDP writes (creates, updates,
	// closes) per second, with bursts of Burst (at least 1). The client's
	// own limiter (servicedesk.WithRateLimit) bounds every call instead.
	Rate  rate.Limit
	Burst int
	// ClosureInfo is sent with a close pushed for a closed status; nil
	// sends none. Closure rules of the instance may require fields (a
	// 4003 answer lists them).
	ClosureInfo *servicedesk.ClosureInfo
	// ClaimTimeout is how long the incoming reconcile leaves a change the
	// webhook has claimed but not finished alone (DefaultClaimTimeout, as
	// the handler's own ClaimTimeout).
	ClaimTimeout time.Duration
	// ClockSkew is how far apart ServiceDesk's clock and this host's may
	// be (DefaultClockSkew). The incoming reconcile compares a ticket's
	// last-updated time (SDP's clock) with the time of our last push (ours)
	// to tell a push that never arrived from a change made in SDP after
	// it; within ClockSkew of each other it cannot, and reports the vuln
	// with ErrAmbiguousChange.
	ClockSkew time.Duration
	// PendingGrace, when positive, is how long a pending intent written by
	// another run is taken for a create in progress there and left alone
	// (the vuln is Skipped); an older one is taken for a crashed run's and
	// finished with CreateOnce. Zero (the default) finishes every pending
	// intent at once, which suits one exporting process at a time; set it
	// above the longest create when several replicas export the same
	// vulns.
	PendingGrace time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger receives one line per failed vuln and per stop; nil is
	// silent.
	Logger *slog.Logger
}

// Engine exports vulns, pushes their statuses and reconciles tickets.
// Make it with New and call Prepare before the other methods. It is safe
// for concurrent use, but runs that share a link store should not export
// the same vulns at the same time (see Export).
type Engine struct {
	cfg     Config
	limiter *rate.Limiter
	// learned keeps the mandatory fields SDP named in 4012 answers, so the
	// next Prepare reports them as configuration problems.
	learned servicedesk.MandatoryFieldCache

	mu       sync.RWMutex
	prepared *prepared
}

// prepared is what Prepare found.
type prepared struct {
	mapper      *mapping.Mapper
	requesterID servicedesk.ID
	catalog     *mapping.Catalog
	// closed holds the normalised names of statuses whose internal name is
	// Closed: pushing one is a close, not an update.
	closed   map[string]bool
	warnings []string
}

// New checks cfg and returns an Engine. It does no I/O.
func New(cfg Config) (*Engine, error) {
	var bad []string
	if cfg.SDP == nil {
		bad = append(bad, "SDP client is nil")
	}
	if cfg.Mapping == nil {
		bad = append(bad, "Mapping config is nil")
	}
	if cfg.Links == nil {
		bad = append(bad, "Links store is nil")
	}
	if cfg.Concurrency < 0 {
		bad = append(bad, fmt.Sprintf("Concurrency %d is negative", cfg.Concurrency))
	}
	if cfg.Rate < 0 {
		bad = append(bad, fmt.Sprintf("Rate %v is negative", cfg.Rate))
	}
	if cfg.Rate > 0 && cfg.Rate != rate.Inf && cfg.Burst < 1 {
		bad = append(bad, fmt.Sprintf("Burst %d must be at least 1 with a Rate", cfg.Burst))
	}
	if cfg.ClaimTimeout < 0 {
		bad = append(bad, fmt.Sprintf("ClaimTimeout %v is negative", cfg.ClaimTimeout))
	}
	if cfg.PendingGrace < 0 {
		bad = append(bad, fmt.Sprintf("PendingGrace %v is negative", cfg.PendingGrace))
	}
	if cfg.ClockSkew < 0 {
		bad = append(bad, fmt.Sprintf("ClockSkew %v is negative", cfg.ClockSkew))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("engine: invalid config: %s", strings.Join(bad, "; "))
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.ClaimTimeout == 0 {
		cfg.ClaimTimeout = DefaultClaimTimeout
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg}
	if cfg.Rate > 0 && cfg.Rate != rate.Inf {
		e.limiter = rate.NewLimiter(cfg.Rate, cfg.Burst)
	}
	return e, nil
}

// ErrNotPrepared is returned by the methods that need Prepare to have
// succeeded first.
var ErrNotPrepared = errors.New("engine: Prepare has not succeeded")

// Mapper returns the mapper Prepare built, or nil before Prepare succeeded.
func (e *Engine) Mapper() *mapping.Mapper {
	p := e.state()
	if p == nil {
		return nil
	}
	return p.mapper
}

// RequesterID returns the id the requester was resolved to by Prepare, or
// "" before Prepare succeeded.
func (e *Engine) RequesterID() servicedesk.ID {
	p := e.state()
	if p == nil {
		return ""
	}
	return p.requesterID
}

// Catalog returns the catalogue Prepare fetched (the names the
// configuration was checked against), or nil before Prepare succeeded. It
// is shared: read it, do not change it.
func (e *Engine) Catalog() *mapping.Catalog {
	p := e.state()
	if p == nil {
		return nil
	}
	return p.catalog
}

// Warnings returns what Prepare could not check (for example dropdown
// fields whose options the API does not list), one sentence each.
func (e *Engine) Warnings() []string {
	p := e.state()
	if p == nil {
		return nil
	}
	return append([]string(nil), p.warnings...)
}

func (e *Engine) state() *prepared {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.prepared
}

// ConfigError reports a configuration that cannot work with the instance:
// every problem found by mapping's Validate and Check, and the requester
// when it cannot be resolved. errors.As finds Problems in it.
type ConfigError struct {
	// Problems lists every problem with its JSON path.
	Problems mapping.Problems
}

// Error lists the problems.
func (e *ConfigError) Error() string {
	return "engine: the configuration does not fit the ServiceDesk instance: " + e.Problems.Error()
}

// Unwrap returns the problems, which match mapping.ErrInvalidConfig.
func (e *ConfigError) Unwrap() error { return e.Problems }

// Prepare readies the engine for a run: it validates the configuration,
// resolves the requester's login name (or id) to an SDP user id, fetches
// the catalogue the configuration names (priorities, statuses, templates
// and their layouts, categories with the subcategories and items
// configured, groups, technicians, users of search fields, the options of
// urgency, impact and site), and checks the configuration against it,
// together with the mandatory fields SDP has named in 4012 answers to this
// engine. Every configuration problem comes back at once in a
// *ConfigError; a failing call comes back as the client's error. Prepare
// may be called again (after a 4012 stopped a run, or the instance
// changed); until it succeeds the previous preparation stays in force.
func (e *Engine) Prepare(ctx context.Context) error {
	cfg := e.cfg.Mapping
	if err := cfg.Validate(); err != nil {
		var ps mapping.Problems
		if errors.As(err, &ps) {
			return &ConfigError{Problems: ps}
		}
		return err
	}
	var extra mapping.Problems
	cat := &mapping.Catalog{}
	p := &prepared{catalog: cat, closed: map[string]bool{}}

	id, user, prob, err := e.resolveRequester(ctx, cfg.Requester)
	if err != nil {
		return err
	}
	if prob != nil {
		extra = append(extra, *prob)
	}
	p.requesterID = id
	if user != nil {
		cat.Users = append(cat.Users, catalogUser(user))
	}
	if err := e.fetchCatalog(ctx, cfg, cat, p, &extra); err != nil {
		return err
	}
	for _, t := range cfg.Templates {
		for _, key := range []string{t.ID, t.Name} {
			if key == "" {
				continue
			}
			if fields := e.learned.Fields(servicedesk.ID(key)); len(fields) > 0 {
				if cat.Mandatory == nil {
					cat.Mandatory = map[string][]string{}
				}
				cat.Mandatory[key] = fields
			}
		}
	}
	var ps mapping.Problems
	if err := cfg.Check(cat); err != nil && !errors.As(err, &ps) {
		return err
	}
	ps = append(ps, extra...)
	if len(ps) > 0 {
		return &ConfigError{Problems: ps}
	}
	m, err := mapping.New(cfg)
	if err != nil {
		var ps mapping.Problems
		if errors.As(err, &ps) {
			return &ConfigError{Problems: ps}
		}
		return err
	}
	p.mapper = m
	e.mu.Lock()
	e.prepared = p
	e.mu.Unlock()
	return nil
}

// resolveRequester finds the requester's id. A name SDP does not know, or
// that several users answer to, is a configuration problem.
func (e *Engine) resolveRequester(ctx context.Context, r mapping.Requester) (servicedesk.ID, *servicedesk.User, *mapping.Problem, error) {
	sdp := e.cfg.SDP
	if r.ID != "" {
		u, err := sdp.Users.Get(ctx, servicedesk.ID(strings.TrimSpace(r.ID)))
		if errors.Is(err, servicedesk.ErrNotFound) {
			return "", nil, &mapping.Problem{Path: "requester.id", Message: fmt.Sprintf("no ServiceDesk user has id %q", r.ID)}, nil
		}
		if err != nil {
			return "", nil, nil, fmt.Errorf("engine: reading the requester: %w", err)
		}
		return u.ID, u, nil, nil
	}
	u, err := sdp.Users.Find(ctx, r.LoginName)
	var amb *servicedesk.AmbiguousError
	var nf *servicedesk.UserNotFoundError
	switch {
	case errors.As(err, &amb):
		names := make([]string, 0, len(amb.Candidates))
		for _, c := range amb.Candidates {
			names = append(names, fmt.Sprintf("%s (login %s, id %s)", c.Name, c.LoginName, c.ID))
		}
		return "", nil, &mapping.Problem{Path: "requester.login_name", Message: fmt.Sprintf(
			"%q names %d ServiceDesk users (%s); give a login name or an id that names one", r.LoginName, len(names), strings.Join(names, ", "))}, nil
	case errors.As(err, &nf):
		msg := fmt.Sprintf("no ServiceDesk user has the login name %q", r.LoginName)
		sug := ""
		if len(nf.Near) > 0 {
			sug = nf.Near[0].LoginName
			msg += fmt.Sprintf("; did you mean %q?", sug)
		}
		return "", nil, &mapping.Problem{Path: "requester.login_name", Message: msg, Suggestion: sug}, nil
	case err != nil:
		return "", nil, nil, fmt.Errorf("engine: finding the requester: %w", err)
	}
	return u.ID, u, nil, nil
}

func catalogUser(u *servicedesk.User) mapping.CatalogUser {
	return mapping.CatalogUser{ID: string(u.ID), Name: u.Name, LoginName: u.LoginName, EmailID: u.EmailID}
}

// now returns the engine's clock.
func (e *Engine) now() time.Time { return e.cfg.Now() }

// normStatus compares SDP status names as the mapping does: without case
// and surrounding space.
func normStatus(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func sameStatus(a, b string) bool { return normStatus(a) == normStatus(b) }
