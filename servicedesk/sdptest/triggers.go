package sdptest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"
)

// TriggerAction is the request action a custom trigger runs on.
type TriggerAction int

// Actions a trigger can run on.
const (
	// OnEdit runs the trigger when a request is edited (through the API:
	// update, close; or through the fake UI: SetStatus, Edit).
	OnEdit TriggerAction = iota + 1
	// OnCreate runs the trigger when a request is created.
	OnCreate
)

const (
	actionEdit   = OnEdit
	actionCreate = OnCreate
)

// Trigger is a custom trigger with a webhook action, as an SDP admin
// configures one: it runs on the listed actions when its criteria hold and
// sends its payload to URL.
//
// Placeholders ${{request.<field>}} in URL, Headers and Payload are
// replaced by the request's value after the change: a lookup by its name
// (${{request.status}} is the status name), a time by its display value,
// a text as it is (descriptions are HTML). Replacement is raw, as SDP's
// is: a description holding a quote makes a JSON payload invalid. Set
// EscapeJSON to escape replaced values as JSON string contents instead. In
// URL the values are query-escaped.
type Trigger struct {
	Name string
	// On lists the actions; empty means OnEdit only.
	On []TriggerAction
	// Modified, when set, is the criterion "<field> is modified": the
	// trigger runs on an edit only if one of these fields changed, for
	// example "status.name" (Status > Name is modified). Empty means every
	// edit.
	Modified []string
	// When, when set, is further criteria the request (after the change)
	// must meet, with search_criteria's conditions and dotted fields.
	When []WhenCriterion
	// Method is the webhook's HTTP method; "" means POST.
	Method  string
	URL     string
	Headers map[string]string
	// ContentType is the payload's content type; "" means
	// application/json.
	ContentType string
	Payload     string
	EscapeJSON  bool
}

// WhenCriterion is one condition of Trigger.When, joined to the others by
// and: Field (dotted, as in search_criteria), Condition ("is", "is not",
// "contains", …) and Values (any one matching).
type WhenCriterion struct {
	Field     string
	Condition string
	Values    []string
}

var placeholderRE = regexp.MustCompile(`\$\{\{([^{}]*)\}\}`)

type trigger struct {
	Trigger
	when []criterion
}

