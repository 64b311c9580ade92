// Package engine is the outgoing half of the Faraday ⇄ ServiceDesk Plus
// integration, shared by the example programs and the soak tests: it
// exports confirmed vulns as SDP requests, pushes Faraday status changes
// to their tickets, and reconciles ticket statuses a webhook delivery
// missed.
//
// An Engine is made with New from a ServiceDesk client, a mapping
// configuration and a link store. Prepare checks everything that can be
// checked before a ticket is made: it resolves the requester, fetches the
// instance's catalogue and runs mapping's Validate and Check, so that a
// configuration error is reported once, not once per vuln. Export then
// takes vulns from any iterator (the Faraday client's Vulns.All, the CSV
// export reader through FromExport, a slice):
//
//	eng, err := engine.New(engine.Config{SDP: sdp, Mapping: cfg, Links: links})
//	if err := eng.Prepare(ctx); err != nil { … }
//	rep, err := eng.Export(ctx, fc.Vulns.All(ctx, "acme", nil), nil)
//
// # Exactly one ticket per vuln
//
// Every link write is a compare-and-set on the link store. For a vuln
// without a link the engine first writes a pending intent carrying the
// subject tag, then creates the request, then marks the link linked. A run
// that dies between the create and the link (a crash, a SIGKILL, a lost
// answer) leaves the pending intent, and the next run finishes it with
// servicedesk's CreateOnce, which finds the request by its tag before
// creating one. A clean run therefore costs one SDP call per new vuln and
// none per linked one; the search is paid only where a run was cut short,
// or for every vuln with ExportOptions.Reconcile (a new link store against
// an SDP that already holds tickets).
//
// # Failures
//
// A failure that concerns one vuln (a server error, a vuln that cannot be
// mapped) is recorded in the Report with its reason and the run goes on. A
// failure of the whole setup (credentials refused, a 4012 mandatory field
// of a template, a lookup name SDP does not know, an unreachable server, a
// failing link store) stops the run once, as a *SystemicError, instead of
// repeating the same error for every vuln.
//
// # Status sync
//
// With ExportOptions.PushStatus, linked vulns whose status maps to another
// ServiceDesk status than the ticket has get it pushed: an update, or a
// close (with ClosureInfo) when the status is one of the instance's closed
// statuses. The push is recorded in the link before the call, so the
// webhook recognises its echo. ReconcileIncoming reads the tickets' statuses
// from SDP in pages and applies the incoming map where a webhook delivery
// was missed, through the same compare-and-set protocol as the webhook
// handler; it also re-sends a push that the ticket never received, telling
// the two apart by the ticket's last-updated time (Config.ClockSkew; too
// close to call is reported as ErrAmbiguousChange and left alone).
//
// Progress is reported through ExportOptions.Progress after each vuln, and
// every run returns a Report with one Item per vuln (outcome, ticket id,
// UI link, error).
package engine
