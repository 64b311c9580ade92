// Package soak holds the repository's evidence tests: the webhook under
// load behind a loopback listener, two webhook-server processes sharing
// file-backed stores, the outgoing engine exporting through a faulty
// ServiceDesk, and the check that no secret reaches a log line or an error
// string. It has no API; everything is in its tests.
//
// Sizes are small by default so that CI stays fast; MESD_SOAK=full runs the
// sizes quoted in BENCHMARKS.md (10,000 webhook deliveries, 1,000 exported
// vulns). Figures are printed with -v:
//
//	go test -v -run 'TestWebhookLoad' ./internal/soak/
//	MESD_SOAK=full go test -v -run 'TestWebhookLoad' ./internal/soak/
package soak
