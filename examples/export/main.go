// Command export exports confirmed Faraday vulnerabilities to a real
// ServiceDesk Plus as request tickets, pushes Faraday status changes to the
// tickets and takes back ticket changes a webhook delivery missed.
//
// Source: a Faraday server (-faraday-url, -workspace; FARADAY_TOKEN, or
// FARADAY_USER and FARADAY_PASSWORD) or a CSV export (-csv). Target: SDP
// on-premises (-sdp-url; SDP_AUTHTOKEN; optional -portal-id) or SDP Cloud
// (-cloud-portal, -data-centre; SDP_CLIENT_ID, SDP_CLIENT_SECRET and
// SDP_REFRESH_TOKEN). No secret is ever taken from the command line.
//
//	export -check  -config mesd.json -sdp-url https://sdp.example.com -faraday-url https://faraday.example.com -workspace acme
//	export -dry-run -config mesd.json -sdp-url https://sdp.example.com -csv vulns.csv -workspace acme
//	export          -config mesd.json -sdp-url https://sdp.example.com -faraday-url https://faraday.example.com -workspace acme -every 5m
//
// Progress goes to stderr, the summary table (or -json) to stdout. Exit
// status: 0 when every vuln went, 1 when some failed (or a check failed),
// 2 for a usage or configuration error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
