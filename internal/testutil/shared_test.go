package testutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFindSharedDirWalksUpToModuleRoot(t *testing.T) {
	t.Setenv(EnvSharedDir, "")
	base := t.TempDir()
	root := filepath.Join(base, "repo")
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := FindSharedDir(deep); err == nil {
		t.Fatal("FindSharedDir without a shared directory: want error, got nil")
	}
	shared := filepath.Join(base, "shared")
	if err := os.Mkdir(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := FindSharedDir(deep)
	if err != nil {
		t.Fatalf("FindSharedDir: %v", err)
	}
	if got != shared {
		t.Fatalf("FindSharedDir = %q, want %q", got, shared)
	}
}

func TestFindSharedDirOverride(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvSharedDir, dir)
	got, err := FindSharedDir("/")
	if err != nil || got != dir {
		t.Fatalf("FindSharedDir with override = %q, %v; want %q, nil", got, err, dir)
	}
	t.Setenv(EnvSharedDir, filepath.Join(dir, "missing"))
	if _, err := FindSharedDir("/"); err == nil {
		t.Fatal("FindSharedDir with a missing override: want error, got nil")
	}
}

func TestFindSharedDirNoModule(t *testing.T) {
	t.Setenv(EnvSharedDir, "")
	if _, err := FindSharedDir(t.TempDir()); err == nil {
		t.Fatal("FindSharedDir outside any module: want error, got nil")
	}
}

func TestSharedDirFindsFixtures(t *testing.T) {
	dir := SharedDir(t)
	if _, err := os.Stat(filepath.Join(dir, "fixtures", "servicedesk", "SOURCES.md")); err != nil {
		t.Fatalf("shared dir %s has no servicedesk fixtures: %v", dir, err)
	}
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	c := NewClock(t0)
	c.Advance(90 * time.Second)
	if got, want := c.Now(), t0.Add(90*time.Second); !got.Equal(want) {
		t.Fatalf("after Advance Now = %v, want %v", got, want)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Fatalf("after Set Now = %v, want %v", c.Now(), t0)
	}
}
