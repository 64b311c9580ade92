package servicedesk

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// ID is an SDP entity id. SDP sends ids as JSON strings of digits (cloud ids
// have up to 18 digits, beyond float64 precision); ID also accepts a JSON
// number, read exactly, and always encodes as a string.
type ID string

// UnmarshalJSON accepts a JSON string, a JSON number or null.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case isNull(b):
		*id = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("id: %w", err)
		}
		*id = ID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id: want a string or a number, got %.32q", b)
	}
	*id = ID(n.String())
	return nil
}

// String returns the id as text.
func (id ID) String() string { return string(id) }

// validID reports whether id is a non-empty string of ASCII digits, the only
// form SDP uses; anything else is rejected before it reaches a URL path.
func validID(id ID) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}

func checkRequestID(id ID) error {
	if !validID(id) {
		return fmt.Errorf("servicedesk: invalid request id %q: want a non-empty string of digits", truncate(string(id), 40))
	}
	return nil
}

// DateTime is an instant as SDP sends it: {"value": "<epoch ms>",
// "display_value": "..."}. Only Millis is authoritative: Display follows the
// viewing user's personal format and time zone and must not be parsed.
type DateTime struct {
	Millis  int64  // milliseconds since the Unix epoch
	Display string // display_value, for humans only
}

// NewDateTime returns the DateTime of t, for use in writes.
func NewDateTime(t time.Time) *DateTime { return &DateTime{Millis: t.UnixMilli()} }

// Time returns the instant in UTC.
func (d DateTime) Time() time.Time { return time.UnixMilli(d.Millis).UTC() }

// UnmarshalJSON accepts {value, display_value} with value as a string or a
// number, or a bare string or number of milliseconds.
func (d *DateTime) UnmarshalJSON(b []byte) error {
	ms, disp, err := decodeValuePair(b)
	if err != nil {
		return fmt.Errorf("date-time: %w", err)
	}
	*d = DateTime{Millis: ms, Display: disp}
	return nil
}

// MarshalJSON writes the pair the way SDP sends it: value as a string of
// milliseconds, and display_value only when Display is set. Writes made
// with NewDateTime therefore carry only the value, as SDP expects.
func (d DateTime) MarshalJSON() ([]byte, error) { return marshalPair(d.Millis, d.Display) }

