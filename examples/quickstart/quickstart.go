package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vulndesk/mesd/examples/sample"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
	"github.com/vulndesk/mesd/webhook"
)

// defaultCSVWorkspace names the workspace of a -csv export when -workspace
// is not given.
const defaultCSVWorkspace = "csv-import"

// The trigger the quickstart registers, as the seed's Step 3 describes it.
const (
	triggerName = "Faraday Status Sync"
	// seedPayload is the seed's webhook payload with the recommended "id"
	// after "desc"; tokenPlaceholder is replaced by the new token.
	seedPayload = "{\n" +
		"  \"status\": \"${{request.status}}\",\n" +
		"  \"desc\": \"${{request.description}}\",\n" +
		"  \"id\": \"${{request.id}}\",\n" +
		"  \"Authorization\": \"" + tokenPlaceholder + "\"\n" +
		"}"
	tokenPlaceholder = "FARADAY_ACCESS_TOKEN"
)

// options are the command line's choices.
type options struct {
	csv       string
	workspace string
}

// usageError is a bad command line or input file (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func (o options) validate() error {
	if o.csv == "" && o.workspace != defaultCSVWorkspace {
		return errors.New("-workspace names the workspace of a -csv export; give -csv too")
	}
	ref := mapping.Reference{Workspace: o.workspace, VulnID: 1}
	if err := ref.Validate(); err != nil {
		return fmt.Errorf("-workspace %q: %w", o.workspace, err)
	}
	return nil
}

// ticket is a vuln exported in step 3.
type ticket struct {
	Key      faraday.VulnKey
	Name     string
	Severity faraday.Severity
	Priority string
	TicketID string
	URL      string
}

// change is one technician's change of step 6.
type change struct {
	Ticket                ticket
	SDPBefore, SDPAfter   string
	VulnBefore, VulnAfter faraday.Status
	// Want is the vuln's expected status after the change.
	Want   faraday.Status
	Answer answer
}

// answer is the webhook's answer to a delivery, as SDP received it.
type answer struct {
	Code   int
	Result string `json:"result"`
	Reason string `json:"reason"`
}

// push is step 7's Faraday change, its push and its echo.
type push struct {
	Ticket                ticket
	VulnBefore, VulnAfter faraday.Status
	SDPBefore, Pushed     string
	Echo                  answer
	VulnAfterEcho         faraday.Status
	TicketStatusAfterPush string
}

// results are what each step did, for the summary and the tests.
type results struct {
	Loaded, Confirmed, Unconfirmed int
	RowErrors                      int
	Catalog                        *mapping.Catalog
	RequesterID                    string
	Warnings                       []string
	First, Second                  *engine.Report
	Tickets                        []ticket
	RequestsAfterFirst             int
	RequestsAfterSecond            int
	Trigger                        sdptest.Trigger
	Changes                        []change
	Push                           *push
	Skipped                        []string
}

// quickstart holds the running demo.
type quickstart struct {
	out   io.Writer
	opts  options
	ws    string
	sdp   *sdptest.Server
	far   *faraday.Client
	fsrv  *faradaytest.Server
	sc    *servicedesk.Client
	links *faraday.MemoryLinkStore
	eng   *engine.Engine
	cfg   *mapping.Config
	hook  *httptest.Server
	token string
	r     results
}

