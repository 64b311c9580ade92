package faraday_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vulndesk/mesd/faraday"
)

func pendingLink(id int64) faraday.Link {
	return faraday.Link{Key: faraday.VulnKey{Workspace: "w", VulnID: id},
		ServiceDeskEntry: faraday.ServiceDeskEntry{State: faraday.LinkPending, Tag: "[t]"}}
}

func TestFileStoresOpenedThroughASymlinkShareTheTarget(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()

	// Tokens: one store on the file, one through a link to it.
	target := filepath.Join(dir, "tokens.json")
	link := filepath.Join(dir, "tokens-link.json")
	direct, err := faraday.OpenFileTokenStore(target)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = direct.Close() }()
	if _, _, err := faraday.IssueToken(ctx, direct, faraday.UserToken{Alias: "first", Scope: faraday.ScopeServiceDesk}); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	viaLink, err := faraday.OpenFileTokenStore(link)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = viaLink.Close() }()
	if _, _, err := faraday.IssueToken(ctx, viaLink, faraday.UserToken{Alias: "via-link", Scope: faraday.ScopeServiceDesk}); err != nil {
		t.Fatal(err)
	}
	if l, err := direct.List(ctx); err != nil || len(l) != 2 {
		t.Errorf("the direct store sees %d tokens (%v), want 2", len(l), err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the write through the link replaced the link (%v)", err)
	}
	if _, err := os.Stat(link + ".lock"); err == nil {
		t.Error("a lock file was made beside the link: the two stores would not exclude each other")
	}

	// Links: both stores opened through the same symbolic link, the
	// first write creating the target.
	ltarget := filepath.Join(dir, "links.json")
	if err := os.WriteFile(ltarget, []byte(`{"format":"mesd-faraday-links/1","links":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	llink := filepath.Join(dir, "links-link.json")
	if err := os.Symlink(ltarget, llink); err != nil {
		t.Fatal(err)
	}
	a, err := faraday.OpenFileLinkStore(llink)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	b, err := faraday.OpenFileLinkStore(ltarget)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	if _, err := a.CompareAndSet(ctx, pendingLink(1), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CompareAndSet(ctx, pendingLink(2), 0); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*faraday.FileLinkStore{a, b} {
		for id := int64(1); id <= 2; id++ {
			if _, err := s.Get(ctx, faraday.VulnKey{Workspace: "w", VulnID: id}); err != nil {
				t.Errorf("link w/%d: %v", id, err)
			}
		}
	}
}

func TestFileStoreThroughADanglingSymlinkIsRefused(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "tokens.json")
	if err := os.Symlink(filepath.Join(dir, "missing.json"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := faraday.OpenFileTokenStore(link); err == nil || !strings.Contains(err.Error(), "symbolic link to a missing file") {
		t.Errorf("open through a dangling link: %v", err)
	}
}

func TestFileStoresRefuseFilesOthersCanWrite(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.json")
	links := filepath.Join(dir, "links.json")
	if err := os.WriteFile(tokens, []byte(`{"format":"mesd-faraday-tokens/1","next_id":1,"tokens":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(links, []byte(`{"format":"mesd-faraday-links/1","links":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	open := map[string]func() error{
		tokens: func() error {
			s, err := faraday.OpenFileTokenStore(tokens)
			if err == nil {
				_ = s.Close()
			}
			return err
		},
		links: func() error {
			s, err := faraday.OpenFileLinkStore(links)
			if err == nil {
				_ = s.Close()
			}
			return err
		},
	}
	for path, fn := range open {
		for _, mode := range []os.FileMode{0o666, 0o620, 0o602} {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			err := fn()
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), mode.String()) {
				t.Errorf("%s with mode %v: %v, want an error naming the path and the mode", filepath.Base(path), mode, err)
			}
		}
		for _, mode := range []os.FileMode{0o600, 0o640, 0o644, 0o400} {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if err := fn(); err != nil {
				t.Errorf("%s with mode %v: %v", filepath.Base(path), mode, err)
			}
		}
	}
}

func TestFileStoreChangedToWritableByOthersIsRefusedAtTheNextLookup(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "tokens.json")
	s, err := faraday.OpenFileTokenStore(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if _, _, err := faraday.IssueToken(ctx, s, faraday.UserToken{Alias: "a", Scope: faraday.ScopeServiceDesk}); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o666); err != nil {
		t.Fatal(err)
	}
	// Another process rewrites it (new inode) with a world-writable mode.
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	tmp := p + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("List after the file became world-writable: %v", err)
	}
}

func TestFileStoreRewriteKeepsTheFileMode(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens.json")
	s, err := faraday.OpenFileTokenStore(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	issue := func(alias string) {
		t.Helper()
		if _, _, err := faraday.IssueToken(ctx, s, faraday.UserToken{Alias: alias, Scope: faraday.ScopeServiceDesk}); err != nil {
			t.Fatal(err)
		}
	}
	mode := func() os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	issue("a")
	if m := mode(); m != 0o600 {
		t.Errorf("new token file has mode %v, want 0600", m)
	}
	if err := os.Chmod(p, 0o640); err != nil { // the admin lets the server's group read it
		t.Fatal(err)
	}
	issue("b")
	if m := mode(); m != 0o640 {
		t.Errorf("rewritten token file has mode %v, want the 0640 it had", m)
	}

	lp := filepath.Join(dir, "links.json")
	ls, err := faraday.OpenFileLinkStore(lp)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ls.Close() }()
	if _, err := ls.CompareAndSet(ctx, pendingLink(1), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(lp, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.CompareAndSet(ctx, pendingLink(2), 0); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(lp); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("rewritten link file: %v %v, want mode 0644", fi.Mode(), err)
	}
}
