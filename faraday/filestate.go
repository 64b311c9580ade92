package faraday

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// ErrFileStoreUnsupported is returned by the file-backed stores' constructors
// on systems without flock(2).
var ErrFileStoreUnsupported = errors.New("faraday: file-backed stores need flock, which this system lacks")

// maxStoreFile bounds how much of a store file is read.
const maxStoreFile = 1 << 30

// fileState keeps the decoded content of a JSON file that several processes
// share. Writers take an exclusive flock on path+".lock", re-read the file,
// change it and replace it atomically (temp file, fsync, rename, fsync of
// the directory). Readers need no lock: the path always names a complete
// file. Each reader keeps the file it decoded open, so its inode cannot be
// reused while cached; a stat of the path tells at once whether another
// process replaced it, and the next read sees the change.
type fileState[S any] struct {
	path   string
	decode func(data []byte) (S, error)
	encode func(S) ([]byte, error)
	empty  func() S

	mu     sync.Mutex
	cur    S
	file   *os.File    // the file cur was decoded from; nil when none
	info   os.FileInfo // its stat when decoded
	have   bool
	closed bool
}

var errStoreClosed = errors.New("faraday: store is closed")

func newFileState[S any](path string, decode func([]byte) (S, error), encode func(S) ([]byte, error), empty func() S) (*fileState[S], error) {
	if !flockSupported {
		return nil, ErrFileStoreUnsupported
	}
	abs, err := resolveStorePath(path)
	if err != nil {
		return nil, err
	}
	f := &fileState[S]{path: abs, decode: decode, encode: encode, empty: empty}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.refreshLocked(); err != nil {
		return nil, err
	}
	return f, nil
}

// resolveStorePath returns the absolute path of the store file with every
// symbolic link resolved, so that writes replace the file the link names
// (and lock beside it) instead of replacing the link with a regular file,
// which would split the stores opened through the link from the others. A
// missing file is resolved through its directory; a link to a missing file
// is an error.
func resolveStorePath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("faraday: store path %q: %w", path, err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err == nil {
		return resolved, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("faraday: store path %s: %w", abs, err)
	}
	if fi, lerr := os.Lstat(abs); lerr == nil && fi.Mode()&os.ModeSymlink != 0 { //nolint:gosec // the host names its store file
		return "", fmt.Errorf("faraday: store path %s is a symbolic link to a missing file: create the target first or name it directly", abs)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", fmt.Errorf("faraday: store directory of %s: %w", abs, err)
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}

// checkStoreMode refuses a store file that others than its owner may
// write: anyone who can write a token file can plant a token.
func checkStoreMode(path string, info os.FileInfo) error {
	if perm := info.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("faraday: store %s has mode %v: it is writable by group or others; make it writable by its owner only (chmod go-w)", path, perm)
	}
	return nil
}

// refreshLocked returns the current content, re-reading the file when the
// path names another file than the cached one. f.mu must be held.
func (f *fileState[S]) refreshLocked() (S, error) {
	var zero S
	if f.closed {
		return zero, errStoreClosed
	}
	st, err := os.Stat(f.path) //nolint:gosec // the host names its store file
	if errors.Is(err, os.ErrNotExist) {
		f.setLocked(f.empty(), nil, nil)
		return f.cur, nil
	}
	if err != nil {
		return zero, fmt.Errorf("faraday: store %s: %w", f.path, err)
	}
	if f.have && f.info != nil && os.SameFile(st, f.info) && st.Size() == f.info.Size() && st.ModTime().Equal(f.info.ModTime()) {
		return f.cur, nil
	}
	file, err := os.Open(f.path)        //nolint:gosec // the host names its store file
	if errors.Is(err, os.ErrNotExist) { // removed since the stat
		f.setLocked(f.empty(), nil, nil)
		return f.cur, nil
	}
	if err != nil {
		return zero, fmt.Errorf("faraday: store %s: %w", f.path, err)
	}
	info, err := file.Stat()
	if err != nil {
		_ = file.Close()
		return zero, fmt.Errorf("faraday: store %s: %w", f.path, err)
	}
	if err := checkStoreMode(f.path, info); err != nil {
		_ = file.Close()
		return zero, err
	}
	data, err := io.ReadAll(io.LimitReader(file, maxStoreFile+1))
	if err != nil {
		_ = file.Close()
		return zero, fmt.Errorf("faraday: reading store %s: %w", f.path, err)
	}
	if len(data) > maxStoreFile {
		_ = file.Close()
		return zero, fmt.Errorf("faraday: store %s is larger than %d bytes", f.path, maxStoreFile)
	}
	s, err := f.decode(data)
	if err != nil {
		_ = file.Close()
		return zero, fmt.Errorf("faraday: store %s: %w", f.path, err)
	}
	f.setLocked(s, file, info)
	return f.cur, nil
}

