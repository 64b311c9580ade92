package webhook

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
)

// TestSeedTemplateDescriptionCannotChooseID: with the seed's template (no
// "id" field) and the default policy, a requester's description ending in
// `", "id": "1002` poses as the id field; without a verified footer it
// finds no vuln.
func TestSeedTemplateDescriptionCannotChooseID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	desc := `printer broken", "id": "` + ticketB
	code, _, ans := f.do(t, http.MethodPost, hdr(HeaderToken, "1"), seedBody("Closed", desc, f.valid))
	if code != 200 || ans != `{"result":"ignored","reason":"no_reference"}` {
		t.Errorf("answer %d %s", code, ans)
	}
	if got := f.status(t, vulnB); got != faraday.StatusOpen || f.vulns.Sets() != 0 {
		t.Errorf("description text chose ticket %s: acme/2 is %v", ticketB, got)
	}
	// The id agreeing with a verified footer is what the default policy
	// needs; the id of another ticket beside it applies nothing.
	code, _, ans = f.do(t, http.MethodPost, hdr(), idBody("Closed", f.footer(vulnA), ticketB, f.valid))
	if code != 200 || ans != `{"result":"ignored","reason":"id_reference_mismatch","vuln":"acme/1"}` || f.vulns.Sets() != 0 {
		t.Errorf("footer acme/1 with id %s: %d %s", ticketB, code, ans)
	}
}

// TestForgedFooterReferenceChoosesNoVuln: a reference with a correct CRC-32
// but no keyed MAC, written by anyone into an unrelated ticket, changes
// nothing under any policy.
func TestForgedFooterReferenceChoosesNoVuln(t *testing.T) {
	t.Parallel()
	forged := "FRDREF:1::acme:2:" + crcHex("1::acme:2")
	for _, p := range []IDPolicy{IDIfPresent, IDRequired, IDIgnored} {
		f := newFixture(t, func(c *Config) { c.IDPolicy = p })
		desc := "<div>my laptop is slow " + forged + "</div>"
		for _, body := range []string{seedBody("Closed", desc, f.valid), idBody("Closed", desc, ticketB, f.valid)} {
			code, _, ans := f.do(t, http.MethodPost, hdr(), body)
			wantCode, want := 200, `{"result":"ignored","reason":"unverified_reference"}`
			if p == IDRequired && !strings.Contains(body, `"id"`) {
				wantCode, want = 400, `{"error":"bad_request","message":"no \"id\" field after \"desc\""}`
			}
			if code != wantCode || ans != want {
				t.Errorf("%s: %d %s, want %d %s", p, code, ans, wantCode, want)
			}
		}
		if got := f.status(t, vulnB); got != faraday.StatusOpen || f.vulns.Sets() != 0 {
			t.Errorf("%s: a forged reference set acme/2 to %v", p, got)
		}
	}
	// A footer keyed with another key does not verify either.
	f := newFixture(t, nil)
	cfg, err := readMappingConfig()
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := mapping.NewReferenceKey()
	other, err := mapping.New(cfg, mapping.WithReferenceKey(otherKey))
	if err != nil {
		t.Fatal(err)
	}
	body := seedBody("Closed", "<p>"+other.Reference("acme", 2).String()+"</p>", f.valid)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), body); ans != `{"result":"ignored","reason":"unverified_reference"}` {
		t.Errorf("footer under another key: %s", ans)
	}
}

// TestNewHandlerRefusesUnkeyedReferences: a StatusMap whose references
// anyone can forge is refused unless the id decides or the risk is
// accepted explicitly.
func TestNewHandlerRefusesUnkeyedReferences(t *testing.T) {
	t.Parallel()
	cfg, err := readMappingConfig()
	if err != nil {
		t.Fatal(err)
	}
	unkeyed, err := mapping.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base := newFixture(t, nil).cfg
	base.Statuses = unkeyed
	for _, p := range []IDPolicy{IDIfPresent, IDIgnored} {
		c := base
		c.IDPolicy = p
		_, err := NewHandler(c)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "WithReferenceKey") || !strings.Contains(err.Error(), "AllowUnkeyedReferences") {
			t.Errorf("%s: NewHandler err = %v, want a refusal naming WithReferenceKey", p, err)
		}
	}
	c := base
	c.IDPolicy = IDRequired
	if _, err := NewHandler(c); err != nil {
		t.Errorf("IDRequired: %v", err)
	}
	// Accepting the risk: unkeyed footers verify by their checksum.
	f := newFixture(t, func(c *Config) { c.Statuses = unkeyed; c.AllowUnkeyedReferences = true })
	body := seedBody("Closed", "<p>"+unkeyed.Reference("acme", 1).String()+"</p>", f.valid)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), body); ans != ansUpdatedClosed {
		t.Errorf("AllowUnkeyedReferences: %s", ans)
	}
}

