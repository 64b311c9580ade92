// Package soak holds the repository's evidence tests: the webhook under
// load behind a loopback listener; two webhook-server processes sharing
// file-backed stores; the outgoing engine exporting through a faulty
// ServiceDesk (on-premises and cloud, runs cancelled mid-flight, two
// exporters at once); the status sync both ways with failed, doubled and
// refused deliveries; the check that no secret reaches a log line, a URL or
// an error string; the check that every package starting goroutines runs
// its tests under goleak; and benchmarks of export and webhook cost against
// concurrency. It has no API; everything is in its tests.
//
// Sizes are small by default so that CI stays fast; MESD_SOAK=full runs the
// sizes quoted in BENCHMARKS.md (10,000 webhook deliveries, 1,000 exported
// vulns, 500 status changes each way). Figures are printed with -v:
//
//	go test -v -run 'TestWebhookLoad' ./internal/soak/
//	MESD_SOAK=full go test -v ./internal/soak/
package soak
