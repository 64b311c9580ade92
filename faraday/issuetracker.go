package faraday

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// ServiceDeskKey is the key of the ServiceDesk entry in the issue-tracker
// object. Faraday's public sources do not establish the commercial server's
// layout, so this package chooses it; entries under other keys (other
// trackers) are kept verbatim.
const ServiceDeskKey = "service_desk"

// ErrInvalidIssueTracker is wrapped by every error about an issue-tracker
// value that cannot be read.
var ErrInvalidIssueTracker = errors.New("faraday: invalid issuetracker")

// LinkState says whether a vuln's ticket exists yet.
type LinkState string

// The states of a vuln ↔ ticket link.
const (
	// LinkPending is an intent written before the ticket is created; it
	// carries the subject tag that finds the ticket after a crash.
	LinkPending LinkState = "pending"
	// LinkLinked means the ticket exists and its ids are known.
	LinkLinked LinkState = "linked"
)

// IncomingChange is the last change taken from the ticket and applied to the
// vuln.
type IncomingChange struct {
	// Status is the ServiceDesk status name as received.
	Status string `json:"status"`
	// ChangeID identifies the ticket change (for example the request's
	// last-updated time or a delivery id) so a repeated delivery is applied
	// once.
	ChangeID string `json:"change_id,omitempty"`
	// At is when the change was applied.
	At Time `json:"at,omitzero"`
}

// ServiceDeskEntry is the ServiceDesk entry of a vuln's issue-tracker column:
// the ticket the vuln was exported to and what was last pushed to it and
// taken from it. It is also the body of a Link.
type ServiceDeskEntry struct {
	// State is LinkPending or LinkLinked.
	State LinkState `json:"state"`
	// Tag is the subject tag that identifies the vuln's ticket, such as
	// "[FRD acme/123]".
	Tag string `json:"tag,omitempty"`
	// RequestID is the ServiceDesk request id (a string, as the API writes
	// ids).
	RequestID string `json:"request_id,omitempty"`
	// DisplayID is the id the ServiceDesk UI shows.
	DisplayID string `json:"display_id,omitempty"`
	// URL is the ticket's link in the ServiceDesk UI.
	URL string `json:"url,omitempty"`
	// Template is the request template used to create the ticket.
	Template string `json:"template,omitempty"`
	// CreatedAt is when the ticket was created.
	CreatedAt Time `json:"created_at,omitzero"`
	// LastPushedStatus is the ServiceDesk status last pushed to the ticket.
	LastPushedStatus string `json:"last_pushed_status,omitempty"`
	// LastPushedAt is when LastPushedStatus was pushed.
	LastPushedAt Time `json:"last_pushed_at,omitzero"`
	// EchoConsumed is set once the webhook delivery echoing
	// LastPushedStatus has been recognised and dropped.
	EchoConsumed bool `json:"echo_consumed,omitempty"`
	// LastIncoming is the last change applied from the ticket, if any.
	LastIncoming *IncomingChange `json:"last_incoming,omitempty"`

	// extra is the JSON object of the keys of the issue-tracker entry that
	// this version does not know (written by a newer version or by hand),
	// so that IssueTracker writes them back unchanged; "" when there are
	// none. A string keeps the entry comparable with ==. The link stores
	// do not keep it.
	extra string
}

// entryKeys are the JSON keys of ServiceDeskEntry's own fields.
var entryKeys = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeFor[ServiceDeskEntry]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}()

// Validate checks the entry's invariants: a known state, a tag on a pending
// entry and a request id on a linked one.
func (e *ServiceDeskEntry) Validate() error {
	switch e.State {
	case LinkPending:
		if strings.TrimSpace(e.Tag) == "" {
			return errors.New("pending entry without a tag")
		}
	case LinkLinked:
		if strings.TrimSpace(e.RequestID) == "" {
			return errors.New("linked entry without a request_id")
		}
	default:
		return fmt.Errorf("state %s (want %q or %q)", quoteValue(string(e.State)), LinkPending, LinkLinked)
	}
	return nil
}

