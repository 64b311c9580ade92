//go:build unix

package main

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tokens made, listed and revoked by separate processes take effect in a
// server process that is already running.
func TestTokenCommandsAcrossProcesses(t *testing.T) {
	bin := filepath.Join(binaries(t), "webhook-server")
	w := newWorld(t)
	tokens := w.path("tokens.json")
	cmd := func(args ...string) (string, string, int) {
		t.Helper()
		c := exec.CommandContext(t.Context(), bin, args...)
		var o, e strings.Builder
		c.Stdout, c.Stderr = &o, &e
		err := c.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return o.String(), e.String(), code
	}

	// The server starts before any token exists.
	srv := exec.CommandContext(t.Context(), bin, append([]string{"serve", "-addr", "127.0.0.1:0"}, w.args...)...)
	srv.Env = append(os.Environ(), "FARADAY_TOKEN="+apiToken)
	pipe, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var serr strings.Builder
	srv.Stderr = &serr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var url string
	timeout := time.After(20 * time.Second)
	for url == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("server exited: %s", serr.String())
			}
			if m := listening.FindStringSubmatch(l); m != nil {
				url = m[1]
			}
		case <-timeout:
			_ = srv.Process.Kill()
			t.Fatal("server did not start")
		}
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Process.Kill()
			_ = srv.Wait()
		}
	})

	tok, errOut, code := cmd("token", "create", "-alias", "sdp-prod", "-tokens", tokens)
	tok = strings.TrimSpace(tok)
	if code != 0 || len(tok) != 43 {
		t.Fatalf("token create: exit %d, stdout %q, stderr %q", code, tok, errOut)
	}
	if !strings.Contains(errOut, "shown only this once") {
		t.Errorf("token create does not warn that the token is shown once: %q", errOut)
	}
	if _, _, code := cmd("token", "create", "-alias", "short-lived", "-expires", "1ms", "-tokens", tokens); code != 0 {
		t.Fatalf("token create -expires: exit %d", code)
	}
	time.Sleep(5 * time.Millisecond) // let the 1ms token expire

	list, _, code := cmd("token", "list", "-tokens", tokens)
	if code != 0 {
		t.Fatalf("token list: exit %d", code)
	}
	for _, want := range []string{"ID", `"sdp-prod"`, "service_desk", "active", `"short-lived"`, "expired"} {
		if !strings.Contains(list, want) {
			t.Errorf("token list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, tok) {
		t.Fatal("token list shows the secret")
	}
	raw, err := os.ReadFile(tokens)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), tok) {
		t.Fatal("the token file holds the token in clear")
	}

	body := `{"status": "On Hold", "desc": "<p>x</p>", "id": "102", "Authorization": "` + tok + `"}`
	if code, answer := post(t, url, body, nil); code != 200 || !strings.Contains(answer, `"updated"`) {
		t.Fatalf("delivery with the new token: %d %s", code, answer)
	}

	out, errOut, code := cmd("token", "revoke", "-tokens", tokens, "1")
	if code != 0 || !strings.Contains(out, "token 1 revoked") {
		t.Fatalf("token revoke: exit %d %q %q", code, out, errOut)
	}
	body = strings.Replace(body, "On Hold", "Resolved", 1)
	if code, answer := post(t, url, body, nil); code != 401 {
		t.Fatalf("delivery with the revoked token: %d %s, want 401", code, answer)
	}
	list, _, _ = cmd("token", "list", "-tokens", tokens)
	if !strings.Contains(list, "revoked") {
		t.Errorf("token list does not show the revocation:\n%s", list)
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	err = srv.Wait()
	stopped = true
	if err != nil {
		t.Fatalf("server after SIGTERM: %v\n%s", err, serr.String())
	}
}
