package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/vulndesk/mesd/faraday"
)

const (
	ansUpdatedClosed = `{"result":"updated","vuln":"acme/1","status":"closed"}`
	ans401           = `{"error":"unauthorized"}`
)

// TestRawRequests sends raw requests, each to a fresh handler, and checks
// the code, the exact body and whether vuln acme/1 (open before) changed.
func TestRawRequests(t *testing.T) {
	t.Parallel()
	big := strings.Repeat(`<p class="x">Line with "quotes", back\slashes and ünïcode 🚀</p>`+"\n", 900*1024/70)
	if len(big) < 880*1024 {
		t.Fatalf("big description is %d bytes", len(big))
	}
	type tc struct {
		name    string
		method  string
		header  func(f *fixture) http.Header
		body    func(f *fixture) string
		edit    func(*Config)
		before  func(t *testing.T, f *fixture)
		code    int
		answer  string
		changed faraday.Status // 0: acme/1 must stay open
	}
	seedTok := func(status, desc string) func(f *fixture) string {
		return func(f *fixture) string { return seedBody(status, desc+f.footer(vulnA), f.valid) }
	}
	plain := func(f *fixture) http.Header { return hdr(HeaderToken, "1") }
	cases := []tc{
		{name: "seed payload exactly", body: seedTok("Closed", "<div>SQL injection in login</div>"), code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "Token prefix in body", body: func(f *fixture) string {
			return seedBody("Closed", f.footer(vulnA), "Token "+f.valid)
		}, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "token in header, none in body", header: func(f *fixture) http.Header { return hdr(HeaderToken, f.valid) },
			body: func(f *fixture) string {
				return "{\"status\": \"Closed\", \"desc\": \"" + f.footer(vulnA) + "\"}"
			}, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "header Token prefix", header: func(f *fixture) http.Header { return hdr(HeaderToken, "Token "+f.valid) },
			body: func(f *fixture) string {
				return "{\"status\": \"Closed\", \"desc\": \"" + f.footer(vulnA) + "\"}"
			}, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "bad body token does not hide a valid header token", header: func(f *fixture) http.Header { return hdr(HeaderToken, f.valid) },
			body: func(f *fixture) string { return seedBody("Closed", f.footer(vulnA), "garbage") },
			code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "no token anywhere", body: func(f *fixture) string {
			return "{\"status\": \"Closed\", \"desc\": \"" + f.footer(vulnA) + "\"}"
		}, code: 401, answer: ans401},
		{name: "unknown token", body: func(f *fixture) string { return seedBody("Closed", f.footer(vulnA), otherToken(f.valid)) }, code: 401, answer: ans401},
		{name: "revoked token", body: func(f *fixture) string { return seedBody("Closed", f.footer(vulnA), f.revoked) }, code: 401, answer: ans401},
		{name: "expired token", body: func(f *fixture) string { return seedBody("Closed", f.footer(vulnA), f.expired) }, code: 401, answer: ans401},
		{name: "jira-scoped token", body: func(f *fixture) string { return seedBody("Closed", f.footer(vulnA), f.jira) }, code: 401, answer: ans401},
		{name: "header 1 is not a token", header: plain, body: func(f *fixture) string {
			return "{\"status\": \"Closed\", \"desc\": \"" + f.footer(vulnA) + "\"}"
		}, code: 401, answer: ans401},
		{name: "raw quotes in description", body: seedTok("Closed", `He said "drop table" <b>"now"</b>`), code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "raw backslashes in description", body: seedTok("Closed", `C:\Windows\System32\ and \" and \\`), code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "raw newlines and tabs in description", body: seedTok("Closed", "line one\nline\ttwo\r\n"), code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "HTML with attributes", body: seedTok("Closed", `<div style="color: red" class='a'><a href="https://x.test/?a=1&amp;b=2" target="_blank">link</a></div>`), code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "emoji and non-Latin text", body: seedTok("Closed", "🔥 Уязвимость 脆弱性 🚀"), code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "900 KB description", body: seedTok("Closed", big), code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "JSON-escaped body (a sender that escapes)", body: func(f *fixture) string {
			return seedBody("Closed", `say \"hi\"\nC:\\dir `+f.footer(vulnA), f.valid)
		}, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "status in other case with spaces", body: seedTok("  closed ", "x"), code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "injected status in description", body: seedTok("In Progress", `x", "status": "Closed`), code: 200,
			answer: `{"result":"unchanged","reason":"already_set","vuln":"acme/1","status":"open"}`},
		{name: "injected status at the end of the description", body: func(f *fixture) string {
			return seedBody("In Progress", f.footer(vulnA)+`", "status": "Closed`, f.valid)
		}, code: 200, answer: `{"result":"unchanged","reason":"already_set","vuln":"acme/1","status":"open"}`},
		{name: "injected id in description", body: func(f *fixture) string {
			return idBody("Closed", `x", "id": "`+ticketB+`", "y": "`+f.footer(vulnA), ticketA, f.valid)
		}, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "IDRequired: injected id in description", edit: func(c *Config) { c.IDPolicy = IDRequired }, body: func(f *fixture) string {
			return idBody("Closed", `x", "id": "`+ticketB+`", "y": "`, ticketA, f.valid)
		}, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "seed template: id-like tail without footer", body: func(f *fixture) string {
			return seedBody("Closed", `printer broken", "id": "`+ticketA, f.valid)
		}, code: 200, answer: `{"result":"ignored","reason":"no_reference"}`},
		{name: "forged unkeyed footer", body: func(f *fixture) string {
			return seedBody("Closed", "<div>slow laptop FRDREF:1::acme:1:"+crcHex("1::acme:1")+"</div>", f.valid)
		}, code: 200, answer: `{"result":"ignored","reason":"unverified_reference"}`},
		{name: "IDRequired: forged footer beside a real id", edit: func(c *Config) { c.IDPolicy = IDRequired }, body: func(f *fixture) string {
			return idBody("Closed", "FRDREF:1::acme:1:"+crcHex("1::acme:1"), ticketA, f.valid)
		}, code: 200, answer: `{"result":"ignored","reason":"unverified_reference"}`},
		{name: "injected token in description, real one wrong", body: func(f *fixture) string {
			return seedBody("Closed", `x", "Authorization": "`+f.valid+`", "y": "`+f.footer(vulnA), "wrong")
		}, code: 401, answer: ans401},
		{name: "injected status and token, unauthenticated", body: func(f *fixture) string {
			return `{"status": "Closed", "desc": "x", "status": "Closed", "Authorization": "guess"}`
		}, code: 401, answer: ans401},
		{name: "no status field", body: func(f *fixture) string { return `{"desc": "x", "Authorization": "` + f.valid + `"}` },
			code: 400, answer: `{"error":"bad_request","message":"no \"status\" field"}`},
		{name: "status null", body: func(f *fixture) string { return `{"status": null, "desc": "x", "Authorization": "` + f.valid + `"}` },
			code: 400, answer: `{"error":"bad_request","message":"\"status\" is null"}`},
		{name: "status a number", body: func(f *fixture) string { return `{"status": 3, "desc": "x", "Authorization": "` + f.valid + `"}` },
			code: 400, answer: `{"error":"bad_request","message":"\"status\" is not a string"}`},
		{name: "status empty", body: seedTok("", "x"), code: 400, answer: `{"error":"bad_request","message":"\"status\" is empty"}`},
		{name: "status after desc", body: func(f *fixture) string {
			return `{"desc": "x", "status": "Closed", "Authorization": "` + f.valid + `"}`
		}, code: 400, answer: `{"error":"bad_request","message":"the \"status\" field must come before \"desc\""}`},
		{name: "not JSON at all, valid header token", header: func(f *fixture) http.Header { return hdr(HeaderToken, f.valid) },
			body: func(f *fixture) string { return "status=Closed" }, code: 400, answer: `{"error":"bad_request","message":"no \"status\" field"}`},
		{name: "id of the wrong type", body: func(f *fixture) string {
			return `{"status": "Closed", "desc": "x", "id": true, "Authorization": "` + f.valid + `"}`
		}, code: 400, answer: `{"error":"bad_request","message":"\"id\" is not a ServiceDesk request id (digits)"}`},
		{name: "id unsubstituted", body: func(f *fixture) string { return idBody("Closed", "x", "${{request.id}}", f.valid) },
			code: 400, answer: `{"error":"bad_request","message":"\"id\" is not a ServiceDesk request id (digits)"}`},
		{name: "id without desc", edit: func(c *Config) { c.IDPolicy = IDRequired }, body: func(f *fixture) string {
			return `{"status": "Closed", "id": "` + ticketA + `", "Authorization": "` + f.valid + `"}`
		}, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "id as a bare number", edit: func(c *Config) { c.IDPolicy = IDRequired }, body: func(f *fixture) string {
			return `{"status": "Closed", "desc": "x", "id": ` + ticketA + `, "Authorization": "` + f.valid + `"}`
		}, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "neither id nor reference", body: func(f *fixture) string { return seedBody("Closed", "no footer", f.valid) },
			code: 200, answer: `{"result":"ignored","reason":"no_reference"}`},
		{name: "unknown status", body: seedTok("Waiting for vendor", "x"), code: 200, answer: `{"result":"ignored","reason":"not_mapped","vuln":"acme/1"}`},
		{name: "Ignore-mapped status", body: seedTok("Cancelled", "x"), code: 200, answer: `{"result":"ignored","reason":"ignore","vuln":"acme/1"}`},
		{name: "unknown ticket id", edit: func(c *Config) { c.IDPolicy = IDRequired }, body: func(f *fixture) string { return idBody("Closed", "x", "9999", f.valid) },
			code: 200, answer: `{"result":"ignored","reason":"unknown_ticket"}`},
		{name: "reference to an unlinked vuln", body: func(f *fixture) string {
			return seedBody("Closed", f.footer(faraday.VulnKey{Workspace: "acme", VulnID: 77}), f.valid)
		}, code: 200, answer: `{"result":"ignored","reason":"unknown_ticket"}`},
		{name: "id and reference disagree", body: func(f *fixture) string { return idBody("Closed", f.footer(vulnB), ticketA, f.valid) },
			code: 200, answer: `{"result":"ignored","reason":"id_reference_mismatch","vuln":"acme/2"}`},
		{name: "IDRequired: id and reference disagree", edit: func(c *Config) { c.IDPolicy = IDRequired },
			body: func(f *fixture) string { return idBody("Closed", f.footer(vulnB), ticketA, f.valid) },
			code: 200, answer: `{"result":"ignored","reason":"id_reference_mismatch","vuln":"acme/1"}`},
		{name: "IDRequired: id and reference agree", edit: func(c *Config) { c.IDPolicy = IDRequired },
			body: func(f *fixture) string { return idBody("Closed", f.footer(vulnA), ticketA, f.valid) },
			code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "id and reference agree", body: func(f *fixture) string { return idBody("Closed", f.footer(vulnA), ticketA, f.valid) },
			code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "reference of another instance", body: func(f *fixture) string {
			return seedBody("Closed", "FRDREF:1:other:acme:1:"+otherCheck(), f.valid)
		}, code: 200, answer: `{"result":"ignored","reason":"other_instance"}`},
		{name: "IDIgnored: id-like tail is description text", edit: func(c *Config) { c.IDPolicy = IDIgnored },
			body: func(f *fixture) string { return idBody("Closed", f.footer(vulnA), ticketB, f.valid) },
			code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "IDRequired without id", edit: func(c *Config) { c.IDPolicy = IDRequired },
			body: seedTok("Closed", "x"), code: 400, answer: `{"error":"bad_request","message":"no \"id\" field after \"desc\""}`},
		{name: "GET", method: http.MethodGet, body: seedTok("Closed", "x"), code: 405, answer: `{"error":"method_not_allowed"}`},
		{name: "PUT", method: http.MethodPut, body: seedTok("Closed", "x"), code: 405, answer: `{"error":"method_not_allowed"}`},
		{name: "body over the limit", body: seedTok("Closed", strings.Repeat("a", 1<<20)), code: 413, answer: `{"error":"body_too_large"}`},
		{name: "flood of failed authentications", body: func(f *fixture) string { return seedBody("Closed", f.footer(vulnA), "guess") },
			before: func(t *testing.T, f *fixture) {
				for i := range DefaultAuthFailureBurst {
					if code, _, _ := f.do(t, http.MethodPost, hdr(), seedBody("Closed", "x", "guess")); code != 401 {
						t.Fatalf("failure %d answered %d", i, code)
					}
				}
			}, code: 429, answer: `{"error":"rate_limited"}`},
		{name: "flooded address, valid token still passes", body: seedTok("Closed", "x"),
			before: func(t *testing.T, f *fixture) {
				for range DefaultAuthFailureBurst + 5 {
					f.do(t, http.MethodPost, hdr(), seedBody("Closed", "x", "guess"))
				}
			}, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "delivery bound per token", edit: func(c *Config) { c.Limits.Deliveries, c.Limits.DeliveryBurst = 1, 2 },
			body: seedTok("Resolved", "x"),
			before: func(t *testing.T, f *fixture) {
				for range 2 {
					f.do(t, http.MethodPost, hdr(), seedBody("Open", f.footer(vulnA), f.valid))
				}
			}, code: 429, answer: `{"error":"rate_limited"}`},
		{name: "role may not update service_desk", edit: func(c *Config) {
			c.Roles = func(_ context.Context, uid int64) (*faraday.Role, error) { return faraday.AssetOwnerRole(), nil }
		}, body: seedTok("Closed", "x"), code: 403, answer: `{"error":"forbidden"}`},
		{name: "role may update service_desk", edit: func(c *Config) {
			c.Roles = func(_ context.Context, uid int64) (*faraday.Role, error) { return faraday.PentesterRole(), nil }
		}, body: seedTok("Closed", "x"), code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
		{name: "role lookup finds no role", edit: func(c *Config) {
			c.Roles = func(context.Context, int64) (*faraday.Role, error) { return nil, nil }
		}, body: seedTok("Closed", "x"), code: 403, answer: `{"error":"forbidden"}`},
		{name: "role lookup fails", edit: func(c *Config) {
			c.Roles = func(context.Context, int64) (*faraday.Role, error) { return nil, errors.New("db down") }
		}, body: seedTok("Closed", "x"), code: 503, answer: `{"error":"unavailable"}`},
		{name: "token store fails", edit: func(c *Config) { c.Tokens = brokenTokens{c.Tokens} },
			body: seedTok("Closed", "x"), code: 503, answer: `{"error":"unavailable"}`},
		{name: "jira scope accepted when configured", edit: func(c *Config) { c.Scopes = []faraday.Scope{faraday.ScopeServiceDesk, faraday.ScopeJira} },
			body: func(f *fixture) string { return seedBody("Closed", f.footer(vulnA), f.jira) }, code: 200, answer: ansUpdatedClosed, changed: faraday.StatusClosed},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, c.edit)
			if c.before != nil {
				c.before(t, f)
			}
			method := c.method
			if method == "" {
				method = http.MethodPost
			}
			h := hdr()
			if c.header != nil {
				h = c.header(f)
			}
			code, rh, body := f.do(t, method, h, c.body(f))
			if code != c.code || body != c.answer {
				t.Errorf("got %d %s\nwant %d %s", code, body, c.code, c.answer)
			}
			if ct := rh.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			switch code {
			case 405:
				if rh.Get("Allow") != http.MethodPost {
					t.Errorf("Allow %q", rh.Get("Allow"))
				}
			case 429:
				if rh.Get("Retry-After") == "" {
					t.Error("429 without Retry-After")
				}
			}
			want := c.changed
			if want == 0 {
				want = faraday.StatusOpen
			}
			if got := f.status(t, vulnA); got != want {
				t.Errorf("acme/1 is %v, want %v", got, want)
			}
			if got := f.status(t, vulnB); got != faraday.StatusOpen {
				t.Errorf("acme/2 changed to %v", got)
			}
			if l, err := f.links.Get(context.Background(), vulnA); err != nil || l.RequestID != ticketA || l.State != faraday.LinkLinked {
				t.Errorf("the link of acme/1 did not stay: %+v, %v", l, err)
			}
			logs := f.logs.String()
			for _, secret := range []string{f.valid, f.revoked, f.expired, f.jira, "SQL injection", "drop table"} {
				if strings.Contains(logs, secret) {
					t.Errorf("log holds a secret or description text %q", secret[:4])
				}
			}
		})
	}
}

