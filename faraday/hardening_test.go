package faraday_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

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

func TestVulnWithoutSeverityOrStatusIsRefused(t *testing.T) {
	cases := map[string]string{
		`{"id":7,"severity":null,"status":"open"}`: "vuln 7: field severity is missing or null",
		`{"id":7,"status":"open"}`:                 "vuln 7: field severity is missing or null",
		`{"id":7,"severity":"med","status":null}`:  "vuln 7: field status is missing or null",
		`{"_id":8,"severity":"med"}`:               "vuln 8: field status is missing or null",
		`{"severity":"high"}`:                      "vuln: field status",
	}
	for in, want := range cases {
		var v faraday.Vuln
		err := json.Unmarshal([]byte(in), &v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one containing %q", in, err, want)
		}
	}
	var v faraday.Vuln
	if err := json.Unmarshal([]byte(`{"id":7,"severity":"med","status":"opened"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Severity != faraday.SeverityMedium || v.Status != faraday.StatusOpen {
		t.Errorf("decoded severity %v, status %v", v.Severity, v.Status)
	}
}

func TestTimeTextFormMatchesJSONForm(t *testing.T) {
	tm, err := faraday.ParseTime("2024-04-22T14:47:16.277896+00:00")
	if err != nil {
		t.Fatal(err)
	}
	text, err := tm.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	js, err := tm.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if `"`+string(text)+`"` != string(js) || string(text) != "2024-04-22T14:47:16.277896+00:00" {
		t.Errorf("text %s and JSON %s disagree", text, js)
	}
	if b, err := json.Marshal(map[faraday.Time]int{tm: 1}); err != nil || string(b) != `{"2024-04-22T14:47:16.277896+00:00":1}` {
		t.Errorf("as a map key: %s %v", b, err)
	}
	if b, err := tm.AppendText([]byte("at ")); err != nil || string(b) != "at 2024-04-22T14:47:16.277896+00:00" {
		t.Errorf("AppendText: %s %v", b, err)
	}
	for in, want := range map[string]time.Time{
		"2024-04-22 14:47:07":              time.Date(2024, 4, 22, 14, 47, 7, 0, time.UTC), // the CSV export's naive UTC
		"2024-04-22T14:47:16.277896+00:00": time.Date(2024, 4, 22, 14, 47, 16, 277896000, time.UTC),
		"2024-04-22T16:47:16+02:00":        time.Date(2024, 4, 22, 14, 47, 16, 0, time.UTC),
	} {
		var got faraday.Time
		if err := got.UnmarshalText([]byte(in)); err != nil || !got.Equal(want) {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	var zero faraday.Time
	if b, err := zero.MarshalText(); err != nil || len(b) != 0 {
		t.Errorf("zero MarshalText = %q, %v; want empty", b, err)
	}
	got := tm
	if err := got.UnmarshalText(nil); err != nil || !got.IsZero() {
		t.Errorf("UnmarshalText(empty) = %v, %v; want the zero Time", got, err)
	}
	if err := got.UnmarshalText([]byte("22/04/2024")); !errors.Is(err, faraday.ErrInvalidTime) {
		t.Errorf("UnmarshalText(22/04/2024): %v, want ErrInvalidTime", err)
	}
}

func TestIssueTrackerKeepsUnknownServiceDeskKeys(t *testing.T) {
	in := `{"jira":{"k":1},"service_desk":{"state":"linked","request_id":"5","future_field":{"a":[1,2]},"z":"x"}}`
	it, err := faraday.ParseIssueTracker(in)
	if err != nil {
		t.Fatal(err)
	}
	col, err := it.ColumnText()
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]map[string]any
	if err := json.Unmarshal([]byte(col), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %s\nwant %s", col, in)
	}
	// The entry stays comparable, and a copy and a re-parse are equal.
	again, err := faraday.ParseIssueTracker(col)
	if err != nil {
		t.Fatal(err)
	}
	if *again.ServiceDesk != *it.ServiceDesk || *it.Clone().ServiceDesk != *it.ServiceDesk {
		t.Errorf("re-parsed entry %+v differs from %+v", *again.ServiceDesk, *it.ServiceDesk)
	}
	// Known keys are not duplicated by the extra ones.
	if n := strings.Count(col, `"request_id"`); n != 1 {
		t.Errorf("request_id written %d times: %s", n, col)
	}
}

func TestIssueTrackerAcceptsANumericRequestID(t *testing.T) {
	it, err := faraday.ParseIssueTracker(`{"service_desk":{"request_id":5,"display_id":12}}`)
	if err != nil {
		t.Fatal(err)
	}
	if e := it.ServiceDesk; e.RequestID != "5" || e.DisplayID != "12" || e.State != faraday.LinkLinked {
		t.Errorf("entry %+v: want request_id \"5\", display_id \"12\", linked", e)
	}
	col, err := it.ColumnText()
	if err != nil || !strings.Contains(col, `"request_id":"5"`) {
		t.Errorf("written back as %s (%v): want the id as a string", col, err)
	}
}

func TestDefaultRolesAreCaseInsensitiveCopies(t *testing.T) {
	for _, name := range []string{"Admin", "ADMIN", " admin ", "Asset_Owner"} {
		if r, ok := faraday.DefaultRole(name); !ok || !strings.EqualFold(r.Name, strings.TrimSpace(name)) {
			t.Errorf("DefaultRole(%q) = %v, %v", name, r, ok)
		}
	}
	if _, ok := faraday.DefaultRole("root"); ok {
		t.Error("DefaultRole(root) found a role")
	}
	r, _ := faraday.DefaultRole("client")
	r.Name, r.Weight = "hacked", 1
	faraday.AdminRole().Name = "hacked"
	faraday.DefaultRoles()[1].Name = "hacked"
	for _, r := range append(faraday.DefaultRoles(), faraday.AdminRole(), faraday.ClientRole()) {
		if r.Name == "hacked" {
			t.Errorf("a caller changed the shared default role %d", r.ID)
		}
	}
	if c := faraday.ClientRole(); c.Weight != 40 {
		t.Errorf("client weight %d, want 40", c.Weight)
	}
	if !faraday.AdminRole().Allowed(faraday.DefaultRoles()[0].Grants()[0].Unit, faraday.DefaultRoles()[0].Grants()[0].Action) {
		t.Error("a copy lost its grants")
	}
}

func TestUpdateLinkLeavingAMissingLinkMissingWritesNothing(t *testing.T) {
	ctx := context.Background()
	p := filepath.Join(t.TempDir(), "links.json")
	fs, err := faraday.OpenFileLinkStore(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fs.Close() }()
	key := faraday.VulnKey{Workspace: "w", VulnID: 2}
	for name, s := range map[string]faraday.LinkStore{"memory": faraday.NewMemoryLinkStore(), "file": fs} {
		calls := 0
		l, err := faraday.UpdateLink(ctx, s, key, 0, func(*faraday.Link) error { calls++; return nil })
		if err != nil || l.Revision != 0 || calls != 1 {
			t.Errorf("%s: UpdateLink no-op on a missing link = %+v, %v (fn called %d times); want a zero link and nil", name, l, err, calls)
		}
		if _, err := s.Get(ctx, key); !errors.Is(err, faraday.ErrLinkNotFound) {
			t.Errorf("%s: the link exists after a no-op: %v", name, err)
		}
		// A real change is still written.
		l, err = faraday.UpdateLink(ctx, s, key, 0, func(l *faraday.Link) error {
			l.State, l.Tag = faraday.LinkPending, "[t]"
			return nil
		})
		if err != nil || l.Revision != 1 {
			t.Errorf("%s: UpdateLink creating the link = %+v, %v", name, l, err)
		}
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("the file store was not written by the real change: %v", err)
	}
	p2 := filepath.Join(t.TempDir(), "links.json")
	fs2, err := faraday.OpenFileLinkStore(p2)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = fs2.Close() }()
	if _, err := faraday.UpdateLink(ctx, fs2, key, 0, func(*faraday.Link) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a no-op wrote the file: %v", err)
	}
}

func TestValidateTokenRefusesOverlongInputBeforeTheLookup(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := faraday.NewMemoryTokenStore()
	longest := strings.Repeat("a", 512)
	tooLong := strings.Repeat("b", 513)
	// Both are stored, so only the length bound can refuse the second.
	for i, plain := range []string{longest, tooLong} {
		if _, err := st.Create(ctx, faraday.UserToken{Alias: fmt.Sprint("t", i), Scope: faraday.ScopeServiceDesk}, faraday.HashToken(plain)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := faraday.ValidateToken(ctx, st, longest, now, faraday.ScopeServiceDesk); err != nil {
		t.Errorf("a 512-byte token: %v", err)
	}
	_, err := faraday.ValidateToken(ctx, st, tooLong, now, faraday.ScopeServiceDesk)
	if !errors.Is(err, faraday.ErrTokenUnknown) || !strings.Contains(err.Error(), "512") {
		t.Errorf("a 513-byte token: %v, want ErrTokenUnknown naming the bound", err)
	}
}
