package testutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// EnvSharedDir names the environment variable that, when set, is the shared
// directory used instead of the one found next to the module.
const EnvSharedDir = "MESD_SHARED_DIR"

// EnvRequireShared names the environment variable that, when set to "1",
// turns a missing shared directory into a test failure instead of a skip.
const EnvRequireShared = "MESD_REQUIRE_SHARED"

// FindSharedDir returns the shared directory: the value of MESD_SHARED_DIR
// when set, otherwise the directory "shared" beside the module root, which is
// found by walking up from start to the first directory holding go.mod.
// It reports an error when the directory does not exist.
func FindSharedDir(start string) (string, error) {
	if dir := os.Getenv(EnvSharedDir); dir != "" {
		if err := isDir(dir); err != nil {
			return "", fmt.Errorf("%s=%q: %w", EnvSharedDir, dir, err)
		}
		return dir, nil
	}
	root, err := moduleRoot(start)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(filepath.Dir(root), "shared")
	if err := isDir(dir); err != nil {
		return "", fmt.Errorf("shared directory beside module root %s: %w", root, err)
	}
	return dir, nil
}

// SharedDir returns the shared directory for a test. When it cannot be found
// the test is skipped, or fails when MESD_REQUIRE_SHARED=1.
func SharedDir(tb testing.TB) string {
	tb.Helper()
	wd, err := os.Getwd()
	if err == nil {
		var dir string
		dir, err = FindSharedDir(wd)
		if err == nil {
			return dir
		}
	}
	if os.Getenv(EnvRequireShared) == "1" {
		tb.Fatalf("shared fixtures required (%s=1) but not found: %v", EnvRequireShared, err)
	}
	tb.Skipf("shared fixtures not found (set %s to point at them): %v", EnvSharedDir, err)
	return ""
}

// Fixture returns the path of a file under the shared fixtures directory,
// for example Fixture(t, "servicedesk", "misc", "x.json"). It fails the test
// when the file does not exist and the shared directory does.
func Fixture(tb testing.TB, elem ...string) string {
	tb.Helper()
	p := filepath.Join(append([]string{SharedDir(tb), "fixtures"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("fixture: %v", err)
	}
	return p
}

// ReadFixture returns the contents of a shared fixture file; see Fixture.
func ReadFixture(tb testing.TB, elem ...string) []byte {
	tb.Helper()
	b, err := os.ReadFile(Fixture(tb, elem...))
	if err != nil {
		tb.Fatalf("fixture: %v", err)
	}
	return b
}

func moduleRoot(start string) (string, error) {
	dir, err := filepath.Abs(start)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod found above " + start)
		}
		dir = parent
	}
}

func isDir(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", p)
	}
	return nil
}
