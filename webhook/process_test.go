package webhook

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
)

// Environment of the child process: a second handler process sharing the
// link and token files and the (fake) Faraday server.
const (
	envChild        = "MESD_WEBHOOK_CHILD"
	envChildLinks   = "MESD_WEBHOOK_CHILD_LINKS"
	envChildTokens  = "MESD_WEBHOOK_CHILD_TOKENS"
	envChildFaraday = "MESD_WEBHOOK_CHILD_FARADAY"
)

// runChild serves a handler over the files and the Faraday server named
// by the environment on a loopback port, prints "URL <url>", and stops
// when its standard input closes.
func runChild() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	links, err := faraday.OpenFileLinkStore(os.Getenv(envChildLinks))
	if err != nil {
		return fail(err)
	}
	defer func() { _ = links.Close() }()
	tokens, err := faraday.OpenFileTokenStore(os.Getenv(envChildTokens))
	if err != nil {
		return fail(err)
	}
	defer func() { _ = tokens.Close() }()
	c, err := faraday.NewClient(os.Getenv(envChildFaraday), faraday.WithToken("jwt-test"), faraday.WithoutRetries())
	if err != nil {
		return fail(err)
	}
	defer c.CloseIdleConnections()
	vs, err := NewClientVulnStore(c)
	if err != nil {
		return fail(err)
	}
	m, err := readMapper()
	if err != nil {
		return fail(err)
	}
	h, err := NewHandler(Config{Tokens: tokens, Links: links, Statuses: m, Vulns: vs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("URL http://%s\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}

// TestTwoProcesses: this process and a child process each run a handler
// with their own stores opened on one link file and one token file, in
// front of one Faraday. The same change delivered to both at once is
// applied once: one PATCH, one "updated".
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	linkPath, tokenPath := filepath.Join(dir, "links.json"), filepath.Join(dir, "tokens.json")
	links, err := faraday.OpenFileLinkStore(linkPath)
	if errors.Is(err, faraday.ErrFileStoreUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = links.Close() })
	tokens, err := faraday.OpenFileTokenStore(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tokens.Close() })
	ctx := context.Background()
	_, token, err := faraday.IssueToken(ctx, tokens, faraday.UserToken{UserID: 1, Alias: "sdp", Scope: faraday.ScopeServiceDesk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := links.CompareAndSet(ctx, faraday.Link{Key: vulnA, ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkLinked, RequestID: ticketA}}, 0); err != nil {
		t.Fatal(err)
	}
	vs, fs, patches, faradayURL := fakeFaradayURL(t)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1", envChildLinks+"="+linkPath, envChildTokens+"="+tokenPath, envChildFaraday+"="+faradayURL)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v: %s", err, stderr.String())
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "URL ") {
		t.Fatalf("child said %q, %v: %s", line, err, stderr.String())
	}
	childURL := strings.TrimSpace(strings.TrimPrefix(line, "URL "))

	mapper := loadMapper(t)
	h, err := NewHandler(Config{Tokens: tokens, Links: links, Statuses: mapper, Vulns: vs, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	local := httptestServer(t, h)
	client := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(client.CloseIdleConnections)

	body := idBody("Closed", "<p>"+mapper.Reference(vulnA.Workspace, vulnA.VulnID).String()+"</p>", ticketA, token)
	const n = 20
	var wg sync.WaitGroup
	var updated atomic.Int32
	for i := range n {
		url := local
		if i%2 == 1 {
			url = childURL
		}
		wg.Go(func() {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+Path, strings.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			res, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			ans, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("%s: %d %s", url, res.StatusCode, ans)
			}
			if string(ans) == ansUpdatedClosed {
				updated.Add(1)
			}
		})
	}
	wg.Wait()
	if v, _ := fs.Vuln("acme", 1); v.Status != faraday.StatusClosed || patches.Load() != 1 || updated.Load() != 1 {
		t.Fatalf("vuln %v after %d PATCHes and %d updated answers; want closed, 1, 1", v.Status, patches.Load(), updated.Load())
	}
}
