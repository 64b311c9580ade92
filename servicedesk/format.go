package servicedesk

import (
	"fmt"
	"io"
)

// Format prints a one-line summary of the client (edition, API base and
// the kind of credentials) for every verb, so that no verb (%s, %q, %x,
// %t, …) can reach the credentials through fmt's printing of unexported
// fields. (A Client copied by value prints its fields, but the
// authenticator holds its key in a closure, which prints as an address.)
func (c *Client) Format(f fmt.State, _ rune) {
	if c == nil {
		_, _ = io.WriteString(f, "servicedesk.Client(nil)")
		return
	}
	base := "<nil>"
	if c.base != nil {
		base = c.base.String()
	}
	auth := "none"
	if c.auth != nil {
		auth = fmt.Sprintf("%T", c.auth)
	}
	_, _ = io.WriteString(f, "servicedesk.Client{edition: "+c.edition.String()+", base: "+base+", auth: "+auth+"}")
}
