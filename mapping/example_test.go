package mapping_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
)

// Load a configuration, validate it, and check it against what the
// instance offers: every problem comes back at once with its JSON path.
func ExampleLoadConfig() {
	data, err := os.ReadFile("testdata/config.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := mapping.LoadConfig(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("valid:", cfg.Validate() == nil)

	// The instance names its top priority "Urgent" and has no "Critical".
	cfg.Priorities["critical"] = "Critical"
	cfg.Outgoing["closed"] = "Close"
	err = cfg.Check(&mapping.Catalog{
		Priorities: []string{"Low", "Medium", "High", "Urgent"},
		Statuses:   []string{"Open", "In Progress", "On Hold", "Resolved", "Closed", "Cancelled"},
	})
	var problems mapping.Problems
	if errors.As(err, &problems) {
		for _, p := range problems {
			fmt.Printf("%s: suggest %q\n", p.Path, p.Suggestion)
		}
	}

	// A broken configuration: every problem at once.
	_, err = mapping.LoadConfig([]byte(`{
	  "faraday_url": "https://faraday.example.com",
	  "requester": {"login_name": "bot"},
	  "priorities": {"critical": "Urgent", "high": "High", "medium": "Medium", "low": "Low"},
	  "incoming": {"Resolved": "done"},
	  "outgoing": {"open": "Open", "closed": "Closed", "re-opened": "Open", "risk-accepted": "On Hold"},
	  "templates": [{"name": "Default", "fields": [{"field": "group", "type": "search", "value": "IT"}]}],
	  "subject": {"tag": "[FRD {workspace}/{id}"}
	}`))
	fmt.Println(err)
	// Output:
	// valid: true
	// priorities.critical: suggest "Urgent"
	// outgoing.closed: suggest "Closed"
	// mapping: config has 4 problems
	//   priorities.informational: severity not mapped: all six severities must have a priority
	//   priorities.unclassified: severity not mapped: all six severities must have a priority
	//   incoming.Resolved: "done" is not a Faraday status or ignore (want open, closed, re-opened, risk-accepted or ignore)
	//   subject.tag: {id} must be followed by a delimiter such as ']' (otherwise the tag of vuln 1 is a prefix of the tag of vuln 12)
}

// Map a vuln to the request to create, then read the reference back from
// the description as ServiceDesk returns it.
func ExampleMapper_Request() {
	data, err := os.ReadFile("testdata/config.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := mapping.LoadConfig(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := mapping.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	v := &faraday.Vuln{
		ID: 604, WorkspaceName: "acme", Severity: faraday.SeverityHigh, Status: faraday.StatusOpen,
		Name:   "Reflected XSS in <search>",
		Desc:   "The parameter \"q\" is echoed back.\nAlready escaped: &lt;b&gt;",
		Target: "10.0.0.5",
	}
	// The caller resolved the configured requester login name to id 4.
	req, err := m.Request(v, "4")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(req.Subject)
	fmt.Println(req.Priority.Name, "/", req.Status.Name, "/", req.Template.Name, "/", req.Category.Name, "/", req.Group.Name)
	desc := req.Description
	start := strings.Index(desc, "<b>Description</b>")
	fmt.Println(desc[start : start+strings.Index(desc[start:], "<br><br>")])

	// SDP hands the description back rewrapped; the reference survives.
	stored := "<div>" + strings.ReplaceAll(desc, ":", "&#58;") + "</div>"
	ref, ok := mapping.ParseReference(stored)
	fmt.Println(ref.Workspace, ref.VulnID, ok)

	in := m.Incoming(" resolved ")
	fmt.Println(in.Action, in.Status)
	// Output:
	// [FRD acme/604] Reflected XSS in <search>
	// High / Open / Vulnerability / Security / IT
	// <b>Description</b><br>The parameter &#34;q&#34; is echoed back.<br>Already escaped: &amp;lt;b&amp;gt;
	// acme 604 true
	// apply closed
}

// Compose the public pieces without the engine: a host's own export loop
// for one vuln against a fake ServiceDesk. The link store keeps a pending
// intent before the create, so a crash in between is repaired by
// CreateOnce on the next run instead of making a second ticket.
func Example_composition() {
	ctx := context.Background()
	srv := sdptest.NewServer()
	defer srv.Close()
	sdp, _ := servicedesk.NewClient(srv.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken))
	cfg, _ := mapping.ParseConfig([]byte(`{"faraday_url": "https://faraday.example.com",
	  "requester": {"login_name": "dreyes"},
	  "priorities": {"critical": "Urgent", "high": "High", "medium": "Medium", "low": "Low", "info": "Low", "unclassified": "Low"},
	  "incoming": {"Open": "open", "Resolved": "closed", "Closed": "closed"},
	  "outgoing": {"open": "Open", "closed": "Closed", "re-opened": "Open", "risk-accepted": "On Hold"},
	  "templates": [{"name": "Default Request"}]}`))
	m, err := mapping.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	requester, _ := sdp.Users.Find(ctx, m.RequesterConfig().LoginName)
	links := faraday.NewMemoryLinkStore()
	v := &faraday.Vuln{ID: 7, WorkspaceName: "acme", Name: "Outdated OpenSSL", Severity: faraday.SeverityCritical,
		Status: faraday.StatusOpen, Confirmed: true}

	tag, _ := m.Tag(v.WorkspaceName, v.ID)
	key := faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID}
	pending, err := links.CompareAndSet(ctx, faraday.Link{Key: key,
		ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkPending, Tag: tag}}, 0)
	if err != nil {
		fmt.Println(err) // already linked or pending: use CreateOnce instead
		return
	}
	in, _ := m.Request(v, requester.ID)
	req, err := sdp.Requests.Create(ctx, in)
	if err != nil {
		fmt.Println(err) // the intent stays pending; the next run calls CreateOnce
		return
	}
	uiLink, _ := sdp.RequestURL(req.ID)
	entry, _ := m.TrackerEntry(v, req, uiLink, time.Now())
	linked, err := links.CompareAndSet(ctx, faraday.Link{Key: key, ServiceDeskEntry: *entry}, pending.Revision)
	fmt.Println(req.Subject, "|", req.Priority.Name, "|", req.Requester.Name)
	fmt.Println(linked.State, linked.RequestID == string(req.ID), linked.LastPushedStatus, err)
	// Output:
	// [FRD acme/7] Outdated OpenSSL | Urgent | Dana Reyes
	// linked true Open <nil>
}