// start does step 1 and 2's setup: it starts the fakes and loads the vulns.
func start(opts options, out io.Writer) (*quickstart, error) {
	q := &quickstart{out: out, opts: opts, ws: sample.Workspace, links: faraday.NewMemoryLinkStore()}
	vulns, source, err := q.loadVulns()
	if err != nil {
		return nil, err
	}
	apiToken, _, err := faraday.NewTokenSecret()
	if err != nil {
		return nil, err
	}
	q.sdp = sdptest.NewServer()
	q.fsrv = faradaytest.NewServer(faradaytest.WithToken(apiToken))
	if err := q.fsrv.AddWorkspace(faraday.Workspace{Name: q.ws, Active: true}); err != nil {
		q.close()
		return nil, err
	}
	for _, v := range vulns {
		if _, err := q.fsrv.AddVuln(q.ws, v); err != nil {
			q.close()
			return nil, fmt.Errorf("loading vuln %d into the fake Faraday: %w", v.ID, err)
		}
		q.r.Loaded++
		if v.Confirmed {
			q.r.Confirmed++
		} else {
			q.r.Unconfirmed++
		}
	}
	if q.far, err = faraday.NewClient(q.fsrv.URL(), faraday.WithToken(apiToken)); err != nil {
		q.close()
		return nil, err
	}
	if q.sc, err = servicedesk.NewClient(q.sdp.URL(), servicedesk.WithAuthToken(sdptest.DefaultAuthToken)); err != nil {
		q.close()
		return nil, err
	}
	q.printf("1. Started a fake ServiceDesk Plus at %s and a fake Faraday at %s (loopback only).\n", q.sdp.URL(), q.fsrv.URL())
	q.printf("   Faraday workspace %q holds %s from %s: %d confirmed, %d unconfirmed.\n", q.ws, plural(q.r.Loaded, "vuln"), source, q.r.Confirmed, q.r.Unconfirmed)
	if q.r.RowErrors > 0 {
		q.printf("   %d rows of the export could not be read and were left out (see above).\n", q.r.RowErrors)
	}
	return q, nil
}

// loadVulns reads the sample vulns or the -csv export.
func (q *quickstart) loadVulns() ([]faraday.Vuln, string, error) {
	if q.opts.csv == "" {
		vs, err := sample.Vulns()
		return vs, "the sample (examples/sample/vulns.json)", err
	}
	q.ws = q.opts.workspace
	f, err := os.Open(q.opts.csv)
	if err != nil {
		return nil, "", &usageError{err}
	}
	defer func() { _ = f.Close() }()
	rd, err := faraday.NewExportReader(f, faraday.WithExportWorkspace(q.ws))
	if err != nil {
		return nil, "", &usageError{fmt.Errorf("%s: %w", q.opts.csv, err)}
	}
	var vs []faraday.Vuln
	seen := map[int64]bool{}
	for rec, err := range rd.All() {
		var re *faraday.RowError
		switch {
		case errors.As(err, &re):
			q.r.RowErrors++
			q.printf("   %s: %v\n", q.opts.csv, re)
			continue
		case err != nil:
			return nil, "", fmt.Errorf("%s: %w", q.opts.csv, err)
		}
		if seen[rec.Vuln.ID] {
			q.r.RowErrors++
			q.printf("   %s: line %d repeats vuln %d (first at an earlier line); left out\n", q.opts.csv, rec.Line, rec.Vuln.ID)
			continue
		}
		seen[rec.Vuln.ID] = true
		vs = append(vs, *rec.Vuln)
	}
	return vs, q.opts.csv, nil
}

func (q *quickstart) close() {
	if q.hook != nil {
		q.hook.Close()
	}
	if q.sdp != nil {
		q.sdp.Close()
	}
	if q.fsrv != nil {
		q.fsrv.Close()
	}
	if q.far != nil {
		q.far.CloseIdleConnections()
	}
}

func (q *quickstart) printf(format string, args ...any) { _, _ = fmt.Fprintf(q.out, format, args...) }

