// Package refkey loads the reference key the example programs share.
//
// The exporter writes a footer reference into every ticket's description,
// signed with this key, and the webhook server verifies it: with the seed's
// payload (no "id"), the reference is what finds the vuln, so it must be
// something a ServiceDesk user cannot forge. Both programs therefore read
// the same key: from the environment variable MESD_REFERENCE_KEY (base64)
// when set, otherwise from a file kept beside the link store, which the
// first program to need it creates.
package refkey

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/vulndesk/mesd/mapping"
)

// EnvVar names the environment variable holding the key as base64.
const EnvVar = "MESD_REFERENCE_KEY"

// PathFor returns the key file that belongs to a link store file: the
// export program's -state and the webhook server's -links name the same
// file, so both find the same key next to it.
func PathFor(linkStore string) string { return linkStore + ".key" }

// Load returns the reference key: from EnvVar when getenv finds it set,
// otherwise from the file at path, which is created (mode 0600, holding a
// new random key) when it does not exist. A file that exists but does not
// hold a valid key, or that others may read or write, is an error naming
// the path.
func Load(path string, getenv func(string) string) ([]byte, error) {
	if s := getenv(EnvVar); s != "" {
		key, err := mapping.ParseReferenceKey(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvVar, err)
		}
		return key, nil
	}
	if key, err := read(path); !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err := mapping.NewReferenceKey()
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // the path is the operator's own flag
	if errors.Is(err, fs.ErrExist) {
		return read(path) // another process created it first: use theirs
	}
	if err != nil {
		return nil, fmt.Errorf("reference key: %w", err)
	}
	_, werr := f.WriteString(mapping.EncodeReferenceKey(key) + "\n")
	if serr := f.Sync(); werr == nil {
		werr = serr
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("reference key %s: %w", path, werr)
	}
	return key, nil
}

func read(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		// Whoever reads the key can sign footers; whoever writes it can
		// swap it.
		return nil, fmt.Errorf("reference key %s: mode %v lets others read or write it; chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path) //nolint:gosec // the path is the operator's own flag
	if err != nil {
		return nil, err
	}
	key, err := mapping.ParseReferenceKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("reference key %s: %w", path, err)
	}
	return key, nil
}
