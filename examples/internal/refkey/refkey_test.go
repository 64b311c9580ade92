package refkey

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vulndesk/mesd/mapping"
)

func noEnv(string) string { return "" }

func TestLoadCreatesOnceAndReadsBack(t *testing.T) {
	path := PathFor(filepath.Join(t.TempDir(), "links.json"))
	if !strings.HasSuffix(path, "links.json.key") {
		t.Fatalf("PathFor = %q", path)
	}
	first, err := Load(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) < mapping.MinReferenceKeyBytes {
		t.Fatalf("new key has %d bytes", len(first))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := Load(path, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Fatal("second Load returned another key")
	}
}

func TestLoadPrefersTheEnvironment(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	env := func(k string) string {
		if k == EnvVar {
			return mapping.EncodeReferenceKey(key)
		}
		return ""
	}
	path := filepath.Join(t.TempDir(), "k")
	got, err := Load(path, env)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Load = %x, %v; want the environment's key", got, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("Load with the environment set wrote %s", path)
	}
}

func TestLoadRefusesBadKeys(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("not base64 at all!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad, noEnv); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Load of a garbled file: %v, want an error naming %s", err, bad)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte(mapping.EncodeReferenceKey([]byte("short"))), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(short, noEnv); err == nil {
		t.Fatal("Load of a 5-byte key: want an error")
	}
	open := filepath.Join(dir, "open")
	if _, err := Load(open, noEnv); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o666, 0o644, 0o640, 0o620} {
		if err := os.Chmod(open, mode); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(open, noEnv); err == nil || !strings.Contains(err.Error(), "others read or write") {
			t.Fatalf("Load of a key file with mode %v: %v", mode, err)
		}
	}
	env := func(string) string { return "%%%" }
	if _, err := Load(filepath.Join(dir, "x"), env); err == nil || !strings.Contains(err.Error(), EnvVar) {
		t.Fatalf("Load with a garbled %s: %v", EnvVar, err)
	}
}
