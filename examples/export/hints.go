package main

import (
	"errors"
	"strings"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/mapping"
	"github.com/vulndesk/mesd/servicedesk"
)

// trouble is a row of the integration's troubleshooting table: the
// problem as the user sees it, its possible cause and the solution.
type trouble struct{ problem, cause, solution string }

func (t trouble) String() string {
	return t.problem + " (" + t.cause + "): " + t.solution
}

// The rows of the troubleshooting table, in its words.
var (
	troubleAuth      = trouble{"Authentication switch stays red", "Invalid URL or authtoken", "Verify URL (protocol + domain only) and authtoken are correct"}
	troubleReach     = trouble{"Cannot reach ServiceDesk", "Network issue", "Ensure this machine (where Faraday Server runs) can reach ServiceDesk"}
	troubleRequester = trouble{"Requester search returns no results", "Wrong search format", "Use the user's login name (not display name)"}
	troubleSeverity  = trouble{"Severity mapping incomplete", "Fields left empty", "All 6 severity levels must be mapped"}
	troubleTemplate  = trouble{"Template fetch fails", "Permissions issue", "Ensure the authtoken was generated from an administrator account"}
	troubleWebhook   = trouble{"Bidirectional sync not working", "Webhook not reaching Faraday", "Verify the webhook executor IP can reach Faraday; check firewall rules"}
	troubleLoop      = trouble{"Status sync loop", "Misconfigured triggers", "Verify the trigger only fires on Edit actions with Status > Name is modified"}
)

// sdpTrouble returns the troubleshooting row of a ServiceDesk failure, if
// one fits.
func sdpTrouble(err error) (trouble, bool) {
	switch {
	case errors.Is(err, servicedesk.ErrUnreachable):
		return troubleReach, true
	case errors.Is(err, servicedesk.ErrWrongURL), errors.Is(err, servicedesk.ErrLoginPage), errors.Is(err, servicedesk.ErrUnauthorized):
		return troubleAuth, true
	case errors.Is(err, servicedesk.ErrForbidden):
		return troubleTemplate, true
	case errors.Is(err, servicedesk.ErrUserNotFound), errors.Is(err, servicedesk.ErrAmbiguous):
		return troubleRequester, true
	}
	return trouble{}, false
}

// faradayHint says what to fix for a failing Faraday call.
func faradayHint(err error, ws string) string {
	switch {
	case errors.Is(err, faraday.ErrUnauthorized):
		return "Faraday refused the credentials: check FARADAY_TOKEN (or FARADAY_USER and FARADAY_PASSWORD)"
	case errors.Is(err, faraday.ErrForbidden):
		return "the Faraday user may not read workspace " + ws
	case errors.Is(err, faraday.ErrNotFound):
		return "Faraday has no workspace " + ws + " (or -faraday-url is not Faraday's base URL: protocol + domain)"
	}
	var fe *faraday.Error
	if errors.As(err, &fe) && fe.StatusCode == 0 {
		return "cannot reach Faraday: check -faraday-url and the network"
	}
	return ""
}

// problemTrouble returns the troubleshooting row of a configuration
// problem, if one fits.
func problemTrouble(p mapping.Problem) (trouble, bool) {
	switch {
	case strings.HasPrefix(p.Path, "priorities") && strings.Contains(p.Message, "not mapped"):
		return troubleSeverity, true
	case strings.HasPrefix(p.Path, "requester"):
		return troubleRequester, true
	}
	return trouble{}, false
}

// configHints returns the troubleshooting rows that fit a configuration
// error, one per line, each once.
func configHints(err error) string {
	var ps mapping.Problems
	if !errors.As(err, &ps) {
		return ""
	}
	seen := map[trouble]bool{}
	var b strings.Builder
	for _, p := range ps {
		if t, ok := problemTrouble(p); ok && !seen[t] {
			seen[t] = true
			b.WriteString("\n  fix: " + t.String())
		}
	}
	return b.String()
}
