package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/servicedesk"
	"github.com/vulndesk/mesd/webhook"
)

// progressInterval is how often progress is written to stderr.
const progressInterval = 500 * time.Millisecond

// run is the program; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return report(err, stderr)
	}
	a, err := newApp(o, getenv)
	if err != nil {
		return report(err, stderr)
	}
	defer a.close()
	if o.check {
		return a.runCheck(ctx, stdout)
	}
	if err := a.prepare(ctx); err != nil {
		return report(err, stderr)
	}
	if o.dryRun {
		return a.dryRun(ctx, stdout, stderr)
	}
	code := a.round(ctx, stdout, stderr)
	if o.every == 0 {
		return code
	}
	t := time.NewTicker(o.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_, _ = fmt.Fprintln(stderr, "export: interrupted; stopping")
			return code
		case <-t.C:
			c := a.round(ctx, stdout, stderr)
			if ctx.Err() != nil { // interrupted during the round: it did not finish
				_, _ = fmt.Fprintln(stderr, "export: interrupted; stopping")
				return code
			}
			code = c
		}
	}
}

// report prints err with its fix and returns the exit status.
func report(err error, stderr io.Writer) int {
	if errors.Is(err, errHelp) {
		return exitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		if ue.msg != "" { // an empty message: the flag package said it
			_, _ = fmt.Fprintf(stderr, "export: %s\n", ue.msg)
		}
		return exitUsage
	}
	_, _ = fmt.Fprintf(stderr, "export: %v\n", err)
	if t, ok := sdpTrouble(err); ok {
		_, _ = fmt.Fprintf(stderr, "  fix: %s\n", t)
	}
	return exitFail
}

// prepare checks the configuration against the instance.
func (a *app) prepare(ctx context.Context) error {
	err := a.eng.Prepare(ctx)
	var ce *engine.ConfigError
	if errors.As(err, &ce) {
		return usagef("config %s does not fit the ServiceDesk:\n  %s", a.o.config, indentBy(problemLines(ce.Problems), "  "))
	}
	if err != nil {
		return fmt.Errorf("preparing the export: %w", err)
	}
	return nil
}

func indentBy(s, pad string) string {
	out := ""
	for i, r := range s {
		out += string(r)
		if r == '\n' && i < len(s)-1 {
			out += pad
		}
	}
	return out
}

// round exports, pushes and reconciles once and prints the summary.
func (a *app) round(ctx context.Context, stdout, stderr io.Writer) int {
	total := a.total(ctx)
	a.warn = stderr
	src, closeSrc := a.source(ctx)
	a.warn = nil // the reconcile reads the same file again: warn once
	rep, err := a.eng.Export(ctx, src, &engine.ExportOptions{
		IDs: a.o.ids, MinSeverity: a.o.minSeverity, PushStatus: a.o.push, Reconcile: a.o.searchFirst,
		Total: total, Progress: progress(stderr, "export", progressInterval),
	})
	_ = closeSrc()
	var rec *engine.Report
	if err == nil && a.far != nil && a.o.reconcile {
		vs, verr := webhook.NewClientVulnStore(a.far)
		if verr != nil {
			return report(verr, stderr)
		}
		src, closeSrc := a.source(ctx)
		rec, err = a.eng.ReconcileIncoming(ctx, src, vs, &engine.ReconcileOptions{Total: total, Progress: progress(stderr, "reconcile", progressInterval)})
		_ = closeSrc()
	}
	if a.o.jsonOut {
		if jerr := printJSON(stdout, rep, rec); jerr != nil {
			_, _ = fmt.Fprintf(stderr, "export: %v\n", jerr)
		}
	} else {
		if rep != nil {
			printTable(stdout, "export", rep)
		}
		if rec != nil {
			printTable(stdout, "reconcile", rec)
		}
	}
	code := exitOK
	for _, r := range []*engine.Report{rep, rec} {
		if r != nil && (r.Failed > 0 || r.NotAttempted > 0) {
			code = exitFail
		}
	}
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "export: the run stopped: %v\n", err)
		var se *engine.SystemicError
		switch {
		case errors.As(err, &se) && len(se.MandatoryFields) > 0:
			_, _ = fmt.Fprintf(stderr, "  fix: the template needs %v: give them values in the template's fields of %s\n", se.MandatoryFields, a.o.config)
			return exitUsage
		case errors.Is(err, servicedesk.ErrInvalidInput):
			return exitUsage
		}
		if t, ok := sdpTrouble(err); ok {
			_, _ = fmt.Fprintf(stderr, "  fix: %s\n", t)
		}
		code = exitFail
	}
	return code
}

