package faraday

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// The cross-process tests re-run this test binary as a child process. The
// child does one job, chosen by envChild, and exits before any test runs.
const (
	envChild = "MESD_FARADAY_TEST_CHILD"
	envPath  = "MESD_FARADAY_TEST_PATH"
	envArg   = "MESD_FARADAY_TEST_ARG"
)

func TestMain(m *testing.M) {
	if job := os.Getenv(envChild); job != "" {
		if err := runChild(job, os.Getenv(envPath), os.Getenv(envArg)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func runChild(job, path, arg string) error {
	ctx := context.Background()
	switch job {
	case "link-hammer":
		n, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		s, err := OpenFileLinkStore(path)
		if err != nil {
			return err
		}
		defer func() { _ = s.Close() }()
		for range n {
			if _, err := UpdateLink(ctx, s, VulnKey{"ws", 1}, 100000, incrementCounter); err != nil {
				return err
			}
		}
		return nil
	case "token-create":
		s, err := OpenFileTokenStore(path)
		if err != nil {
			return err
		}
		defer func() { _ = s.Close() }()
		tok, plain, err := IssueToken(ctx, s, UserToken{UserID: 1, Alias: arg, Scope: ScopeServiceDesk})
		if err != nil {
			return err
		}
		fmt.Printf("%d %s\n", tok.ID, plain)
		return nil
	case "token-revoke":
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil {
			return err
		}
		s, err := OpenFileTokenStore(path)
		if err != nil {
			return err
		}
		defer func() { _ = s.Close() }()
		return s.Revoke(ctx, id)
	case "token-validate":
		s, err := OpenFileTokenStore(path)
		if err != nil {
			return err
		}
		defer func() { _ = s.Close() }()
		_, err = ValidateToken(ctx, s, arg, time.Now(), ScopeServiceDesk)
		return err
	}
	return fmt.Errorf("unknown job %q", job)
}

func childCmd(ctx context.Context, job, path, arg string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+job, envPath+"="+path, envArg+"="+arg)
	return cmd
}

func runChildOutput(t *testing.T, job, path, arg string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := childCmd(ctx, job, path, arg).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("child %s: %v: %s", job, err, ee.Stderr)
		}
		t.Fatalf("child %s: %v", job, err)
	}
	return string(out)
}

// TestFileLinkStoreTwoProcesses has two child processes and this one
// increment one counter through compare-and-set on one file; no increment
// may be lost.
func TestFileLinkStoreTwoProcesses(t *testing.T) {
	requireFileStores(t)
	n := 60
	if os.Getenv("MESD_BENCH_SMALL") == "1" || testing.Short() {
		n = 15
	}
	path := filepath.Join(t.TempDir(), "links.json")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var children []*exec.Cmd
	var stderr [2]strings.Builder
	for i := range 2 {
		cmd := childCmd(ctx, "link-hammer", path, strconv.Itoa(n))
		cmd.Stderr = &stderr[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children = append(children, cmd)
	}
	s, err := OpenFileLinkStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	for range n {
		if _, err := UpdateLink(ctx, s, VulnKey{"ws", 1}, 100000, incrementCounter); err != nil {
			t.Error(err)
			break
		}
	}
	for i, c := range children {
		if err := c.Wait(); err != nil {
			t.Fatalf("child %d: %v: %s", i, err, stderr[i].String())
		}
	}
	checkCounter(t, s, VulnKey{"ws", 1}, 3*n)
	fresh, err := OpenFileLinkStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fresh.Close() }()
	checkCounter(t, fresh, VulnKey{"ws", 1}, 3*n)
	// No temp file is left behind.
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".links.json.tmp-*"))
	if len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// TestFileTokenStoreAcrossProcesses: a token created by another process
// works here at once; a revoke in another process refuses it here at the
// next lookup; a token created here works in a process started later.
func TestFileTokenStoreAcrossProcesses(t *testing.T) {
	requireFileStores(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.json")
	server, err := OpenFileTokenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = server.Close() }()
	// Warm the server's cache so the test proves it notices changes.
	if _, err := ValidateToken(ctx, server, "nothing yet", time.Now(), ScopeServiceDesk); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("empty store: %v", err)
	}
	idText, plain, ok := strings.Cut(strings.TrimSpace(runChildOutput(t, "token-create", path, "made by a command")), " ")
	if !ok {
		t.Fatal("child printed no token")
	}
	tok, err := ValidateToken(ctx, server, plain, time.Now(), ScopeServiceDesk)
	if err != nil || strconv.FormatInt(tok.ID, 10) != idText || tok.Alias != "made by a command" {
		t.Fatalf("token from another process: %v, %v", tok, err)
	}
	runChildOutput(t, "token-revoke", path, idText)
	if _, err := ValidateToken(ctx, server, plain, time.Now(), ScopeServiceDesk); !errors.Is(err, ErrTokenRevoked) {
		t.Fatalf("after a revoke in another process: %v; want ErrTokenRevoked", err)
	}
	_, mine, err := IssueToken(ctx, server, UserToken{UserID: 2, Alias: "server", Scope: ScopeServiceDesk})
	if err != nil {
		t.Fatal(err)
	}
	runChildOutput(t, "token-validate", path, mine)
	list, err := server.List(ctx)
	if err != nil || len(list) != 2 || !list[0].Revoked || list[1].Revoked {
		t.Errorf("List = %v, %v", list, err)
	}
}