func (f *fileState[S]) setLocked(s S, file *os.File, info os.FileInfo) {
	if f.file != nil && f.file != file {
		_ = f.file.Close()
	}
	f.cur, f.file, f.info, f.have = s, file, info, true
}

// view calls fn with the current content; fn must not change it.
func (f *fileState[S]) view(fn func(S) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.refreshLocked()
	if err != nil {
		return err
	}
	return fn(s)
}

// update runs fn on the latest content under the cross-process lock and
// writes the result when fn succeeds. fn may change the content in place
// when it succeeds and must leave it unchanged when it fails; if the write
// fails the cache is dropped and re-read next time.
// Waiting for the lock ends with ctx.Err() when ctx ends.
func (f *fileState[S]) update(ctx context.Context, fn func(S) (S, error)) error {
	// The cross-process lock is taken first, so that readers in this
	// process are not held up while a writer waits for another process.
	// flock(2) locks belong to the open file, so writers in this process
	// exclude each other too.
	unlock, err := lockFile(ctx, f.path+".lock")
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && errors.Is(err, ctxErr) {
			return fmt.Errorf("faraday: waiting for the lock of store %s: %w", f.path, err)
		}
		return fmt.Errorf("faraday: locking store %s: %w", f.path, err)
	}
	defer unlock()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return errStoreClosed
	}
	s, err := f.refreshLocked()
	if err != nil {
		return err
	}
	next, err := fn(s)
	if err != nil {
		return err
	}
	if err := f.writeLocked(next); err != nil {
		f.have = false
		return err
	}
	return nil
}

// writeLocked replaces the file with next's encoding: temp file in the same
// directory, fsync, rename, fsync of the directory.
func (f *fileState[S]) writeLocked(next S) error {
	data, err := f.encode(next)
	if err != nil {
		return fmt.Errorf("faraday: encoding store %s: %w", f.path, err)
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(f.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("faraday: writing store %s: %w", f.path, err)
	}
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("faraday: writing store %s: %w", f.path, err)
	}
	// A new file is 0600 (CreateTemp's mode); a rewrite keeps the mode the
	// host gave the file (refreshLocked has checked it).
	if st, err := os.Stat(f.path); err == nil {
		if err := tmp.Chmod(st.Mode().Perm()); err != nil {
			return fail(err)
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fail(err)
	}
	if d, err := os.Open(dir); err == nil { //nolint:gosec // the store file's own directory
		_ = d.Sync()
		_ = d.Close()
	}
	if info, statErr := tmp.Stat(); statErr == nil {
		f.setLocked(next, tmp, info)
	} else { // written; the next read re-reads it
		_ = tmp.Close()
		f.have = false
	}
	return nil
}

// close releases the cached file.
func (f *fileState[S]) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	var err error
	if f.file != nil {
		err = f.file.Close()
		f.file = nil
	}
	var zero S
	f.cur, f.have = zero, false
	return err
}
