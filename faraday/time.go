package faraday

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Time is an instant as Faraday's API writes it: ISO-8601 in UTC with an
// explicit "+00:00" offset and microseconds when they are not zero
// ("2024-04-22T14:47:16.277896+00:00"). The zero Time marshals as JSON null
// and null unmarshals to the zero Time.
type Time struct {
	time.Time
}

// ErrInvalidTime is wrapped by every error about a date Faraday could not
// have written.
var ErrInvalidTime = errors.New("faraday: invalid time")

// NewTime returns t as a Time (in UTC, cut to microseconds like Faraday's
// database).
func NewTime(t time.Time) Time {
	if t.IsZero() {
		return Time{}
	}
	return Time{t.UTC().Truncate(time.Microsecond)}
}

const (
	layoutMicro = "2006-01-02T15:04:05.000000-07:00"
	layoutSec   = "2006-01-02T15:04:05-07:00"
)

// String returns the API form, or "" for the zero Time.
func (t Time) String() string {
	if t.IsZero() {
		return ""
	}
	u := t.UTC()
	if u.Nanosecond()/1000 == 0 {
		return u.Format(layoutSec)
	}
	return u.Format(layoutMicro)
}

// ParseTime reads a date in the forms Faraday writes: ISO-8601 with "T" or a
// space between date and time, optional fraction, and an optional offset
// ("+00:00" or "Z"); without an offset the time is UTC, as Faraday keeps
// naive UTC in its database ("2024-04-22 14:47:07" in the CSV export).
// The instant 0001-01-01T00:00:00Z reads as the zero Time, which means "no
// time".
func ParseTime(text string) (Time, error) {
	layouts := [...]string{
		"2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999",
		"2006-01-02 15:04:05.999999999",
	}
	for _, l := range layouts {
		if v, err := time.Parse(l, text); err == nil {
			return NewTime(v), nil
		}
	}
	return Time{}, fmt.Errorf("%w %s (want ISO-8601 such as 2024-04-22T14:47:16.277896+00:00)", ErrInvalidTime, quoteValue(text))
}

// MarshalJSON writes the API form, or null for the zero Time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON reads null or a string in a form ParseTime accepts.
func (t *Time) UnmarshalJSON(data []byte) error {
	if bytes.Equal(data, []byte("null")) {
		*t = Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%w: want a JSON string or null", ErrInvalidTime)
	}
	v, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalText writes the API form, as MarshalJSON does, or no text for the
// zero Time. It replaces time.Time's method, which would write RFC 3339
// with nanoseconds and "Z" and disagree with the JSON form.
func (t Time) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText reads every form ParseTime accepts (the API's and the CSV
// export's naive "2024-04-22 14:47:07"); empty text is the zero Time.
func (t *Time) UnmarshalText(text []byte) error {
	if len(text) == 0 {
		*t = Time{}
		return nil
	}
	v, err := ParseTime(string(text))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// AppendText appends what MarshalText writes (it replaces time.Time's
// method, for the same reason).
func (t Time) AppendText(b []byte) ([]byte, error) { return append(b, t.String()...), nil }