// otherCheck returns the check of "1:other:acme:1" (CRC-32 IEEE, hex).
func otherCheck() string {
	return crcHex("1:other:acme:1")
}

// TestLogAndOutcome: one log line per request with the outcome, the vuln
// and the timing, and the same facts in the outcome callback; neither holds
// the token or the description.
func TestLogAndOutcome(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	const secretText = "customer database password hint"
	f.do(t, http.MethodPost, hdr(), idBody("Closed", secretText+f.footer(vulnA), ticketA, f.valid))
	f.do(t, http.MethodPost, hdr(), idBody("Closed", f.footer(vulnB), ticketA, f.valid)) // mismatch
	f.do(t, http.MethodPost, hdr(), seedBody("Closed", secretText, "Token "+otherToken(f.valid)))

	lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d log lines for 3 requests:\n%s", len(lines), f.logs.String())
	}
	type line struct {
		Level, Msg, Delivery, Result, Reason, Ticket, Vuln, Reference, Status string
		Code                                                                  int
		SDPStatus                                                             string `json:"sdp_status"`
		Duration                                                              *int64
	}
	var got []line
	for _, l := range lines {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		if v.Msg != "webhook delivery" || v.Delivery == "" || v.Duration == nil {
			t.Errorf("line lacks message, delivery or duration: %s", l)
		}
		for _, secret := range []string{f.valid, otherToken(f.valid), secretText} {
			if strings.Contains(l, secret) {
				t.Errorf("line holds a token or the description: %s", l)
			}
		}
		got = append(got, v)
	}
	want := []line{
		{Level: "INFO", Code: 200, Result: "updated", Ticket: ticketA, Vuln: "acme/1", Reference: "acme/1", SDPStatus: "Closed", Status: "closed"},
		{Level: "WARN", Code: 200, Result: "ignored", Reason: "id_reference_mismatch", Ticket: ticketA, Vuln: "acme/2", Reference: "acme/2", SDPStatus: "Closed"},
		{Level: "WARN", Code: 401, Result: "rejected", Reason: "unauthorized"},
	}
	for i := range want {
		g := got[i]
		g.Msg, g.Delivery, g.Duration = "", "", nil
		if g != want[i] {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, g, want[i])
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.outcomes) != 3 {
		t.Fatalf("%d outcomes", len(f.outcomes))
	}
	o := f.outcomes[0]
	if o.Code != 200 || o.Result != ResultUpdated || o.Vuln != vulnA || o.Reference != vulnA || o.TicketID != ticketA ||
		o.SDPStatus != "Closed" || o.Status != faraday.StatusClosed || o.DeliveryID != got[0].Delivery || o.Duration <= 0 {
		t.Errorf("outcome %+v", o)
	}
	if o := f.outcomes[2]; o.Code != 401 || o.SDPStatus != "" || o.Vuln.VulnID != 0 {
		t.Errorf("401 outcome tells too much: %+v", o)
	}
}

// brokenTokens is a token store whose lookups fail.
type brokenTokens struct{ faraday.TokenStore }

func (brokenTokens) Lookup(context.Context, faraday.TokenHash) (faraday.UserToken, error) {
	return faraday.UserToken{}, errors.New("token database unreachable")
}