// dryRun prints the requests an export would create, without sending them.
func (a *app) dryRun(ctx context.Context, stdout, stderr io.Writer) int {
	src, closeSrc := a.source(ctx)
	defer func() { _ = closeSrc() }()
	m, rid := a.eng.Mapper(), a.eng.RequesterID()
	var create, linked, skipped, failed int
	for v, err := range src {
		if err != nil {
			failed++
			_, _ = fmt.Fprintf(stdout, "error: %v\n", err)
			var re *faraday.RowError
			if errors.As(err, &re) {
				continue
			}
			break
		}
		key := faraday.VulnKey{Workspace: v.WorkspaceName, VulnID: v.ID}
		if key.Workspace == "" {
			key.Workspace = a.o.workspace
			v.WorkspaceName = a.o.workspace
		}
		if reason := a.skipReason(v); reason != "" {
			skipped++
			_, _ = fmt.Fprintf(stdout, "skip %s: %s\n", key, reason)
			continue
		}
		l, err := a.links.Get(ctx, key)
		if err == nil && l.State == faraday.LinkLinked {
			linked++
			s, _ := m.Outgoing(v.Status)
			_, _ = fmt.Fprintf(stdout, "linked %s: ticket %s; a run would push status %q if the ticket has another\n", key, l.RequestID, s)
			continue
		}
		if err != nil && !errors.Is(err, faraday.ErrLinkNotFound) {
			_, _ = fmt.Fprintf(stderr, "export: link store: %v\n", err)
			return exitFail
		}
		if v.Status != faraday.StatusOpen && v.Status != faraday.StatusReopened {
			skipped++
			_, _ = fmt.Fprintf(stdout, "skip %s: status %s gets no new ticket\n", key, v.Status)
			continue
		}
		in, err := m.Request(v, rid)
		if err != nil {
			failed++
			_, _ = fmt.Fprintf(stdout, "error %s: %v\n", key, err)
			continue
		}
		var body strings.Builder
		enc := json.NewEncoder(&body)
		enc.SetEscapeHTML(false) // the description is HTML: show it as SDP receives it
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"request": in}); err != nil {
			failed++
			_, _ = fmt.Fprintf(stdout, "error %s: %v\n", key, err)
			continue
		}
		create++
		_, _ = fmt.Fprintf(stdout, "create %s: POST /requests input_data=\n%s", key, body.String())
	}
	_, _ = fmt.Fprintf(stdout, "dry run: %d would be created, %d already linked, %d skipped, %d errors; nothing was sent\n", create, linked, skipped, failed)
	if failed > 0 {
		return exitFail
	}
	return exitOK
}

// skipReason applies the selection flags as Export does.
func (a *app) skipReason(v *faraday.Vuln) string {
	switch {
	case !v.Confirmed:
		return "not confirmed"
	case len(a.o.ids) > 0 && !slices.Contains(a.o.ids, v.ID):
		return "not selected by -ids"
	case a.o.minSeverity != 0 && v.Severity < a.o.minSeverity:
		return fmt.Sprintf("severity %s is below -min-severity %s", v.Severity, a.o.minSeverity)
	}
	return ""
}

// total returns how many vulns a Faraday source will yield (one call asking
// for a page of one), or 0 when it cannot tell.
func (a *app) total(ctx context.Context) int {
	if a.far == nil {
		return 0
	}
	page, err := a.far.Vulns.List(ctx, a.o.workspace, &faraday.ListVulnsOptions{PageSize: 1})
	if err != nil {
		return 0 // the export itself reports the failure
	}
	return page.Count
}