// clone returns a deep copy.
func (e *ServiceDeskEntry) clone() *ServiceDeskEntry {
	if e == nil {
		return nil
	}
	c := *e
	if e.LastIncoming != nil {
		in := *e.LastIncoming
		c.LastIncoming = &in
	}
	return &c
}

// IssueTracker is a vuln's issue-tracker data: the ServiceDesk entry this
// package reads and writes, and the entries of other trackers kept verbatim.
//
// Faraday stores it as text (the "issuetracker" column, default "") holding
// a JSON object; the API's issuetracker_json form is the object itself.
// ParseIssueTracker and ColumnText convert the column text; MarshalJSON and
// UnmarshalJSON the API form.
type IssueTracker struct {
	// ServiceDesk is the ServiceDesk entry, nil when there is none.
	ServiceDesk *ServiceDeskEntry
	// Other holds every other key of the object, with its JSON value
	// unchanged.
	Other map[string]json.RawMessage
}

// IsEmpty reports whether there is no entry at all.
func (it IssueTracker) IsEmpty() bool { return it.ServiceDesk == nil && len(it.Other) == 0 }

// Clone returns a deep copy.
func (it IssueTracker) Clone() IssueTracker {
	return IssueTracker{ServiceDesk: it.ServiceDesk.clone(), Other: cloneRawMap(it.Other)}
}

// ParseIssueTracker reads the issuetracker column text. It accepts "" (the
// column default) and white space, "{}", a JSON object, and a JSON string
// whose content is one of those (text that was encoded twice). Anything else
// is an error wrapping ErrInvalidIssueTracker that says what was found.
func ParseIssueTracker(text string) (IssueTracker, error) {
	return parseIssueTracker([]byte(text), 0)
}

func parseIssueTracker(data []byte, depth int) (IssueTracker, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		return IssueTracker{}, nil
	}
	switch data[0] {
	case '{':
		return decodeIssueTrackerObject(data)
	case '"':
		if depth > 0 {
			return IssueTracker{}, fmt.Errorf("%w: string nested in a string (want a JSON object)", ErrInvalidIssueTracker)
		}
		var inner string
		if err := json.Unmarshal(data, &inner); err != nil {
			return IssueTracker{}, fmt.Errorf("%w: malformed JSON string: %v", ErrInvalidIssueTracker, jsonErrText(err))
		}
		return parseIssueTracker([]byte(inner), depth+1)
	}
	return IssueTracker{}, fmt.Errorf("%w: want a JSON object, found %s", ErrInvalidIssueTracker, jsonKind(data[0]))
}

func decodeIssueTrackerObject(data []byte) (IssueTracker, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return IssueTracker{}, fmt.Errorf("%w: malformed JSON object: %v", ErrInvalidIssueTracker, jsonErrText(err))
	}
	var it IssueTracker
	if sd, ok := raw[ServiceDeskKey]; ok {
		delete(raw, ServiceDeskKey)
		if !bytes.Equal(bytes.TrimSpace(sd), []byte("null")) {
			e, err := decodeServiceDeskEntry(sd)
			if err != nil {
				return IssueTracker{}, err
			}
			it.ServiceDesk = e
		}
	}
	if len(raw) > 0 {
		it.Other = raw
	}
	return it, nil
}

