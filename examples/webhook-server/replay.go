package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/vulndesk/mesd/webhook"
)

// replay re-applies the dead-lettered deliveries. It first moves the file
// aside (path+".replaying"), so a server running meanwhile starts a new one;
// deliveries that fail again are appended back to the file. A leftover
// ".replaying" file from an interrupted replay is taken up first.
func replay(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	var sf storeFlags
	sf.register(fs)
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	p, err := openParts(&sf, getenv)
	if err != nil {
		return err
	}
	defer p.close()
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	var again []deadRecord
	collect := &deadLetterFile{path: sf.deadLetters}
	h, err := newHandler(p, &sf, logger, nil)
	if err != nil {
		return err
	}

	work := sf.deadLetters + ".replaying"
	if err := moveAside(sf.deadLetters, work); err != nil {
		return err
	}
	recs, err := readDeadLetters(work)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		_ = os.Remove(work)
		_, _ = fmt.Fprintf(stdout, "no dead letters in %s\n", sf.deadLetters)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "DELIVERY\tTICKET\tVULN\tSDP STATUS\tRESULT\tREASON")
	for _, r := range recs {
		o := h.Replay(ctx, r.deadLetter())
		if o.Result == webhook.ResultFailed {
			again = append(again, r)
		}
		vuln := ""
		if o.Vuln.VulnID != 0 {
			vuln = o.Vuln.String()
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.DeliveryID, r.TicketID, vuln, r.SDPStatus, o.Result, o.Reason)
	}
	_ = tw.Flush()
	if len(again) > 0 {
		if err := collect.append(again...); err != nil {
			return fmt.Errorf("replay: %d deliveries failed again and could not be written back (they stay in %s): %w", len(again), work, err)
		}
	}
	if err := os.Remove(work); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	_, _ = fmt.Fprintf(stdout, "%d replayed, %d applied or settled, %d failed again (kept in %s)\n",
		len(recs), len(recs)-len(again), len(again), sf.deadLetters)
	if len(again) > 0 {
		return fmt.Errorf("replay: %d deliveries failed again", len(again))
	}
	return nil
}

// moveAside renames path to work unless work exists already (an interrupted
// replay), in which case path's letters are appended to work.
func moveAside(path, work string) error {
	if _, err := os.Stat(work); err == nil {
		recs, err := readDeadLetters(path)
		if err != nil {
			return err
		}
		if len(recs) > 0 {
			if err := (&deadLetterFile{path: work}).append(recs...); err != nil {
				return err
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("replay: %w", err)
		}
		return nil
	}
	if err := os.Rename(path, work); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("replay: %w", err)
	}
	return nil
}
