package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vulndesk/mesd/internal/engine"
)

// jsonItem is one vuln of the -json summary.
type jsonItem struct {
	Vuln      string `json:"vuln,omitempty"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason,omitempty"`
	TicketID  string `json:"ticket_id,omitempty"`
	DisplayID string `json:"display_id,omitempty"`
	URL       string `json:"url,omitempty"`
	Status    string `json:"status,omitempty"`
	Error     string `json:"error,omitempty"`
}

// jsonReport is a run of the -json summary.
type jsonReport struct {
	Items        []jsonItem `json:"items"`
	Created      int        `json:"created"`
	Found        int        `json:"found"`
	Pushed       int        `json:"pushed"`
	UpToDate     int        `json:"up_to_date"`
	Skipped      int        `json:"skipped"`
	Failed       int        `json:"failed"`
	NotAttempted int        `json:"not_attempted"`
	Seconds      float64    `json:"seconds"`
	Error        string     `json:"error,omitempty"`
}

func toJSON(rep *engine.Report) *jsonReport {
	if rep == nil {
		return nil
	}
	j := &jsonReport{Items: []jsonItem{}, Created: rep.Created, Found: rep.Found, Pushed: rep.Pushed, UpToDate: rep.UpToDate,
		Skipped: rep.Skipped, Failed: rep.Failed, NotAttempted: rep.NotAttempted, Seconds: rep.Duration.Seconds()}
	if rep.Err != nil {
		j.Error = rep.Err.Error()
	}
	for _, it := range sortedItems(rep) {
		ji := jsonItem{Outcome: string(it.Outcome), Reason: it.Reason, TicketID: it.TicketID, DisplayID: it.DisplayID, URL: it.URL, Status: it.Status}
		if it.Key.VulnID != 0 {
			ji.Vuln = it.Key.String()
		}
		if it.Err != nil {
			ji.Error = it.Err.Error()
		}
		j.Items = append(j.Items, ji)
	}
	return j
}

// sortedItems returns the report's items by workspace and id (unreadable
// source records, which have no key, first).
func sortedItems(rep *engine.Report) []engine.Item {
	items := slices.Clone(rep.Items)
	slices.SortStableFunc(items, func(a, b engine.Item) int {
		if c := strings.Compare(a.Key.Workspace, b.Key.Workspace); c != 0 {
			return c
		}
		switch {
		case a.Key.VulnID < b.Key.VulnID:
			return -1
		case a.Key.VulnID > b.Key.VulnID:
			return 1
		}
		return 0
	})
	return items
}

// printTable writes a run's summary table.
func printTable(w io.Writer, title string, rep *engine.Report) {
	_, _ = fmt.Fprintf(w, "%s: %d created, %d found, %d pushed, %d up to date, %d skipped, %d failed, %d not attempted (%s)\n",
		title, rep.Created, rep.Found, rep.Pushed, rep.UpToDate, rep.Skipped, rep.Failed, rep.NotAttempted, rep.Duration.Round(time.Millisecond))
	if len(rep.Items) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "VULN\tOUTCOME\tTICKET\tSTATUS\tDETAIL")
	for _, it := range sortedItems(rep) {
		key := "-"
		if it.Key.VulnID != 0 {
			key = it.Key.String()
		}
		ticket := it.DisplayID
		if ticket == "" {
			ticket = it.TicketID
		}
		detail := it.Reason
		if it.Err != nil {
			detail = it.Err.Error()
		} else if it.URL != "" && (it.Outcome == engine.Created || it.Outcome == engine.Found) {
			detail = it.URL
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", key, it.Outcome, dash(ticket), dash(it.Status), oneLine(detail))
	}
	_ = tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// printJSON writes the -json summary of one round.
func printJSON(w io.Writer, export, reconcile *engine.Report) error {
	out := struct {
		Export    *jsonReport `json:"export"`
		Reconcile *jsonReport `json:"reconcile,omitempty"`
	}{toJSON(export), toJSON(reconcile)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// progress returns a progress callback that writes to w at most every
// interval, and always the last call.
func progress(w io.Writer, title string, interval time.Duration) func(engine.Progress) {
	var last time.Time
	return func(p engine.Progress) {
		if now := time.Now(); last.IsZero() || now.Sub(last) >= interval || (p.Total > 0 && p.Done == p.Total) {
			last = now
			total := "?"
			if p.Total > 0 {
				total = fmt.Sprint(p.Total)
			}
			_, _ = fmt.Fprintf(w, "%s: %d/%s done: %d created, %d found, %d pushed, %d up to date, %d skipped, %d failed (%.1f/s)\n",
				title, p.Done, total, p.Created, p.Found, p.Pushed, p.UpToDate, p.Skipped, p.Failed, p.Rate)
		}
	}
}