func decodeServiceDeskEntry(data []byte) (*ServiceDeskEntry, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: %s entry: %v", ErrInvalidIssueTracker, ServiceDeskKey, jsonErrText(err))
	}
	var extra map[string]json.RawMessage
	for k, v := range raw {
		if entryKeys[k] {
			continue
		}
		if extra == nil {
			extra = map[string]json.RawMessage{}
		}
		extra[k] = v
		delete(raw, k)
	}
	// Ids written as JSON numbers (by hand or by another tool) are read as
	// the strings this package writes.
	for _, k := range []string{"request_id", "display_id"} {
		v := bytes.TrimSpace(raw[k])
		if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			continue
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s entry: %s: want a string or an integer, found a number that is not an integer", ErrInvalidIssueTracker, ServiceDeskKey, k)
		}
		raw[k], _ = json.Marshal(strconv.FormatInt(n, 10))
	}
	known, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s entry: %w", ErrInvalidIssueTracker, ServiceDeskKey, err)
	}
	var e ServiceDeskEntry
	if err := json.Unmarshal(known, &e); err != nil {
		return nil, fmt.Errorf("%w: %s entry: %v", ErrInvalidIssueTracker, ServiceDeskKey, jsonErrText(err))
	}
	if len(extra) > 0 {
		b, err := json.Marshal(extra) // compact, keys sorted
		if err != nil {
			return nil, fmt.Errorf("%w: %s entry: %w", ErrInvalidIssueTracker, ServiceDeskKey, err)
		}
		e.extra = string(b)
	}
	if e.State == "" && e.RequestID != "" {
		e.State = LinkLinked
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s entry: %w", ErrInvalidIssueTracker, ServiceDeskKey, err)
	}
	return &e, nil
}

// jsonErrText describes a decoding error without quoting the input.
func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		f := te.Field
		if f == "" {
			f = "value"
		}
		return fmt.Sprintf("%s: want %s, found JSON %s", f, te.Type, te.Value)
	}
	return err.Error()
}

func jsonKind(b byte) string {
	switch {
	case b == '[':
		return "an array"
	case b == 't' || b == 'f':
		return "a boolean"
	case b == '-' || (b >= '0' && b <= '9'):
		return "a number"
	default:
		return "text that is not JSON"
	}
}

// MarshalJSON writes the API form: a JSON object, "{}" when empty. Other
// trackers' entries are written as they were read.
func (it IssueTracker) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	keys := make([]string, 0, len(it.Other)+1)
	for k := range it.Other {
		if k != ServiceDeskKey {
			keys = append(keys, k)
		}
	}
	if it.ServiceDesk != nil {
		keys = append(keys, ServiceDeskKey)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		if k == ServiceDeskKey {
			eb, err := marshalServiceDeskEntry(it.ServiceDesk)
			if err != nil {
				return nil, err
			}
			buf.Write(eb)
			continue
		}
		v := bytes.TrimSpace(it.Other[k])
		if !json.Valid(v) {
			return nil, fmt.Errorf("%w: entry %s is not valid JSON", ErrInvalidIssueTracker, quoteValue(k))
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshalServiceDeskEntry writes the entry with its Extra keys (a key of
// the entry's own fields wins over an Extra key of the same name).
func marshalServiceDeskEntry(e *ServiceDeskEntry) ([]byte, error) {
	eb, err := json.Marshal(e)
	if err != nil || e.extra == "" {
		return eb, err
	}
	var m, extra map[string]json.RawMessage
	if err := json.Unmarshal(eb, &m); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(e.extra), &extra); err != nil {
		return nil, fmt.Errorf("%w: %s entry: %w", ErrInvalidIssueTracker, ServiceDeskKey, err)
	}
	for k, v := range extra {
		if _, own := m[k]; !own && !entryKeys[k] {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads the API form, and also what a server that exposes the
// column may send: null, a JSON object, or a JSON string holding the column
// text.
func (it *IssueTracker) UnmarshalJSON(data []byte) error {
	v, err := parseIssueTracker(data, 0)
	if err != nil {
		return err
	}
	*it = v
	return nil
}

// ColumnText returns the text to store in the issuetracker column: the JSON
// object, "{}" when empty.
func (it IssueTracker) ColumnText() (string, error) {
	b, err := it.MarshalJSON()
	if err != nil {
		return "", err
	}
	return string(b), nil
}
