package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/vulndesk/mesd/examples/sample"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/faraday/faradaytest"
	"github.com/vulndesk/mesd/webhook"
)

// devTicketBase is added to a sample vuln's id to make its ticket id in dev
// mode (vuln 2 is ticket 102).
const devTicketBase = 100

// devSetup is serve -dev's world: a fake Faraday in memory holding the sample
// vulns, links from the confirmed ones to made-up tickets, and one token.
type devSetup struct {
	*parts
	faraday *faradaytest.Server
	token   string
	vulns   []faraday.Vuln
}

func startDev(ctx context.Context) (*devSetup, error) {
	vulns, err := sample.Vulns()
	if err != nil {
		return nil, err
	}
	apiToken, _, err := faraday.NewTokenSecret()
	if err != nil {
		return nil, err
	}
	fsrv := faradaytest.NewServer(faradaytest.WithToken(apiToken))
	d := &devSetup{parts: &parts{}, faraday: fsrv, vulns: vulns}
	d.closers = append(d.closers, func() error { fsrv.Close(); return nil })
	fail := func(err error) (*devSetup, error) { d.close(); return nil, err }
	if err := fsrv.AddWorkspace(faraday.Workspace{Name: sample.Workspace, Active: true}); err != nil {
		return fail(err)
	}
	for _, v := range vulns {
		if _, err := fsrv.AddVuln(sample.Workspace, v); err != nil {
			return fail(err)
		}
	}
	cfg := sample.ConfigJSON()
	m, err := mapperOf("sample config.json", cfg)
	if err != nil {
		return fail(err)
	}
	d.mapper = m
	c, err := faraday.NewClient(fsrv.URL(), faraday.WithToken(apiToken))
	if err != nil {
		return fail(err)
	}
	d.closers = append(d.closers, func() error { c.CloseIdleConnections(); return nil })
	vs, err := webhook.NewClientVulnStore(c)
	if err != nil {
		return fail(err)
	}
	d.parts.vulns = vs
	links := faraday.NewMemoryLinkStore()
	now := time.Now()
	for _, v := range vulns {
		if !v.Confirmed {
			continue
		}
		tag, err := m.Tag(sample.Workspace, v.ID)
		if err != nil {
			return fail(err)
		}
		ticket := strconv.FormatInt(devTicketBase+v.ID, 10)
		l := faraday.Link{Key: faraday.VulnKey{Workspace: sample.Workspace, VulnID: v.ID}}
		l.ServiceDeskEntry = faraday.ServiceDeskEntry{
			State: faraday.LinkLinked, Tag: tag, RequestID: ticket, DisplayID: ticket,
			CreatedAt: faraday.NewTime(now), LastPushedStatus: "Open", LastPushedAt: faraday.NewTime(now), EchoConsumed: true,
		}
		if _, err := links.CompareAndSet(ctx, l, 0); err != nil {
			return fail(err)
		}
	}
	d.links = links
	tokens := faraday.NewMemoryTokenStore()
	_, secret, err := faraday.IssueToken(ctx, tokens, faraday.UserToken{UserID: 1, Alias: "dev", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		return fail(err)
	}
	d.tokens, d.token = tokens, secret
	return d, nil
}

// print tells the user what dev mode holds and how to try it.
func (d *devSetup) print(w io.Writer, base string) {
	_, _ = fmt.Fprintf(w, "webhook-server: dev mode: nothing is written to disk and everything is lost at exit\n")
	_, _ = fmt.Fprintf(w, "Faraday (in memory) at %s, workspace %q; confirmed vulns linked to tickets:\n", d.faraday.URL(), sample.Workspace)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "  TICKET\tVULN\tSEVERITY\tSTATUS\tNAME")
	for _, v := range d.vulns {
		if v.Confirmed {
			_, _ = fmt.Fprintf(tw, "  %d\t%s/%d\t%s\t%s\t%s\n", devTicketBase+v.ID, sample.Workspace, v.ID, v.Severity, v.Status, clip(v.Name, 50))
		}
	}
	_ = tw.Flush()
	_, _ = fmt.Fprintf(w, "Dev token (scope service_desk):\n  TOKEN=%s\n", d.token)
	_, _ = fmt.Fprintf(w, "Try (ticket 102 to Resolved closes vuln acme/2):\n"+
		"  curl -sS %s%s -H 'X-ServiceDesk-Token: 1' -H 'Content-Type: application/json' \\\n"+
		"    -d '{\"status\": \"Resolved\", \"desc\": \"<p>fixed</p>\", \"id\": \"102\", \"Authorization\": \"'\"$TOKEN\"'\"}'\n",
		base, webhook.Path)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
