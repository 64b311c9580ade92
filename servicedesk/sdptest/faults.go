package sdptest

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"
)

// FaultKind is a kind of injected fault.
type FaultKind int

// Kinds of fault on API calls (Fault) and on trigger deliveries
// (DeliveryFault).
const (
	// NoFault is the zero FaultKind: no fault.
	NoFault FaultKind = iota
	// TooManyRequests answers 429 with SDP code 4015, with a Retry-After
	// header when Fault.RetryAfter is set. The call is not applied.
	TooManyRequests
	// ServerError answers Fault.Status (500, 502, 503 or 504) without
	// applying the call: 500 with SDP's 4004 body, 502-504 with a proxy's
	// HTML page.
	ServerError
	// Latency delays the call by Fault.Latency, then serves it.
	Latency
	// DropAfterCommit applies the call, then closes the connection without
	// an answer: the write happened, the client cannot know.
	DropAfterCommit
	// RateLimit enforces Fault.PerSecond matching calls per second of the
	// server's clock; calls beyond it get 429 with 4015 and Retry-After: 1.
	RateLimit
	// DeliveryFailed makes a trigger delivery fail without reaching its
	// URL (as when the webhook executor cannot connect).
	DeliveryFailed
	// DeliveryTwice sends a trigger delivery twice.
	DeliveryTwice
)

var faultNames = map[FaultKind]string{
	NoFault: "none", TooManyRequests: "429", ServerError: "server error", Latency: "latency",
	DropAfterCommit: "drop after commit", RateLimit: "rate limit", DeliveryFailed: "delivery failed",
	DeliveryTwice: "delivery twice",
}

