package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/webhook"
)

// deadRecord is one line of the dead-letter file: a webhook.DeadLetter
// without secrets (it never holds the token or the description).
type deadRecord struct {
	DeliveryID string           `json:"delivery_id"`
	At         time.Time        `json:"at"`
	TicketID   string           `json:"ticket_id,omitempty"`
	Reference  *faraday.VulnKey `json:"reference,omitempty"`
	Vuln       *faraday.VulnKey `json:"vuln,omitempty"`
	SDPStatus  string           `json:"sdp_status"`
	Error      string           `json:"error,omitempty"`
}

func keyPtr(k faraday.VulnKey) *faraday.VulnKey {
	if k == (faraday.VulnKey{}) {
		return nil
	}
	return &k
}

func recordOf(dl webhook.DeadLetter) deadRecord {
	r := deadRecord{
		DeliveryID: dl.DeliveryID, At: dl.At.UTC(), TicketID: dl.TicketID,
		Reference: keyPtr(dl.Reference), Vuln: keyPtr(dl.Vuln), SDPStatus: dl.SDPStatus,
	}
	if dl.Err != nil {
		r.Error = dl.Err.Error()
	}
	return r
}

func (r deadRecord) deadLetter() webhook.DeadLetter {
	dl := webhook.DeadLetter{DeliveryID: r.DeliveryID, At: r.At, TicketID: r.TicketID, SDPStatus: r.SDPStatus}
	if r.Reference != nil {
		dl.Reference = *r.Reference
	}
	if r.Vuln != nil {
		dl.Vuln = *r.Vuln
	}
	if r.Error != "" {
		dl.Err = errors.New(r.Error)
	}
	return dl
}

// deadLetterFile appends dead letters to a JSON-lines file. The file is
// opened for each letter, so that replay can move it away while the server
// runs: the next letter starts a new file.
type deadLetterFile struct {
	path string
	mu   sync.Mutex
	// failed is called when a letter cannot be written (it is then only in
	// the log).
	failed func(error)
}

func (d *deadLetterFile) write(dl webhook.DeadLetter) {
	if err := d.append(recordOf(dl)); err != nil && d.failed != nil {
		d.failed(err)
	}
}

func (d *deadLetterFile) append(recs ...deadRecord) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) //nolint:gosec // the user names the dead-letter file
	if err != nil {
		return fmt.Errorf("dead letters: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			_ = f.Close()
			return fmt.Errorf("dead letters: %s: %w", d.path, err)
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("dead letters: %s: %w", d.path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("dead letters: %s: %w", d.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dead letters: %s: %w", d.path, err)
	}
	return nil
}

// readDeadLetters reads a dead-letter file. A missing file holds none.
func readDeadLetters(path string) ([]deadRecord, error) {
	f, err := os.Open(path) //nolint:gosec // the user names the dead-letter file
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	defer func() { _ = f.Close() }()
	var recs []deadRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r deadRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("dead letters: %s:%d: %w", path, line, err)
		}
		if r.SDPStatus == "" {
			return nil, fmt.Errorf("dead letters: %s:%d: no sdp_status", path, line)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dead letters: %s: %w", path, err)
	}
	return recs, nil
}
