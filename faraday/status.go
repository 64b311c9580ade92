package faraday

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Status is a vulnerability's status. The zero value is not a status; it
// marshals with an error.
type Status int8

// The four statuses Faraday stores, in the order of its enum.
const (
	StatusOpen Status = iota + 1
	StatusClosed
	StatusReopened
	StatusRiskAccepted
)

// ErrInvalidStatus is wrapped by every error about a status that is not one
// of the four Faraday knows.
var ErrInvalidStatus = errors.New("faraday: invalid status")

// Statuses returns the four statuses in Faraday's enum order.
func Statuses() []Status {
	return []Status{StatusOpen, StatusClosed, StatusReopened, StatusRiskAccepted}
}

var statusNames = [...]string{"", "open", "closed", "re-opened", "risk-accepted"}

// String returns the name Faraday stores and the API writes: "open",
// "closed", "re-opened" or "risk-accepted". An invalid status prints as
// "Status(n)".
func (s Status) String() string {
	if !s.Valid() {
		return "Status(" + strconv.Itoa(int(s)) + ")"
	}
	return statusNames[s]
}

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool { return s >= StatusOpen && s <= StatusRiskAccepted }

// ParseStatus reads a status name in any case and with surrounding white
// space. The legacy input "opened" means open, as in Faraday's API. Anything
// else is an error wrapping ErrInvalidStatus that quotes the value.
func ParseStatus(text string) (Status, error) {
	v := strings.ToLower(strings.TrimSpace(text))
	if v == "opened" {
		return StatusOpen, nil
	}
	for i := StatusOpen; i <= StatusRiskAccepted; i++ {
		if statusNames[i] == v {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%w %s (want open, closed, re-opened or risk-accepted)", ErrInvalidStatus, quoteValue(text))
}

// MarshalText writes the status name; it fails for an invalid status.
func (s Status) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, fmt.Errorf("%w: cannot marshal %s", ErrInvalidStatus, s)
	}
	return []byte(statusNames[s]), nil
}

// UnmarshalText parses text with ParseStatus.
func (s *Status) UnmarshalText(text []byte) error {
	v, err := ParseStatus(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
