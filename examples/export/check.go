package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/vulndesk/mesd/internal/engine"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
)

// checkResult is one line of -check.
type checkResult struct {
	name   string
	ok     bool
	detail string
	fix    string
	config bool // a configuration problem (exit status 2)
}

// runCheck checks the setup, as the seed's "Authentication switch" does and
// more, and prints one line per check with what to fix.
func (a *app) runCheck(ctx context.Context, stdout io.Writer) int {
	var results []checkResult
	add := func(r checkResult) { results = append(results, r) }
	add(checkResult{name: "configuration " + a.o.config + " is valid", ok: true})

	// Reachability, URL and token: the Authentication switch.
	pingErr := a.sdp.Ping(ctx)
	r := checkResult{name: "ServiceDesk at " + a.sdp.BaseURL() + " answers and accepts the authtoken (the Authentication switch)", ok: pingErr == nil}
	if pingErr != nil {
		r.detail = pingErr.Error()
		if t, ok := sdpTrouble(pingErr); ok {
			r.fix = t.String()
		}
		var ce *servicedesk.CheckError
		if errors.As(pingErr, &ce) && ce.Hint != "" && r.fix == "" {
			r.fix = ce.Hint
		}
	}
	add(r)

	if a.far != nil {
		_, err := a.far.Workspaces.Get(ctx, a.o.workspace)
		r := checkResult{name: "Faraday at " + a.far.BaseURL() + " accepts the credentials and has workspace " + a.o.workspace, ok: err == nil}
		if err != nil {
			r.detail, r.fix = err.Error(), faradayHint(err, a.o.workspace)
		}
		add(r)
	}

	if pingErr == nil {
		add(a.checkRequester(ctx))
		_, err := a.sdp.Templates.List(ctx, nil)
		r := checkResult{name: "the authtoken may read request templates", ok: err == nil}
		if err != nil {
			r.detail = err.Error()
			r.fix = troubleTemplate.String()
		}
		add(r)

		err = a.eng.Prepare(ctx)
		r = checkResult{name: "every configured name exists in ServiceDesk (priorities, statuses, templates and their fields, categories, groups, technicians)", ok: err == nil}
		var ce *engine.ConfigError
		switch {
		case errors.As(err, &ce):
			r.config = true
			r.detail = problemLines(ce.Problems)
		case err != nil:
			r.detail = err.Error()
			if t, ok := sdpTrouble(err); ok {
				r.fix = t.String()
			}
		}
		add(r)
	}

	code := exitOK
	for _, r := range results {
		mark := "ok  "
		if !r.ok {
			mark = "FAIL"
			if r.config {
				code = exitUsage
			} else if code == exitOK {
				code = exitFail
			}
		}
		_, _ = fmt.Fprintf(stdout, "%s  %s\n", mark, r.name)
		if r.detail != "" {
			_, _ = fmt.Fprintf(stdout, "      %s\n", indent(r.detail))
		}
		if r.fix != "" {
			_, _ = fmt.Fprintf(stdout, "      fix: %s\n", r.fix)
		}
	}
	for _, w := range a.eng.Warnings() {
		_, _ = fmt.Fprintf(stdout, "note  %s\n", w)
	}
	_, _ = fmt.Fprintf(stdout, "note  not checked from here, the ServiceDesk → Faraday side:\n"+
		"      %s\n      %s\n", troubleWebhook, troubleLoop)
	return code
}

func (a *app) checkRequester(ctx context.Context) checkResult {
	req := a.cfg.Requester
	who := req.LoginName
	var u *servicedesk.User
	var err error
	if req.ID != "" {
		who = "id " + req.ID
		u, err = a.sdp.Users.Get(ctx, servicedesk.ID(req.ID))
	} else {
		u, err = a.sdp.Users.Find(ctx, req.LoginName)
	}
	r := checkResult{name: "requester " + who + " is a ServiceDesk user", ok: err == nil}
	if err != nil {
		r.detail = err.Error()
		r.config = errors.Is(err, servicedesk.ErrNotFound) || errors.Is(err, servicedesk.ErrAmbiguous)
		if t, ok := sdpTrouble(err); ok {
			r.fix = t.String()
		}
		return r
	}
	r.name += fmt.Sprintf(" (%s, id %s)", u.Name, u.ID)
	return r
}

func problemLines(ps mapping.Problems) string {
	var s string
	for i, p := range ps {
		if i > 0 {
			s += "\n"
		}
		s += p.String()
		if p.Suggestion != "" && !strings.Contains(p.Message, "did you mean") {
			s += fmt.Sprintf(" (did you mean %q?)", p.Suggestion)
		}
		if t, ok := problemTrouble(p); ok {
			s += "\n  fix: " + t.String()
		}
	}
	return s
}

func indent(s string) string {
	out := ""
	for i, r := range s {
		out += string(r)
		if r == '\n' && i < len(s)-1 {
			out += "      "
		}
	}
	return out
}