// runSteps runs steps 2 to 8; the first that fails stops the run.
func (q *quickstart) runSteps(ctx context.Context) error {
	for _, step := range []func(context.Context) error{
		q.step2Config, q.step3Export, q.step4ExportAgain, q.step5Webhook,
		q.step6Technician, q.step7Push, q.step8Summary,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// step2Config loads the example configuration, validates it and checks it
// against the ServiceDesk's catalogue.
func (q *quickstart) step2Config(ctx context.Context) error {
	cfg, err := mapping.LoadConfig(sample.ConfigJSON())
	if err != nil {
		return fmt.Errorf("step 2: the example config is not valid: %w", err)
	}
	cfg.FaradayURL = q.fsrv.URL() // links back to the vulns point at the fake Faraday
	q.cfg = cfg
	// One vuln at a time, so that the story reads in order (the export
	// program works on several at once).
	eng, err := engine.New(engine.Config{SDP: q.sc, Mapping: cfg, Links: q.links, Concurrency: 1})
	if err != nil {
		return fmt.Errorf("step 2: %w", err)
	}
	if err := eng.Prepare(ctx); err != nil {
		return fmt.Errorf("step 2: the example config does not fit the ServiceDesk: %w", err)
	}
	q.eng = eng
	cat := eng.Catalog()
	q.r.Catalog, q.r.RequesterID, q.r.Warnings = cat, string(eng.RequesterID()), eng.Warnings()
	if q.r.RequesterID == "" || cat == nil {
		return errors.New("step 2: Prepare succeeded without resolving the requester or fetching the catalogue")
	}
	q.printf("\n2. Loaded the example config (examples/sample/config.json): valid.\n")
	q.printf("   Checked it against the ServiceDesk's catalogue: %d priorities, %d statuses, %d templates, %d categories, %d groups, %d technicians;\n",
		len(cat.Priorities), len(cat.Statuses), len(cat.Templates), len(cat.Categories), len(cat.Groups), len(cat.Technicians))
	q.printf("   every configured name exists. Requester %q is user %s.\n", cfg.Requester.LoginName, q.r.RequesterID)
	for _, w := range q.r.Warnings {
		q.printf("   note: %s\n", w)
	}
	return nil
}

// source lists the workspace's vulns through the Faraday REST client.
func (q *quickstart) source(ctx context.Context) iter.Seq2[*faraday.Vuln, error] {
	return q.far.Vulns.All(ctx, q.ws, &faraday.ListVulnsOptions{Sort: "id", SortDir: faraday.SortAsc})
}

// step3Export exports the confirmed vulns.
func (q *quickstart) step3Export(ctx context.Context) error {
	q.printf("\n3. Exporting the confirmed vulns to ServiceDesk tickets:\n")
	opts := &engine.ExportOptions{Total: q.r.Loaded, Progress: func(p engine.Progress) {
		q.printf("   [%d/%d] %d created, %d skipped, %d failed\n", p.Done, p.Total, p.Created, p.Skipped, p.Failed)
	}}
	rep, err := q.eng.Export(ctx, q.source(ctx), opts)
	if err != nil {
		return fmt.Errorf("step 3: the export stopped: %w", err)
	}
	q.r.First = rep
	items := sortedItems(rep)
	for _, it := range items {
		if it.Outcome == engine.Skipped {
			q.printf("   skipped %s: %s\n", it.Key, it.Reason)
		}
	}
	if rep.Failed > 0 {
		for _, it := range items {
			if it.Outcome == engine.Failed {
				q.printf("   FAILED %s: %v\n", it.Key, it.Err)
			}
		}
		return fmt.Errorf("step 3: %d vulns failed to export", rep.Failed)
	}
	m := q.eng.Mapper()
	tw := tabwriter.NewWriter(q.out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "   VULN\tSEVERITY → PRIORITY\tTICKET\tLINK")
	for _, it := range items {
		if it.Outcome != engine.Created {
			continue
		}
		v, ok := q.fsrv.Vuln(q.ws, it.Key.VulnID)
		if !ok {
			return fmt.Errorf("step 3: ticket %s made for vuln %s that Faraday does not hold", it.TicketID, it.Key)
		}
		prio, err := m.Priority(v.Severity)
		if err != nil {
			return fmt.Errorf("step 3: %w", err)
		}
		if err := q.checkTicket(it, &v, prio); err != nil {
			return fmt.Errorf("step 3: %w", err)
		}
		t := ticket{Key: it.Key, Name: v.Name, Severity: v.Severity, Priority: prio, TicketID: it.TicketID, URL: it.URL}
		q.r.Tickets = append(q.r.Tickets, t)
		_, _ = fmt.Fprintf(tw, "   %s\t%s → %s\t%s\t%s\n", t.Key, t.Severity, t.Priority, t.TicketID, t.URL)
	}
	_ = tw.Flush()
	// Unconfirmed vulns never get a ticket.
	unconfirmedSkipped := 0
	for _, it := range items {
		if v, ok := q.fsrv.Vuln(q.ws, it.Key.VulnID); ok && !v.Confirmed {
			if it.Outcome != engine.Skipped {
				return fmt.Errorf("step 3: unconfirmed vuln %s was not skipped (%s)", it.Key, it.Outcome)
			}
			unconfirmedSkipped++
		}
	}
	if unconfirmedSkipped != q.r.Unconfirmed {
		return fmt.Errorf("step 3: %d unconfirmed vulns skipped, Faraday holds %d", unconfirmedSkipped, q.r.Unconfirmed)
	}
	q.r.RequestsAfterFirst = len(q.sdp.Requests())
	if q.r.RequestsAfterFirst != rep.Created || len(q.r.Tickets) != rep.Created {
		return fmt.Errorf("step 3: %d tickets reported created, ServiceDesk holds %d requests", rep.Created, q.r.RequestsAfterFirst)
	}
	q.printf("   %s created; %s skipped, of which %d unconfirmed.\n", plural(rep.Created, "ticket"), plural(rep.Skipped, "vuln"), unconfirmedSkipped)
	return nil
}

// checkTicket verifies the request ServiceDesk holds for an exported vuln.
func (q *quickstart) checkTicket(it engine.Item, v *faraday.Vuln, prio string) error {
	req, ok := q.sdp.Request(it.TicketID)
	if !ok {
		return fmt.Errorf("ticket %s of %s is not in ServiceDesk", it.TicketID, it.Key)
	}
	m := q.eng.Mapper()
	tag, err := m.Tag(q.ws, v.ID)
	if err != nil {
		return err
	}
	if !mapping.HasTag(req.Subject, tag) {
		return fmt.Errorf("ticket %s's subject %q lacks the tag %s", it.TicketID, req.Subject, tag)
	}
	if req.Priority == nil || !strings.EqualFold(req.Priority.Name, prio) {
		return fmt.Errorf("ticket %s has priority %v, want %s", it.TicketID, req.Priority, prio)
	}
	if ref, ok := mapping.ParseReference(req.Description); !ok || ref.Workspace != q.ws || ref.VulnID != v.ID {
		return fmt.Errorf("ticket %s's description has no reference to %s", it.TicketID, it.Key)
	}
	if !v.Confirmed {
		return fmt.Errorf("ticket %s made for unconfirmed vuln %s", it.TicketID, it.Key)
	}
	return nil
}

// step4ExportAgain runs the export again: nothing is created twice.
func (q *quickstart) step4ExportAgain(ctx context.Context) error {
	rep, err := q.eng.Export(ctx, q.source(ctx), nil)
	if err != nil {
		return fmt.Errorf("step 4: the second export stopped: %w", err)
	}
	q.r.Second = rep
	q.r.RequestsAfterSecond = len(q.sdp.Requests())
	q.printf("\n4. Exported again: %d created, %d already linked and up to date, %d skipped; ServiceDesk still holds %s.\n",
		rep.Created+rep.Found, rep.UpToDate, rep.Skipped, plural(q.r.RequestsAfterSecond, "request"))
	switch {
	case rep.Created != 0 || rep.Found != 0 || rep.Failed != 0:
		return fmt.Errorf("step 4: the second export created %d, found %d and failed %d, want none", rep.Created, rep.Found, rep.Failed)
	case rep.UpToDate != len(q.r.Tickets):
		return fmt.Errorf("step 4: %d vulns up to date, want the %d linked", rep.UpToDate, len(q.r.Tickets))
	case q.r.RequestsAfterSecond != q.r.RequestsAfterFirst:
		return fmt.Errorf("step 4: ServiceDesk holds %d requests after the second export, %d before", q.r.RequestsAfterSecond, q.r.RequestsAfterFirst)
	}
	return nil
}

// step5Webhook makes a service_desk token, starts the webhook handler on
// loopback and registers the seed's trigger and webhook pointing at it.
func (q *quickstart) step5Webhook(ctx context.Context) error {
	tokens := faraday.NewMemoryTokenStore()
	tok, secret, err := faraday.IssueToken(ctx, tokens, faraday.UserToken{UserID: 1, Alias: "ServiceDesk webhook", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		return fmt.Errorf("step 5: %w", err)
	}
	q.token = secret
	vulns, err := webhook.NewClientVulnStore(q.far)
	if err != nil {
		return fmt.Errorf("step 5: %w", err)
	}
	h, err := webhook.NewHandler(webhook.Config{
		Tokens: tokens, Links: q.links, Statuses: q.eng.Mapper(), Vulns: vulns,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return fmt.Errorf("step 5: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(webhook.Path, h)
	q.hook = httptest.NewServer(mux) // 127.0.0.1 only
	trig := sdptest.Trigger{
		Name:     triggerName,
		On:       []sdptest.TriggerAction{sdptest.OnEdit},
		Modified: []string{"status.name"},
		Method:   http.MethodPost,
		URL:      q.hook.URL + webhook.Path,
		Headers:  map[string]string{webhook.HeaderToken: "1"},
		Payload:  strings.Replace(seedPayload, tokenPlaceholder, secret, 1),
	}
	if err := q.sdp.AddTrigger(trig); err != nil {
		return fmt.Errorf("step 5: ServiceDesk refused the trigger: %w", err)
	}
	trig.Payload = seedPayload // what is kept and shown holds no token
	q.r.Trigger = trig
	if _, err := faraday.ValidateToken(ctx, tokens, secret, time.Now(), faraday.ScopeServiceDesk); err != nil {
		return fmt.Errorf("step 5: the new token does not pass: %w", err)
	}
	q.printf("\n5. Made Faraday user token %d %q (scope %s; shown once, not printed here).\n", tok.ID, tok.Alias, tok.Scope)
	q.printf("   Registered ServiceDesk trigger %q: on Edit, when Status > Name is modified,\n", trig.Name)
	q.printf("   webhook POST %s with header %s: 1 and payload\n", trig.URL, webhook.HeaderToken)
	for line := range strings.SplitSeq(seedPayload, "\n") {
		q.printf("     %s\n", line)
	}
	q.printf("   (%s replaced by the token; \"id\" is the recommended addition to the seed's payload).\n", tokenPlaceholder)
	return nil
}

// step6Technician changes tickets as a technician in the ServiceDesk UI.
func (q *quickstart) step6Technician(ctx context.Context) error {
	q.printf("\n6. A technician changes tickets in ServiceDesk; the trigger calls the webhook:\n")
	plan := []struct {
		status string
		want   func(faraday.Status) faraday.Status
		what   string
	}{
		{"Resolved", func(faraday.Status) faraday.Status { return faraday.StatusClosed }, "vuln → closed"},
		{"On Hold", func(faraday.Status) faraday.Status { return faraday.StatusRiskAccepted }, "vuln → risk-accepted"},
		{"Canceled", func(s faraday.Status) faraday.Status { return s }, "mapped to ignore: vuln unchanged"},
	}
	if len(q.r.Tickets) < len(plan) {
		var left []string
		for _, p := range plan[len(q.r.Tickets):] {
			left = append(left, p.status)
		}
		note := fmt.Sprintf("step 6 needs %d tickets and there are only %d: skipped the change to %s", len(plan), len(q.r.Tickets), strings.Join(left, " and "))
		q.r.Skipped = append(q.r.Skipped, note)
		q.printf("   %s.\n", note)
		plan = plan[:len(q.r.Tickets)]
	}
	tw := tabwriter.NewWriter(q.out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "   TICKET\tVULN\tSERVICEDESK\tFARADAY\tWEBHOOK ANSWER\tEXPECTED")
	var errs []error
	for i, p := range plan {
		t := q.r.Tickets[i]
		c := change{Ticket: t}
		var err error
		if c.SDPBefore, err = q.ticketStatus(t.TicketID); err != nil {
			return fmt.Errorf("step 6: %w", err)
		}
		if c.VulnBefore, err = q.vulnStatus(ctx, t.Key); err != nil {
			return fmt.Errorf("step 6: %w", err)
		}
		n := len(q.sdp.Deliveries())
		if err := q.sdp.SetStatus(t.TicketID, p.status); err != nil {
			return fmt.Errorf("step 6: setting ticket %s to %s: %w", t.TicketID, p.status, err)
		}
		if c.Answer, err = q.waitDelivery(ctx, n+1); err != nil {
			return fmt.Errorf("step 6: %w", err)
		}
		if c.SDPAfter, err = q.ticketStatus(t.TicketID); err != nil {
			return fmt.Errorf("step 6: %w", err)
		}
		if c.VulnAfter, err = q.vulnStatus(ctx, t.Key); err != nil {
			return fmt.Errorf("step 6: %w", err)
		}
		c.Want = p.want(c.VulnBefore)
		q.r.Changes = append(q.r.Changes, c)
		_, _ = fmt.Fprintf(tw, "   %s\t%s\t%s → %s\t%s → %s\t%s\t%s\n", t.TicketID, t.Key, c.SDPBefore, c.SDPAfter,
			c.VulnBefore, c.VulnAfter, c.Answer, p.what)
		if c.VulnAfter != c.Want || c.Answer.Code != http.StatusOK {
			errs = append(errs, fmt.Errorf("ticket %s to %s: vuln %s is %s (answer %s), want %s", t.TicketID, p.status, t.Key, c.VulnAfter, c.Answer, c.Want))
		}
	}
	_ = tw.Flush()
	if len(errs) > 0 {
		return fmt.Errorf("step 6: %w", errors.Join(errs...))
	}
	return nil
}

// step7Push changes a vuln in Faraday, pushes the change to its ticket and
// shows that the trigger's echo of the push changes nothing.
func (q *quickstart) step7Push(ctx context.Context) error {
	if len(q.r.Changes) == 0 {
		note := "step 7 needs a ticket that step 6 changed, and there is none: skipped"
		q.r.Skipped = append(q.r.Skipped, note)
		q.printf("\n7. %s.\n", note)
		return nil
	}
	t := q.r.Changes[0].Ticket // the vuln closed through its ticket in step 6
	p := &push{Ticket: t}
	var err error
	if p.VulnBefore, err = q.vulnStatus(ctx, t.Key); err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	if p.SDPBefore, err = q.ticketStatus(t.TicketID); err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	// The fix did not hold: the vuln is found again and re-opened in Faraday.
	if _, err := q.far.Vulns.UpdateStatus(ctx, q.ws, t.Key.VulnID, faraday.StatusReopened); err != nil {
		return fmt.Errorf("step 7: re-opening %s in Faraday: %w", t.Key, err)
	}
	if p.VulnAfter, err = q.vulnStatus(ctx, t.Key); err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	q.printf("\n7. In Faraday the fix did not hold: %s goes from %s to %s. Pushing the change to its ticket:\n", t.Key, p.VulnBefore, p.VulnAfter)
	n := len(q.sdp.Deliveries())
	rep, err := q.eng.Export(ctx, q.source(ctx), &engine.ExportOptions{IDs: []int64{t.Key.VulnID}, PushStatus: true})
	if err != nil {
		return fmt.Errorf("step 7: the push stopped: %w", err)
	}
	if rep.Pushed != 1 {
		return fmt.Errorf("step 7: %d pushes, want 1 (report: %d up to date, %d failed)", rep.Pushed, rep.UpToDate, rep.Failed)
	}
	for _, it := range rep.Items {
		if it.Outcome == engine.Pushed {
			p.Pushed = it.Status
		}
	}
	want, err := q.eng.Mapper().Outgoing(faraday.StatusReopened)
	if err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	if p.TicketStatusAfterPush, err = q.ticketStatus(t.TicketID); err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	if !strings.EqualFold(p.Pushed, want) || !strings.EqualFold(p.TicketStatusAfterPush, want) {
		return fmt.Errorf("step 7: pushed %q and the ticket is %q, want %q", p.Pushed, p.TicketStatusAfterPush, want)
	}
	q.printf("   ticket %s: %s → %s (outgoing map: re-opened → %s).\n", t.TicketID, p.SDPBefore, p.TicketStatusAfterPush, want)
	if p.Echo, err = q.waitDelivery(ctx, n+1); err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	if p.VulnAfterEcho, err = q.vulnStatus(ctx, t.Key); err != nil {
		return fmt.Errorf("step 7: %w", err)
	}
	q.r.Push = p
	incoming := q.eng.Mapper().Incoming(want)
	q.printf("   The edit fired the trigger: the webhook got %q back and answered %s.\n", want, p.Echo)
	q.printf("   Taken at face value %q would set the vuln to %s; recognised as the echo of our own push, it changed nothing: %s is still %s.\n",
		want, incoming.Status, t.Key, p.VulnAfterEcho)
	if p.Echo.Result != string(webhook.ResultUnchanged) || p.Echo.Reason != string(webhook.ReasonEcho) || p.VulnAfterEcho != faraday.StatusReopened {
		return fmt.Errorf("step 7: the echo was answered %s and the vuln is %s, want unchanged (echo) and re-opened", p.Echo, p.VulnAfterEcho)
	}
	return nil
}

// step8Summary prints the summary.
func (q *quickstart) step8Summary(context.Context) error {
	applied := 0
	for _, c := range q.r.Changes {
		if c.VulnAfter == c.Want {
			applied++
		}
	}
	q.printf("\n8. Summary: %s in Faraday (%d confirmed); %s created, none twice; %d of %d technician changes handled as mapped;",
		plural(q.r.Loaded, "vuln"), q.r.Confirmed, plural(len(q.r.Tickets), "ticket"), applied, len(q.r.Changes))
	if q.r.Push != nil {
		q.printf(" 1 Faraday change pushed, its echo ignored;")
	}
	q.printf(" %s.\n", plural(len(q.sdp.Deliveries()), "webhook delivery"))
	for _, s := range q.r.Skipped {
		q.printf("   skipped: %s\n", s)
	}
	q.printf("   Every step did what it said.\n")
	return nil
}

// waitDelivery waits for the n-th trigger delivery and returns the
// webhook's answer to it.
func (q *quickstart) waitDelivery(ctx context.Context, n int) (answer, error) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ds, err := q.sdp.Wait(wctx, n)
	if err != nil {
		return answer{}, fmt.Errorf("waiting for webhook delivery %d: %w", n, err)
	}
	d := ds[n-1]
	if d.Err != "" {
		return answer{}, fmt.Errorf("webhook delivery %d failed: %s", n, d.Err)
	}
	a := answer{Code: d.Status}
	if err := json.Unmarshal(d.Answer, &a); err != nil {
		return a, fmt.Errorf("webhook delivery %d: answer %d is not JSON: %w", n, d.Status, err)
	}
	return a, nil
}

func (a answer) String() string {
	s := fmt.Sprintf("%d %s", a.Code, a.Result)
	if a.Reason != "" {
		s += " (" + a.Reason + ")"
	}
	return s
}

func (q *quickstart) ticketStatus(id string) (string, error) {
	r, ok := q.sdp.Request(id)
	if !ok || r.Status == nil {
		return "", fmt.Errorf("ticket %s is not in ServiceDesk", id)
	}
	return r.Status.Name, nil
}

func (q *quickstart) vulnStatus(ctx context.Context, k faraday.VulnKey) (faraday.Status, error) {
	v, err := q.far.Vulns.Get(ctx, k.Workspace, k.VulnID)
	if err != nil {
		return 0, err
	}
	return v.Status, nil
}

// sortedItems returns the report's items by workspace and id.
func sortedItems(rep *engine.Report) []engine.Item {
	items := slices.Clone(rep.Items)
	slices.SortFunc(items, func(a, b engine.Item) int {
		if c := strings.Compare(a.Key.Workspace, b.Key.Workspace); c != 0 {
			return c
		}
		return int(a.Key.VulnID - b.Key.VulnID)
	})
	return items
}

// plural returns "1 vuln", "2 vulns", "2 webhook deliveries".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(noun, "y"))
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