func marshalPair(ms int64, display string) ([]byte, error) {
	b := make([]byte, 0, 48+len(display))
	b = append(b, `{"value":"`...)
	b = strconv.AppendInt(b, ms, 10)
	b = append(b, '"')
	if display != "" {
		d, err := json.Marshal(display)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"display_value":`...)
		b = append(b, d...)
	}
	return append(b, '}'), nil
}

// Duration is a span as SDP sends it ({value, display_value} with value in
// milliseconds, for example onhold_time), or a bare number of milliseconds
// (time_elapsed).
type Duration struct {
	Millis  int64
	Display string
}

// Duration returns the span as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d.Millis) * time.Millisecond }

// UnmarshalJSON accepts the same forms as DateTime.
func (d *Duration) UnmarshalJSON(b []byte) error {
	ms, disp, err := decodeValuePair(b)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration{Millis: ms, Display: disp}
	return nil
}

// MarshalJSON writes the pair as DateTime does.
func (d Duration) MarshalJSON() ([]byte, error) { return marshalPair(d.Millis, d.Display) }

func decodeValuePair(b []byte) (int64, string, error) {
	b = bytes.TrimSpace(b)
	if isNull(b) {
		return 0, "", nil
	}
	if len(b) > 0 && b[0] == '{' {
		var p struct {
			Value   flexInt `json:"value"`
			Display string  `json:"display_value"`
		}
		if err := json.Unmarshal(b, &p); err != nil {
			return 0, "", err
		}
		return int64(p.Value), p.Display, nil
	}
	var v flexInt
	if err := v.UnmarshalJSON(b); err != nil {
		return 0, "", err
	}
	return int64(v), "", nil
}

// flexInt decodes a JSON number or a string holding an integer (old SDP
// builds send "row_count":"10" and "status_code":"2000"). An empty string
// and null decode as 0.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if isNull(b) {
		*n = 0
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*n = 0
			return nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// A number written with a fraction or exponent (2000.0, 2e3).
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return fmt.Errorf("want an integer, got %.32q", b)
		}
		v = int64(f)
	}
	*n = flexInt(v)
	return nil
}

// flexBool decodes a JSON boolean or the strings "true"/"false".
type flexBool bool

func (v *flexBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "true", `"true"`:
		*v = true
	case "false", `"false"`, "null", `""`:
		*v = false
	default:
		return fmt.Errorf("want a boolean, got %.32q", b)
	}
	return nil
}

func isNull(b []byte) bool { return string(b) == "null" }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// ResponseStatus is one entry of SDP's response_status.
type ResponseStatus struct {
	StatusCode int       `json:"status_code"`        // 2000 on success, 4000 on failure (details in Messages)
	Status     string    `json:"status"`             // "success" or "failed"
	Messages   []Message `json:"messages,omitempty"` // per-cause details
}

// Message is one entry of response_status.messages.
type Message struct {
	StatusCode int      `json:"status_code"`       // specific code, for example 4001 or 4012
	Type       string   `json:"type,omitempty"`    // "success", "failed", …
	Message    string   `json:"message,omitempty"` // text; from a message object, its display text
	Field      string   `json:"field,omitempty"`   // input field blamed, when SDP names one
	Fields     []string `json:"fields,omitempty"`  // fields blamed (4012 answers may list several)
}

// UnmarshalJSON decodes a response_status entry, accepting a status_code
// sent as a string.
func (s *ResponseStatus) UnmarshalJSON(b []byte) error {
	var w struct {
		StatusCode flexInt   `json:"status_code"`
		Status     string    `json:"status"`
		Messages   []Message `json:"messages"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = ResponseStatus{StatusCode: int(w.StatusCode), Status: w.Status, Messages: w.Messages}
	return nil
}

// UnmarshalJSON decodes a message whose message is a string or an object
// and whose fields is a list of names (or of anything else, kept as JSON).
func (m *Message) UnmarshalJSON(b []byte) error {
	var w struct {
		StatusCode flexInt           `json:"status_code"`
		Type       string            `json:"type"`
		Message    json.RawMessage   `json:"message"`
		Field      json.RawMessage   `json:"field"`
		Fields     []json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*m = Message{StatusCode: int(w.StatusCode), Type: w.Type, Message: looseText(w.Message), Field: looseText(w.Field)}
	for _, f := range w.Fields {
		if t := looseText(f); t != "" {
			m.Fields = append(m.Fields, t)
		}
	}
	return nil
}

// looseText turns a JSON string into its text, an object into its
// display_message, message or name member (the first present), and
// anything else into its compact JSON text.
func looseText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '{':
		var o map[string]json.RawMessage
		if json.Unmarshal(raw, &o) == nil {
			for _, k := range []string{"display_message", "message", "name", "field"} {
				if v, ok := o[k]; ok {
					if t := looseText(v); t != "" {
						return t
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// statusList decodes response_status as an object or an array of objects.
type statusList []ResponseStatus

func (l *statusList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case isNull(b):
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '[':
		var a []ResponseStatus
		if err := json.Unmarshal(b, &a); err != nil {
			return fmt.Errorf("response_status: %w", err)
		}
		*l = a
		return nil
	case len(b) > 0 && b[0] == '{':
		// The decoder has already checked b; decode it once, directly.
		*l = make(statusList, 1)
		if err := (*l)[0].UnmarshalJSON(b); err != nil {
			*l = nil
			return fmt.Errorf("response_status: %w", err)
		}
		return nil
	}
	return fmt.Errorf("response_status: want an object or an array, got %.32q", b)
}

// failed reports whether any entry reports a failure: status "failed" or a
// status code of 4000 or more, at the top level or in a message.
func (l statusList) failed() bool {
	for _, s := range l {
		if s.Status == "failed" || s.StatusCode >= 4000 {
			return true
		}
		for _, m := range s.Messages {
			if m.Type == "failed" || m.StatusCode >= 4000 {
				return true
			}
		}
	}
	return false
}

// succeeded reports whether the list holds at least one entry and every
// entry reports success: status_code 2000 or status "success".
func (l statusList) succeeded() bool {
	for _, s := range l {
		if s.StatusCode != 2000 && s.Status != "success" {
			return false
		}
	}
	return len(l) > 0 && !l.failed()
}

// envelope is the part of every SDP answer the client reads before the
// entity: response_status and, on lists, list_info.
type envelope struct {
	ResponseStatus statusList `json:"response_status"`
	ListInfo       *ListInfo  `json:"list_info"`
}

// answer is what do decodes a body into: a struct embedding envelope
// beside the entity, so that a body is parsed once.
type answer interface{ head() *envelope }

func (e *envelope) head() *envelope { return e }

// decodeEnvelope decodes the envelope of an SDP answer body.
func decodeEnvelope(body []byte) (*envelope, error) {
	var e envelope
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ListInfo is the list_info SDP returns with a page of a list.
type ListInfo struct {
	HasMoreRows bool   `json:"has_more_rows"`         // more rows follow this page
	RowCount    int    `json:"row_count"`             // rows in this page
	StartIndex  int    `json:"start_index"`           // 1-based index of the first row
	TotalCount  int    `json:"total_count,omitempty"` // all matching rows; set only when GetTotalCount was asked
	SortField   string `json:"sort_field,omitempty"`  // echoed sort field
	SortOrder   string `json:"sort_order,omitempty"`  // echoed sort order
	Page        int    `json:"page,omitempty"`        // page number, when the server pages by page
}

// UnmarshalJSON decodes list_info leniently (numbers and booleans may
// arrive as strings).
func (li *ListInfo) UnmarshalJSON(b []byte) error {
	var w struct {
		HasMoreRows flexBool `json:"has_more_rows"`
		RowCount    flexInt  `json:"row_count"`
		StartIndex  flexInt  `json:"start_index"`
		TotalCount  flexInt  `json:"total_count"`
		SortField   string   `json:"sort_field"`
		SortOrder   string   `json:"sort_order"`
		Page        flexInt  `json:"page"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("list_info: %w", err)
	}
	*li = ListInfo{
		HasMoreRows: bool(w.HasMoreRows), RowCount: int(w.RowCount), StartIndex: int(w.StartIndex),
		TotalCount: int(w.TotalCount), SortField: w.SortField, SortOrder: w.SortOrder, Page: int(w.Page),
	}
	return nil
}
