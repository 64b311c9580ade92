package faraday_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vulndesk/mesd/faraday"
)

func ExampleParseSeverity() {
	for _, in := range []string{"med", " Info ", "CRITICAL", "urgent"} {
		s, err := faraday.ParseSeverity(in)
		if err != nil {
			fmt.Println(err)
			continue
		}
		api, _ := json.Marshal(s)
		fmt.Printf("%q: stored %s, API %s, above low: %v\n", in, s, api, s > faraday.SeverityLow)
	}
	// Output:
	// "med": stored medium, API "med", above low: true
	// " Info ": stored informational, API "info", above low: false
	// "CRITICAL": stored critical, API "critical", above low: true
	// faraday: invalid severity "urgent" (want critical, high, medium or med, low, informational or info, unclassified)
}

func ExampleParseStatus() {
	s, _ := faraday.ParseStatus("opened") // legacy input
	fmt.Println(s)
	s, _ = faraday.ParseStatus("Risk-Accepted")
	fmt.Println(s)
	// Output:
	// open
	// risk-accepted
}

func ExampleParseIssueTracker() {
	column := `{"jira": {"key": "SEC-7"}, "service_desk": {"state": "linked", "request_id": "100000000000042", "display_id": "42"}}`
	it, err := faraday.ParseIssueTracker(column)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(it.ServiceDesk.State, it.ServiceDesk.DisplayID)
	it.ServiceDesk.LastPushedStatus = "Closed"
	text, _ := it.ColumnText()
	fmt.Println(text)
	// Output:
	// linked 42
	// {"jira":{"key": "SEC-7"},"service_desk":{"state":"linked","request_id":"100000000000042","display_id":"42","last_pushed_status":"Closed"}}
}

func ExampleVulnList() {
	body := `{"vulnerabilities": [{"id": 3, "key": 3, "value": {"id": 3, "name": "Open redirect", "severity": "med",
	  "status": "re-opened", "type": "VulnerabilityWeb", "parent_type": "Service",
	  "service": {"_id": 9, "ports": 443, "protocol": "tcp", "name": "https"},
	  "date": "2024-04-22T14:47:16.277896+00:00", "issuetracker": {}, "a_key_from_a_newer_server": 1}}], "count": 1}`
	var list faraday.VulnList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range list.Vulns() {
		fmt.Println(v.ID, v.Name, v.Severity, v.Status, v.IsWeb(), v.Service.Port, v.Date)
	}
	// Output:
	// 3 Open redirect medium re-opened true 443 2024-04-22T14:47:16.277896+00:00
}

func ExampleValidateToken() {
	ctx := context.Background()
	created := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	store := faraday.NewMemoryTokenStore(faraday.WithClock(func() time.Time { return created }))
	tok, plaintext, err := faraday.IssueToken(ctx, store, faraday.UserToken{
		UserID: 1, Alias: "servicedesk webhook", Scope: faraday.ScopeServiceDesk,
		ExpiresAt: created.Add(24 * time.Hour),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok) // never shows the token or its hash

	check := func(at time.Time, scope faraday.Scope) {
		_, err := faraday.ValidateToken(ctx, store, plaintext, at, scope)
		switch {
		case err == nil:
			fmt.Println("valid")
		case errors.Is(err, faraday.ErrTokenExpired):
			fmt.Println("expired")
		case errors.Is(err, faraday.ErrTokenScope):
			fmt.Println("wrong scope")
		case errors.Is(err, faraday.ErrTokenRevoked):
			fmt.Println("revoked")
		default:
			fmt.Println(err)
		}
	}
	check(created.Add(24*time.Hour), faraday.ScopeServiceDesk) // the exact expiry instant
	check(created.Add(24*time.Hour+time.Nanosecond), faraday.ScopeServiceDesk)
	check(created, faraday.ScopeJira)
	_ = store.Revoke(ctx, tok.ID)
	check(created, faraday.ScopeServiceDesk)
	// Output:
	// UserToken{id=1 user=1 alias="servicedesk webhook" scope=service_desk expires=2026-05-02T12:00:00Z}
	// valid
	// expired
	// wrong scope
	// revoked
}

func ExampleUpdateLink() {
	ctx := context.Background()
	// OpenFileLinkStore gives the same behaviour across processes.
	store := faraday.NewMemoryLinkStore()
	key := faraday.VulnKey{Workspace: "acme", VulnID: 123}

	// Before creating the ticket: write the intent with its subject tag.
	pending, err := store.CompareAndSet(ctx, faraday.Link{Key: key, ServiceDeskEntry: faraday.ServiceDeskEntry{
		State: faraday.LinkPending, Tag: "[FRD acme/123]",
	}}, 0)
	fmt.Println(pending.State, pending.Revision, err)

	// After the create: record the ticket, retrying if another writer won.
	linked, err := faraday.UpdateLink(ctx, store, key, 0, func(l *faraday.Link) error {
		l.State, l.RequestID, l.DisplayID = faraday.LinkLinked, "100000000000777", "777"
		return nil
	})
	fmt.Println(linked.State, linked.Revision, err)

	// The webhook finds the vuln from the ticket id.
	byTicket, _ := store.GetByTicket(ctx, "100000000000777")
	fmt.Println(byTicket.Key)

	// A writer holding a stale revision loses.
	_, err = store.CompareAndSet(ctx, pending, 1)
	fmt.Println(errors.Is(err, faraday.ErrConflict))
	// Output:
	// pending 1 <nil>
	// linked 2 <nil>
	// acme/123
	// true
}

func ExampleAllowed() {
	for _, role := range faraday.DefaultRoles() {
		fmt.Printf("%-11s update service_desk: %-5v update vulnerabilities: %v\n", role.Name,
			faraday.Allowed(role, faraday.UnitServiceDesk, faraday.ActionUpdate),
			faraday.Allowed(role, faraday.UnitVulnerabilities, faraday.ActionUpdate))
	}
	// Output:
	// admin       update service_desk: true  update vulnerabilities: true
	// asset_owner update service_desk: false update vulnerabilities: true
	// pentester   update service_desk: true  update vulnerabilities: true
	// client      update service_desk: false update vulnerabilities: false
}
