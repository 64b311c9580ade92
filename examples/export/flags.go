package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vulndesk/mesd/examples/internal/refkey"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/servicedesk"
)

// defaultState is the link store's file, shared with
// examples/webhook-server (-links).
const defaultState = "mesd-links.json"

// usageError is a mistake on the command line or in the configuration
// (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// options are the parsed flags.
type options struct {
	config string
	state  string
	refKey string

	faradayURL string
	workspace  string
	csv        string

	sdpURL      string
	portalID    string
	cloudPortal string
	dataCentre  string
	accountsURL string

	ids         []int64
	minSeverity faraday.Severity
	template    string

	check       bool
	dryRun      bool
	jsonOut     bool
	concurrency int
	grace       time.Duration
	rate        float64
	every       time.Duration
	push        bool
	reconcile   bool
	searchFirst bool
}

var errHelp = errors.New("help requested")

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "mesd.json", "mapping configuration `file` (JSON)")
	fs.StringVar(&o.state, "state", defaultState, "vuln ↔ ticket link store `file` (shared with webhook-server -links)")
	fs.StringVar(&o.refKey, "reference-key", "", "`file` of the key that signs the tickets' footer references (default: the -state file's name + \".key\", made on first use; "+refkey.EnvVar+" overrides)")
	fs.StringVar(&o.faradayURL, "faraday-url", "", "Faraday base `URL` to read vulns from (FARADAY_TOKEN, or FARADAY_USER and FARADAY_PASSWORD)")
	fs.StringVar(&o.workspace, "workspace", "", "Faraday `workspace` (with -csv: the workspace the export came from)")
	fs.StringVar(&o.csv, "csv", "", "read vulns from this Faraday CSV export `file` instead of a Faraday server")
	fs.StringVar(&o.sdpURL, "sdp-url", "", "ServiceDesk Plus base `URL`, protocol and domain only (on-premises: SDP_AUTHTOKEN)")
	fs.StringVar(&o.portalID, "portal-id", "", "on-premises multi-instance PORTALID `number`")
	fs.StringVar(&o.cloudPortal, "cloud-portal", "", "SDP Cloud portal `name` (SDP_CLIENT_ID, SDP_CLIENT_SECRET, SDP_REFRESH_TOKEN)")
	fs.StringVar(&o.dataCentre, "data-centre", "US", "SDP Cloud data `centre`: "+dataCentres())
	fs.StringVar(&o.accountsURL, "accounts-url", "", "Zoho accounts server `URL`, to override the data centre's")
	ids := fs.String("ids", "", "export only these vuln `ids` (comma-separated)")
	minSev := fs.String("min-severity", "", "export only vulns of this `severity` or higher (critical, high, medium, low, info, unclassified)")
	fs.StringVar(&o.template, "template", "", "use this configured `template` for every vuln")
	fs.BoolVar(&o.check, "check", false, "check the setup (reachability, credentials, requester, templates, every configured name) and exit")
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the requests that would be created, without sending them")
	fs.BoolVar(&o.jsonOut, "json", false, "print the summary as JSON")
	fs.IntVar(&o.concurrency, "concurrency", 4, "vulns worked on at once")
	fs.DurationVar(&o.grace, "pending-grace", 0, "with a link store shared by several exporters: how long a ticket another exporter is creating (a pending link younger than this) is left to it (0: finish every pending link at once; runs on one -state file never overlap, they take turns)")
	fs.Float64Var(&o.rate, "rate", 0, "at most this many ServiceDesk writes per `second` (0: no limit)")
	fs.DurationVar(&o.every, "every", 0, "repeat the status push and reconcile at this `interval` until interrupted")
	fs.BoolVar(&o.push, "push", true, "push the status of linked vulns to their tickets")
	fs.BoolVar(&o.reconcile, "reconcile", true, "with a Faraday source, apply ticket status changes a webhook delivery missed")
	fs.BoolVar(&o.searchFirst, "search-existing", false, "search ServiceDesk for each unlinked vuln's ticket before creating one (a new -state file against tickets made earlier)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, errHelp
		}
		return nil, &usageError{msg: ""}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	if *ids != "" {
		for part := range strings.SplitSeq(*ids, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil || id < 1 {
				return nil, usagef("-ids: %q is not a vuln id", strings.TrimSpace(part))
			}
			o.ids = append(o.ids, id)
		}
	}
	if *minSev != "" {
		s, err := faraday.ParseSeverity(*minSev)
		if err != nil {
			return nil, usagef("-min-severity: %v", err)
		}
		o.minSeverity = s
	}
	return o, o.validate()
}

func dataCentres() string {
	var names []string
	for _, dc := range servicedesk.DataCentres() {
		names = append(names, string(dc))
	}
	return strings.Join(names, ", ")
}

func (o *options) validate() error {
	switch {
	case o.csv != "" && o.faradayURL != "":
		return usagef("give -faraday-url or -csv, not both")
	case o.csv == "" && o.faradayURL == "":
		return usagef("no source: give -faraday-url and -workspace, or -csv")
	case o.faradayURL != "" && o.workspace == "":
		return usagef("-faraday-url needs -workspace")
	case o.sdpURL == "" && o.cloudPortal == "":
		return usagef("no ServiceDesk: give -sdp-url (on-premises), or -cloud-portal (SDP Cloud)")
	case o.portalID != "" && o.cloudPortal != "":
		return usagef("-portal-id is for on-premises multi-instance SDP, not with -cloud-portal")
	case o.grace < 0:
		return usagef("-pending-grace %v: want 0 or more", o.grace)
	case o.concurrency < 1:
		return usagef("-concurrency %d: want at least 1", o.concurrency)
	case o.rate < 0:
		return usagef("-rate %v: want 0 (no limit) or more", o.rate)
	case o.every < 0:
		return usagef("-every %v is negative", o.every)
	case o.every > 0 && (o.check || o.dryRun):
		return usagef("-every repeats a real run; not with -check or -dry-run")
	case o.check && o.dryRun:
		return usagef("give -check or -dry-run, not both")
	}
	if o.csv != "" && o.workspace == "" {
		o.workspace = "csv-import"
	}
	if o.cloudPortal != "" && o.accountsURL == "" {
		dc := servicedesk.DataCentre(strings.ToUpper(o.dataCentre))
		found := false
		for _, d := range servicedesk.DataCentres() {
			found = found || d == dc
		}
		if !found {
			return usagef("-data-centre %q: want one of %s", o.dataCentre, dataCentres())
		}
		o.dataCentre = string(dc)
	}
	return nil
}
