package servicedesk

import (
	"fmt"
	"io"
)

// Format prints a one-line summary of the client (edition, API base and
// the kind of credentials) for every verb, so that no verb (%s, %q, %x,
// %t, …) can reach the credentials through fmt's printing of unexported
// fields. It is a value method so that a copied Client is covered too.
func (c Client) Format(f fmt.State, verb rune) { //nolint:gocritic // a value receiver covers both Client and *Client
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
