package webhook

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// The seed's payload, and the recommended one with "id" after "desc", as
// an administrator types them into SDP's webhook form.
const (
	seedPayload = "{\n\"status\": \"${{request.status}}\",\n\"desc\": \"${{request.description}}\",\n\"Authorization\": \"TOKEN\"\n}"
	idPayload   = "{\n\"status\": \"${{request.status}}\",\n\"desc\": \"${{request.description}}\",\n\"id\": \"${{request.id}}\",\n\"Authorization\": \"TOKEN\"\n}"
)

// e2e is a fake SDP whose trigger delivers to the handler over loopback.
type e2e struct {
	*fixture
	sdp    *sdptest.Server
	client *servicedesk.Client
	ticket string
}

func newE2E(t *testing.T, payload string) *e2e { return newE2EMode(t, payload, false) }

// newE2EMode is newE2E with the trigger substituting JSON-escaped values
// when escape is set.
func newE2EMode(t *testing.T, payload string, escape bool) *e2e {
	t.Helper()
	f := newFixture(t, nil)
	hook := httptest.NewServer(f.h)
	t.Cleanup(hook.Close)
	sdp := sdptest.NewServer()
	t.Cleanup(sdp.Close)
	err := sdp.AddTrigger(sdptest.Trigger{
		Name:       "Faraday Status Sync",
		Modified:   []string{"status.name"},
		URL:        hook.URL + Path,
		Headers:    map[string]string{HeaderToken: "1"},
		Payload:    strings.Replace(payload, "TOKEN", f.valid, 1),
		EscapeJSON: escape,
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := servicedesk.NewClient(sdp.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken))
	if err != nil {
		t.Fatal(err)
	}
	// The vuln's ticket: its description holds a quote, a backslash and a
	// line break, which SDP pastes raw into the payload.
	desc := "<div>The \"user\" field of C:\\inetpub\\login.aspx is injectable.\nSee the scanner output.</div>" + f.footer(vulnA)
	req, err := c.Requests.Create(context.Background(), &servicedesk.RequestInput{Subject: "[FRD acme/1] SQL injection", Description: desc})
	if err != nil {
		t.Fatal(err)
	}
	ticket := string(req.ID)
	// The export linked the vuln to the new ticket.
	if _, err := faraday.UpdateLink(context.Background(), f.links, vulnA, 0, func(l *faraday.Link) error {
		l.RequestID = ticket
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return &e2e{fixture: f, sdp: sdp, client: c, ticket: ticket}
}

func (e *e2e) wait(t *testing.T, n int) []sdptest.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := e.sdp.Wait(ctx, n)
	if err != nil {
		t.Fatalf("waiting for %d deliveries: %v (got %d)", n, err, len(ds))
	}
	return ds
}

// TestEndToEnd: a technician resolves the ticket in SDP's UI, the trigger
// fires with the raw payload (not valid JSON), and the vuln is closed.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, payload string }{{"seed payload", seedPayload}, {"payload with id", idPayload}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newE2E(t, c.payload)
			if err := e.sdp.SetStatus(e.ticket, "Resolved"); err != nil {
				t.Fatal(err)
			}
			ds := e.wait(t, 1)
			d := ds[0]
			if json.Valid(d.Body) {
				t.Fatalf("the delivery is valid JSON; the test needs raw substitution: %s", d.Body)
			}
			if !strings.Contains(string(d.Body), `"user" field of C:\inetpub`) {
				t.Fatalf("the description was not pasted raw: %.200s", d.Body)
			}
			if d.Status != 200 || string(d.Answer) != ansUpdatedClosed {
				t.Fatalf("delivery answered %d %s (%s)", d.Status, d.Answer, d.Err)
			}
			if got := e.status(t, vulnA); got != faraday.StatusClosed {
				t.Fatalf("vuln is %v", got)
			}
			link, _ := e.links.Get(context.Background(), vulnA)
			if link.LastIncoming == nil || link.LastIncoming.Status != "Resolved" {
				t.Fatalf("LastIncoming %+v", link.LastIncoming)
			}
		})
	}
}