// TestLateEchoCopyIsDuplicate: a copy of our echo arriving after
// ClaimTimeout but within EchoWindow, with no other status in between, is
// a duplicate, not a change.
func TestLateEchoCopyIsDuplicate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	push(t, f.links, vulnA, "Open", t0)
	f.vulns.Put(vulnA, faraday.StatusReopened)
	body := idBody("Open", f.footer(vulnA), ticketA, f.valid)
	f.clock.Advance(time.Second)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), body); ans != `{"result":"unchanged","reason":"echo","vuln":"acme/1"}` {
		t.Fatalf("echo: %s", ans)
	}
	f.clock.Advance(DefaultClaimTimeout + 10*time.Second)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), body); ans != `{"result":"unchanged","reason":"duplicate","vuln":"acme/1"}` {
		t.Errorf("copy %v later: %s", DefaultClaimTimeout+10*time.Second, ans)
	}
	if got := f.status(t, vulnA); got != faraday.StatusReopened || f.vulns.Sets() != 0 {
		t.Errorf("a late copy of our echo set the vuln to %v", got)
	}
	// Another status ends the record: the technician's later "Open" applies.
	f.clock.Advance(time.Second)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), idBody("Closed", f.footer(vulnA), ticketA, f.valid)); ans != ansUpdatedClosed {
		t.Fatalf("closed: %s", ans)
	}
	f.clock.Advance(time.Second)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), body); ans != `{"result":"updated","vuln":"acme/1","status":"open"}` {
		t.Errorf("open after closed: %s", ans)
	}
}

// TestLostEchoDoesNotSwallowLaterChange: we push "Open"; its echo never
// comes; the technician closes the ticket (applied) and re-opens it within
// the echo window. That "Open" is a real change, not our echo.
func TestLostEchoDoesNotSwallowLaterChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	push(t, f.links, vulnA, "Open", t0)
	f.vulns.Put(vulnA, faraday.StatusReopened)
	f.clock.Advance(10 * time.Second)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), idBody("Closed", f.footer(vulnA), ticketA, f.valid)); ans != ansUpdatedClosed {
		t.Fatalf("closed: %s", ans)
	}
	f.clock.Advance(10 * time.Second)
	if _, _, ans := f.do(t, http.MethodPost, hdr(), idBody("Open", f.footer(vulnA), ticketA, f.valid)); ans != `{"result":"updated","vuln":"acme/1","status":"open"}` {
		t.Errorf("technician's Open after Closed: %s", ans)
	}
	if got := f.status(t, vulnA); got != faraday.StatusOpen {
		t.Errorf("vuln is %v, want open", got)
	}
	link, err := f.links.Get(t.Context(), vulnA)
	if err != nil || !link.EchoConsumed {
		t.Errorf("pending echo not cleared: %+v %v", link.ServiceDeskEntry, err)
	}
}

// TestLoneAnglesDescriptionIsFast: a near-1 MiB description of '<'s that
// start no tag, then one '>', costs a linear scan, not seconds of CPU.
func TestLoneAnglesDescriptionIsFast(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	desc := strings.Repeat("<1", 250_000) + ">" + f.footer(vulnA)
	start := time.Now()
	code, _, ans := f.do(t, http.MethodPost, hdr(), idBody("Closed", desc, ticketA, f.valid))
	if el := time.Since(start); el > time.Second {
		t.Errorf("one %d KiB delivery took %v", len(desc)>>10, el)
	}
	if code != 200 || ans != ansUpdatedClosed {
		t.Errorf("answer %d %s", code, ans)
	}
}
