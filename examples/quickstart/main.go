// Command quickstart runs the whole Faraday ⇄ ServiceDesk Plus loop on this
// machine, with no service outside the process and no flags:
//
//	go run ./examples/quickstart
//
// It starts a fake ServiceDesk Plus (package sdptest) and a fake Faraday
// (package faradaytest) on loopback ports, exports the sample vulns as
// tickets, takes technicians' status changes back through the webhook, pushes
// a Faraday change to its ticket and shows the trigger's echo changing nothing.
// Each step checks that it did what it says; the exit status is 1 when one did
// not.
//
// With -csv FILE it runs the same steps on a Faraday CSV export instead of the
// sample vulns (the export has no workspace column: -workspace names it).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// runTimeout bounds a whole run: it takes a second or two.
const runTimeout = 2 * time.Minute

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// testHook, when set by a test, sees the quickstart before steps 2 to 8.
var testHook func(*quickstart)

// run is the program; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(stderr)
	csvPath := fs.String("csv", "", "run on this Faraday CSV export instead of the sample vulns")
	workspace := fs.String("workspace", defaultCSVWorkspace, "workspace name of the -csv export (the export has no workspace column)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		_, _ = fmt.Fprintf(stderr, "quickstart: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	opts := options{csv: *csvPath, workspace: *workspace}
	if err := opts.validate(); err != nil {
		_, _ = fmt.Fprintf(stderr, "quickstart: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	q, err := start(opts, stdout)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "quickstart: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			return exitUsage
		}
		return exitFail
	}
	defer q.close()
	if testHook != nil {
		testHook(q)
	}
	if err := q.runSteps(ctx); err != nil {
		_, _ = fmt.Fprintf(stdout, "\nFAILED: %v\n", err)
		return exitFail
	}
	return exitOK
}