// TestEndToEndEscaped: a sender that JSON-escapes the values works the
// same way.
func TestEndToEndEscaped(t *testing.T) {
	t.Parallel()
	e := newE2EMode(t, idPayload, true)
	if err := e.sdp.SetStatus(e.ticket, "Closed"); err != nil {
		t.Fatal(err)
	}
	d := e.wait(t, 1)[0]
	if !json.Valid(d.Body) {
		t.Fatalf("escaped delivery is not JSON: %.200s", d.Body)
	}
	if d.Status != 200 || string(d.Answer) != ansUpdatedClosed {
		t.Fatalf("delivery answered %d %s (%s)", d.Status, d.Answer, d.Err)
	}
}

// TestEndToEndLoopGuard: Faraday re-opens the vuln and the engine pushes
// re-opened → "Open" through the API; SDP's trigger echoes "Open", which
// maps to open, not re-opened. The echo changes nothing; a technician's
// later "Resolved" then "Open" are applied.
func TestEndToEndLoopGuard(t *testing.T) {
	t.Parallel()
	e := newE2E(t, idPayload)
	ctx := context.Background()
	// A technician resolves the ticket: the vuln is closed.
	if err := e.sdp.SetStatus(e.ticket, "Resolved"); err != nil {
		t.Fatal(err)
	}
	if ds := e.wait(t, 1); string(ds[0].Answer) != ansUpdatedClosed {
		t.Fatalf("first delivery answered %d %s", ds[0].Status, ds[0].Answer)
	}
	// A re-import re-opens the vuln in Faraday; the engine records the push
	// on the link, then writes it through the API.
	e.clock.Advance(time.Minute)
	e.vulns.Put(vulnA, faraday.StatusReopened)
	out, err := e.mapper.Outgoing(faraday.StatusReopened)
	if err != nil {
		t.Fatal(err)
	}
	push(t, e.links, vulnA, out, e.clock.Now())
	if _, err := e.client.Requests.Update(ctx, servicedesk.ID(e.ticket), &servicedesk.RequestInput{Status: &servicedesk.Ref{Name: out}}); err != nil {
		t.Fatal(err)
	}
	ds := e.wait(t, 2)
	if !strings.Contains(string(ds[1].Body), `"status": "Open"`) {
		t.Fatalf("the echo carries %.60s", ds[1].Body)
	}
	if ds[1].Status != 200 || string(ds[1].Answer) != `{"result":"unchanged","reason":"echo","vuln":"acme/1"}` {
		t.Fatalf("echo answered %d %s (%s)", ds[1].Status, ds[1].Answer, ds[1].Err)
	}
	if got := e.status(t, vulnA); got != faraday.StatusReopened {
		t.Fatalf("the echo changed the vuln to %v", got)
	}
	// The technician resolves, then re-opens: both are applied.
	e.clock.Advance(5 * time.Second)
	if err := e.sdp.SetStatus(e.ticket, "Resolved"); err != nil {
		t.Fatal(err)
	}
	e.wait(t, 3)
	if err := e.sdp.SetStatus(e.ticket, "Open"); err != nil {
		t.Fatal(err)
	}
	ds = e.wait(t, 4)
	want := []string{ansUpdatedClosed, `{"result":"updated","vuln":"acme/1","status":"open"}`}
	for i, w := range want {
		if d := ds[2+i]; d.Status != 200 || string(d.Answer) != w {
			t.Fatalf("delivery %d answered %d %s, want %s", 3+i, d.Status, d.Answer, w)
		}
	}
	if got := e.status(t, vulnA); got != faraday.StatusOpen {
		t.Fatalf("vuln is %v", got)
	}
}

// TestEndToEndDuplicateDelivery: SDP sends a delivery twice; the change is
// applied once.
func TestEndToEndDuplicateDelivery(t *testing.T) {
	t.Parallel()
	e := newE2E(t, idPayload)
	if err := e.sdp.AddDeliveryFault(sdptest.DeliveryFault{Kind: sdptest.DeliveryTwice, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.sdp.SetStatus(e.ticket, "Closed"); err != nil {
		t.Fatal(err)
	}
	ds := e.wait(t, 2)
	answers := map[string]int{}
	for _, d := range ds {
		if d.Status != 200 {
			t.Fatalf("%d %s", d.Status, d.Answer)
		}
		answers[string(d.Answer)]++
	}
	if answers[ansUpdatedClosed] != 1 || e.vulns.Sets() != 1 {
		t.Fatalf("answers %v, %d sets", answers, e.vulns.Sets())
	}
}