// String names the kind.
func (k FaultKind) String() string {
	if n, ok := faultNames[k]; ok {
		return n
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// Fault is a fault injected on the API calls that match Method and Path.
type Fault struct {
	Kind FaultKind
	// Method matches the call's method; "" matches any.
	Method string
	// Path is a path.Match pattern on the path below the API base, for
	// example "/requests", "/requests/*" or "/requests/*/close" ('*' stops
	// at '/'); "" matches any path. The accounts endpoint's path is
	// "/oauth/v2/token".
	Path string
	// Times is how many matching calls the fault hits; 0 means all.
	// RateLimit ignores it.
	Times int
	// Status is ServerError's HTTP status.
	Status int
	// RetryAfter is TooManyRequests' Retry-After header value ("" for
	// none), for example "1".
	RetryAfter string
	// Latency is Latency's delay.
	Latency time.Duration
	// PerSecond is RateLimit's allowance.
	PerSecond int
}

func (f *Fault) validate() error {
	if f.Path != "" {
		if _, err := path.Match(f.Path, "/"); err != nil {
			return fmt.Errorf("sdptest: fault path %q: %w", f.Path, err)
		}
	}
	if f.Times < 0 {
		return fmt.Errorf("sdptest: fault times %d is negative", f.Times)
	}
	switch f.Kind {
	case TooManyRequests, DropAfterCommit:
	case ServerError:
		if f.Status < 500 || f.Status > 599 {
			return fmt.Errorf("sdptest: ServerError fault status %d: want 5xx", f.Status)
		}
	case Latency:
		if f.Latency <= 0 {
			return fmt.Errorf("sdptest: Latency fault needs a positive Latency, have %v", f.Latency)
		}
	case RateLimit:
		if f.PerSecond <= 0 {
			return fmt.Errorf("sdptest: RateLimit fault needs a positive PerSecond, have %d", f.PerSecond)
		}
	default:
		return fmt.Errorf("sdptest: %v is not a fault on API calls", f.Kind)
	}
	return nil
}

type faultRule struct {
	Fault
	used   int
	window int64 // unix second of the rate-limit window
	inWin  int
}

type faultState struct {
	mu       sync.Mutex
	rules    []*faultRule
	counts   map[FaultKind]int
	delivery []*deliveryRule
}

func (fs *faultState) init() { fs.counts = map[FaultKind]int{} }

type cannedAnswer struct {
	status     int
	body       []byte
	ctype      string
	retryAfter string
	code       int // SDP code of the body, 0 for none
}

// faultAction is what pick decided for a call.
type faultAction struct {
	kind    FaultKind
	latency time.Duration
	drop    bool
	answer  *cannedAnswer
}

// AddFault switches a fault on. Faults are tried in the order added; the
// first that matches a call and has hits left applies (a Latency fault
// also lets the next matching fault apply).
func (s *Server) AddFault(f Fault) error {
	if err := f.validate(); err != nil {
		return err
	}
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = append(fs.rules, &faultRule{Fault: f})
	return nil
}

// ClearFaults switches every fault off (API and delivery faults); the
// counts stay.
func (s *Server) ClearFaults() {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules, fs.delivery = nil, nil
}

// FaultCount returns how many times faults of this kind have fired.
func (s *Server) FaultCount(k FaultKind) int {
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.counts[k]
}

func (fs *faultState) pick(now time.Time, method, p string) faultAction {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var act faultAction
	for _, r := range fs.rules {
		if r.Method != "" && r.Method != method {
			continue
		}
		if r.Path != "" {
			if ok, _ := path.Match(r.Path, p); !ok {
				continue
			}
		}
		if r.Kind == RateLimit {
			sec := now.Unix()
			if sec != r.window {
				r.window, r.inWin = sec, 0
			}
			r.inWin++
			if r.inWin <= r.PerSecond {
				continue
			}
			fs.counts[RateLimit]++
			e := errRateLimit()
			act.kind = RateLimit
			act.answer = &cannedAnswer{status: e.status, body: encodeJSON(e.body()), ctype: jsonType, retryAfter: "1", code: 4015}
			return act
		}
		if r.Times > 0 && r.used >= r.Times {
			continue
		}
		r.used++
		fs.counts[r.Kind]++
		act.kind = r.Kind
		switch r.Kind {
		case Latency:
			act.latency += r.Latency
			continue
		case DropAfterCommit:
			act.drop = true
		case TooManyRequests:
			e := errRateLimit()
			act.answer = &cannedAnswer{status: e.status, body: encodeJSON(e.body()), ctype: jsonType, retryAfter: r.RetryAfter, code: 4015}
		case ServerError:
			if r.Status == http.StatusInternalServerError {
				e := errInternal()
				act.answer = &cannedAnswer{status: r.Status, body: encodeJSON(e.body()), ctype: jsonType, code: 4004}
			} else {
				page := fmt.Sprintf("<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>\n",
					r.Status, http.StatusText(r.Status), r.Status, http.StatusText(r.Status))
				act.answer = &cannedAnswer{status: r.Status, body: []byte(page), ctype: "text/html"}
			}
		}
		return act
	}
	return act
}

const jsonType = "application/json;charset=UTF-8"

// DeliveryFault is a fault on trigger deliveries.
type DeliveryFault struct {
	// Kind is DeliveryFailed or DeliveryTwice.
	Kind FaultKind
	// Trigger matches the trigger's name; "" matches any.
	Trigger string
	// Times is how many deliveries the fault hits; 0 means all.
	Times int
}

type deliveryRule struct {
	DeliveryFault
	used int
}

// AddDeliveryFault switches a fault on trigger deliveries on.
func (s *Server) AddDeliveryFault(f DeliveryFault) error {
	if f.Kind != DeliveryFailed && f.Kind != DeliveryTwice {
		return fmt.Errorf("sdptest: %v is not a delivery fault: want DeliveryFailed or DeliveryTwice", f.Kind)
	}
	if f.Times < 0 {
		return errors.New("sdptest: delivery fault times is negative")
	}
	fs := &s.faults
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.delivery = append(fs.delivery, &deliveryRule{DeliveryFault: f})
	return nil
}

func (fs *faultState) pickDelivery(trigger string) FaultKind {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, r := range fs.delivery {
		if r.Trigger != "" && r.Trigger != trigger {
			continue
		}
		if r.Times > 0 && r.used >= r.Times {
			continue
		}
		r.used++
		fs.counts[r.Kind]++
		return r.Kind
	}
	return NoFault
}
