package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzReadDeadLetters: any file content is either refused with an error or
// read into records that write back and read again unchanged.
func FuzzReadDeadLetters(f *testing.F) {
	f.Add([]byte(`{"delivery_id":"a-1","at":"2026-03-01T12:00:00Z","ticket_id":"102","vuln":{"workspace":"acme","vuln_id":2},"sdp_status":"On Hold","error":"faraday: forbidden"}` + "\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"sdp_status":""}`))
	f.Add([]byte(`{"sdp_status":"Resolved","reference":{"workspace":"w","vuln_id":-1}}` + "\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "dead.jsonl")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		recs, err := readDeadLetters(p)
		if err != nil || len(recs) == 0 {
			return
		}
		q := filepath.Join(dir, "again.jsonl")
		if err := (&deadLetterFile{path: q}).append(recs...); err != nil {
			t.Fatal(err)
		}
		again, err := readDeadLetters(q)
		if err != nil {
			t.Fatalf("records written back do not read: %v", err)
		}
		for i := range recs {
			recs[i].At, again[i].At = recs[i].At.UTC(), again[i].At.UTC()
		}
		if !reflect.DeepEqual(recs, again) {
			t.Fatalf("round trip changed the records:\n%+v\n%+v", recs, again)
		}
	})
}