// AddTrigger installs a custom trigger. It checks the trigger: a name, an
// absolute http(s) URL, known actions, and placeholders and fields that
// name request fields.
func (s *Server) AddTrigger(t Trigger) error {
	if strings.TrimSpace(t.Name) == "" {
		return errors.New("sdptest: trigger has no name")
	}
	u, err := url.Parse(t.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("sdptest: trigger %q: URL %q is not an absolute http(s) URL", t.Name, t.URL)
	}
	for _, a := range t.On {
		if a != OnEdit && a != OnCreate {
			return fmt.Errorf("sdptest: trigger %q: unknown action %d", t.Name, a)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sample := s.render(&reqRec{status: s.cat.defStatus, template: s.cat.defTemplate})
	known := func(f string) bool {
		first, _, _ := strings.Cut(f, ".")
		_, ok := sample[first]
		return ok
	}
	texts := []string{t.URL, t.Payload}
	for _, v := range t.Headers {
		texts = append(texts, v)
	}
	for _, text := range texts {
		for _, m := range placeholderRE.FindAllStringSubmatch(text, -1) {
			f, ok := strings.CutPrefix(m[1], "request.")
			if !ok || !known(f) {
				return fmt.Errorf("sdptest: trigger %q: placeholder %q names no request field", t.Name, m[0])
			}
		}
	}
	for _, f := range t.Modified {
		if !known(f) {
			return fmt.Errorf("sdptest: trigger %q: Modified field %q is not a request field", t.Name, f)
		}
	}
	tr := &trigger{Trigger: t}
	tr.Headers = make(map[string]string, len(t.Headers))
	for k, v := range t.Headers {
		tr.Headers[k] = v
	}
	tr.On = append([]TriggerAction(nil), t.On...)
	tr.Modified = append([]string(nil), t.Modified...)
	for i, w := range t.When {
		raw, _ := json.Marshal(map[string]any{"field": w.Field, "condition": w.Condition, "values": w.Values})
		c, e := parseCriterion(raw, known)
		if e != nil {
			return fmt.Errorf("sdptest: trigger %q: When[%d]: %s", t.Name, i, e.msgs[0].message)
		}
		tr.when = append(tr.when, c)
	}
	s.hooks.mu.Lock()
	s.hooks.triggers = append(s.hooks.triggers, tr)
	s.hooks.mu.Unlock()
	return nil
}

// RemoveTriggers removes every trigger.
func (s *Server) RemoveTriggers() {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	s.hooks.triggers = nil
}

func (t *trigger) runsOn(a TriggerAction) bool {
	if len(t.On) == 0 {
		return a == OnEdit
	}
	for _, x := range t.On {
		if x == a {
			return true
		}
	}
	return false
}

// Delivery is one webhook call a trigger made (or failed to make).
type Delivery struct {
	Seq       int // 1-based, in the order deliveries finished
	Trigger   string
	RequestID string
	Method    string
	URL       string
	Header    http.Header
	Body      []byte
	// Status and Answer are the receiver's HTTP status and body (capped at
	// 64 KiB); Err says why there was no answer.
	Status int
	Answer []byte
	Err    string
	// Fault is the delivery fault that hit it: DeliveryFailed, or
	// DeliveryTwice on both copies.
	Fault FaultKind
	Time  time.Time
}

// deliverer sends deliveries one at a time, in the order of the edits that
// caused them, on a goroutine of its own.
type deliverer struct {
	hc      *http.Client
	ownHC   bool
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*Delivery
	closed  bool
	done    []Delivery
	changed chan struct{}
	stopped chan struct{}

	triggers []*trigger
}

func newDeliverer(s *Server, hc *http.Client) *deliverer {
	d := &deliverer{hc: hc, changed: make(chan struct{}), stopped: make(chan struct{})}
	if hc == nil {
		d.hc = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
		d.ownHC = true
	}
	d.cond = sync.NewCond(&d.mu)
	d.ctx, d.cancel = context.WithCancel(context.Background())
	go d.run(s)
	return d
}

// fire queues the deliveries of the triggers matching a change. before is
// nil on create. It runs with the server's lock held.
func (d *deliverer) fire(a TriggerAction, before, after map[string]any, r *reqRec) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	for _, t := range d.triggers {
		if !t.runsOn(a) || !changed(t.Modified, before, after) || !matchAll(t.when, after) {
			continue
		}
		method := t.Method
		if method == "" {
			method = http.MethodPost
		}
		h := http.Header{}
		ct := t.ContentType
		if ct == "" {
			ct = "application/json"
		}
		h.Set("Content-Type", ct)
		h.Set("User-Agent", "ServiceDeskPlus-Webhook (sdptest)")
		for k, v := range t.Headers {
			h.Set(k, substitute(v, after, t.EscapeJSON, false))
		}
		d.queue = append(d.queue, &Delivery{
			Trigger: t.Name, RequestID: r.id, Method: method,
			URL:    substitute(t.URL, after, false, true),
			Header: h, Body: []byte(substitute(t.Payload, after, t.EscapeJSON, false)),
		})
	}
	d.cond.Signal()
}

func changed(fields []string, before, after map[string]any) bool {
	if before == nil || len(fields) == 0 {
		return true
	}
	for _, f := range fields {
		a := lookupPath(before, f)
		b := lookupPath(after, f)
		if !reflect.DeepEqual(a, b) {
			return true
		}
	}
	return false
}

// substitute replaces ${{request.x}} placeholders with the request's
// values: raw, JSON-escaped or query-escaped.
func substitute(text string, req map[string]any, escapeJSON, query bool) string {
	return placeholderRE.ReplaceAllStringFunc(text, func(m string) string {
		f := strings.TrimPrefix(placeholderRE.FindStringSubmatch(m)[1], "request.")
		v := placeholderValue(req, f)
		switch {
		case query:
			return url.QueryEscape(v)
		case escapeJSON:
			b, _ := json.Marshal(v)
			return string(b[1 : len(b)-1])
		}
		return v
	})
}

func placeholderValue(req map[string]any, f string) string {
	var cur any = req
	for _, p := range strings.Split(f, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = m[p]
	}
	if m, ok := cur.(map[string]any); ok {
		if v, ok := m["display_value"]; ok {
			cur = v
		} else if v, ok := m["name"]; ok {
			cur = v
		}
	}
	t, _ := valueText(cur)
	return t
}

func (d *deliverer) run(s *Server) {
	defer close(d.stopped)
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if d.closed {
			d.mu.Unlock()
			return
		}
		dl := d.queue[0]
		d.queue = d.queue[1:]
		d.mu.Unlock()

		switch k := s.faults.pickDelivery(dl.Trigger); k {
		case DeliveryFailed:
			dl.Fault = k
			dl.Err = "injected fault: the delivery did not reach its URL"
			d.finish(s, *dl)
		case DeliveryTwice:
			dl.Fault = k
			second := *dl
			d.finish(s, d.send(*dl))
			d.finish(s, d.send(second))
		default:
			d.finish(s, d.send(*dl))
		}
	}
}

func (d *deliverer) send(dl Delivery) Delivery {
	req, err := http.NewRequestWithContext(d.ctx, dl.Method, dl.URL, bytes.NewReader(dl.Body))
	if err != nil {
		dl.Err = err.Error()
		return dl
	}
	req.Header = dl.Header.Clone()
	resp, err := d.hc.Do(req)
	if err != nil {
		dl.Err = err.Error()
		return dl
	}
	defer func() { _ = resp.Body.Close() }()
	dl.Status = resp.StatusCode
	dl.Answer, _ = io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return dl
}

func (d *deliverer) finish(s *Server, dl Delivery) {
	dl.Time = s.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	dl.Seq = len(d.done) + 1
	dl.Header = dl.Header.Clone()
	d.done = append(d.done, dl)
	close(d.changed)
	d.changed = make(chan struct{})
}

func (d *deliverer) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
	d.cancel()
	<-d.stopped
	if d.ownHC {
		d.hc.CloseIdleConnections()
	}
}

// Deliveries returns the deliveries made so far, in order.
func (s *Server) Deliveries() []Delivery {
	d := s.hooks
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Delivery(nil), d.done...)
}

// Wait blocks until at least n deliveries have been made (or have failed)
// and returns them all, or returns ctx's error with the deliveries made so
// far.
func (s *Server) Wait(ctx context.Context, n int) ([]Delivery, error) {
	d := s.hooks
	for {
		d.mu.Lock()
		got, ch := len(d.done), d.changed
		out := append([]Delivery(nil), d.done...)
		d.mu.Unlock()
		if got >= n {
			return out, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return out, fmt.Errorf("sdptest: waiting for %d deliveries, have %d: %w", n, got, ctx.Err())
		}
	}
}

// PendingDeliveries returns how many deliveries are queued and not yet
// made.
func (s *Server) PendingDeliveries() int {
	d := s.hooks
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}
