// Command webhook-server runs the incoming side of the Faraday ⇄ ServiceDesk
// Plus integration as a service: the webhook handler that ServiceDesk's custom
// trigger calls, with its user tokens, vuln ↔ ticket links and dead letters
// kept in files.
//
// Usage:
//
//	webhook-server serve [-addr HOST:PORT] [-tls-cert FILE -tls-key FILE] -config FILE -faraday-url URL
//	webhook-server serve -dev
//	webhook-server token create -alias NAME [-expires DURATION]
//	webhook-server token list
//	webhook-server token revoke ID
//	webhook-server replay -config FILE -faraday-url URL
//
// Faraday credentials come from the environment, never from the command line:
// FARADAY_TOKEN (an API token), or FARADAY_USER and FARADAY_PASSWORD.
//
// Exit status: 0 on success, 1 when the work failed, 2 for a usage or
// configuration error.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
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

// Default file locations, shared with examples/export (-state).
const (
	defaultTokens      = "mesd-tokens.json" //nolint:gosec // a file name, not a credential
	defaultLinks       = "mesd-links.json"
	defaultDeadLetters = "mesd-dead-letters.jsonl"
	defaultConfig      = "mesd.json"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

const usageText = `usage:
  webhook-server serve [flags]          run the webhook handler (-dev: a demo with no setup)
  webhook-server token create -alias A  make a service_desk token (printed once)
  webhook-server token list             list tokens (no secrets)
  webhook-server token revoke ID        revoke a token
  webhook-server replay [flags]         re-apply dead-lettered deliveries
Run "webhook-server COMMAND -h" for a command's flags.
`

// run is the program: args without the program name, getenv for the
// environment. It returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		_, _ = io.WriteString(stderr, usageText)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], getenv, stdout, stderr)
	case "token":
		err = tokenCmd(ctx, args[1:], stdout, stderr)
	case "replay":
		err = replay(ctx, args[1:], getenv, stdout, stderr)
	case "-h", "-help", "--help", "help":
		_, _ = io.WriteString(stdout, usageText)
		return exitOK
	default:
		_, _ = fmt.Fprintf(stderr, "webhook-server: unknown command %q\n%s", args[0], usageText)
		return exitUsage
	}
	return exitCode(err, stderr)
}

// exitCode prints err and maps it to an exit status.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if errors.Is(err, errFlagParse) {
		return exitUsage // the flag package has printed the problem
	}
	_, _ = fmt.Fprintf(stderr, "webhook-server: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFail
}
