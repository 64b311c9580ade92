//go:build unix

package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vulndesk/mesd/examples/sample"
	"github.com/vulndesk/mesd/faraday"
	"github.com/vulndesk/mesd/servicedesk/sdptest"
	"github.com/vulndesk/mesd/webhook"
)

// The deployment the README describes, as separate processes: the export
// program writes the link file, the webhook server reads it, and a
// ServiceDesk trigger with the seed's payload (no "id") reaches the server.
func TestExportThenWebhookAcrossProcesses(t *testing.T) {
	w := newWorld(t)
	// The export makes its own links: start from an empty link file.
	if err := os.Remove(w.path("links.json")); err != nil {
		t.Fatal(err)
	}
	sdp := sdptest.NewServer()
	t.Cleanup(sdp.Close)
	bin := binaries(t)
	env := append(os.Environ(), "FARADAY_TOKEN="+apiToken, "SDP_AUTHTOKEN="+sdptest.DefaultAuthToken)
	runBin := func(name string, args ...string) (string, string) {
		t.Helper()
		c := exec.CommandContext(t.Context(), filepath.Join(bin, name), args...)
		c.Env = env
		var o, e strings.Builder
		c.Stdout, c.Stderr = &o, &e
		if err := c.Run(); err != nil {
			t.Fatalf("%s %v: %v\n%s\n%s", name, args, err, o.String(), e.String())
		}
		return o.String(), e.String()
	}

	exportArgs := []string{"-config", w.path("mesd.json"), "-state", w.path("links.json"), "-sdp-url", sdp.URL(),
		"-faraday-url", w.faraday.URL(), "-workspace", sample.Workspace}
	runBin("export", exportArgs...)
	var ticket string
	for _, r := range sdp.Requests() {
		if strings.HasPrefix(r.Subject, "[FRD acme/2]") {
			ticket = string(r.ID)
		}
	}
	if ticket == "" {
		t.Fatal("the export made no ticket for acme/2")
	}
	tok, _ := runBin("webhook-server", "token", "create", "-alias", "sdp", "-tokens", w.path("tokens.json"))
	tok = strings.TrimSpace(tok)

	srv := exec.CommandContext(t.Context(), filepath.Join(bin, "webhook-server"), append([]string{"serve", "-addr", "127.0.0.1:0", "-id-policy", "ignored"}, w.args...)...)
	srv.Env = env
	pipe, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
	sc := bufio.NewScanner(pipe)
	var url string
	for url == "" && sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatal("the server did not start")
	}
	go func() {
		for sc.Scan() { // drain
		}
	}()

	payload := "{\n\"status\": \"${{request.status}}\",\n\"desc\": \"${{request.description}}\",\n\"Authorization\": \"" + tok + "\"\n}"
	if err := sdp.AddTrigger(sdptest.Trigger{Name: "Faraday Status Sync", Modified: []string{"status.name"},
		URL: url + webhook.Path, Headers: map[string]string{webhook.HeaderToken: "1"}, Payload: payload}); err != nil {
		t.Fatal(err)
	}
	if err := sdp.SetStatus(ticket, "Resolved"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ds, err := sdp.Wait(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Status != 200 || !strings.Contains(string(ds[0].Answer), `"updated"`) {
		t.Fatalf("delivery answered %d %s", ds[0].Status, ds[0].Answer)
	}
	if got := w.vulnStatus(t, 2); got != faraday.StatusClosed {
		t.Fatalf("acme/2 is %s, want closed", got)
	}
	// The next export finds the ticket and the vuln agreeing: nothing to push.
	out, _ := runBin("export", append(exportArgs, "-ids", "2")...)
	if !strings.Contains(out, "0 created, 0 found, 0 pushed, 1 up to date") {
		t.Fatalf("second export:\n%s", out)
	}
}
