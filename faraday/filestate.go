package faraday

import (
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
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("faraday: store path %q: %w", path, err)
	}
	f := &fileState[S]{path: abs, decode: decode, encode: encode, empty: empty}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.refreshLocked(); err != nil {
		return nil, err
	}
	return f, nil
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
func (f *fileState[S]) update(fn func(S) (S, error)) error {
	// The cross-process lock is taken first, so that readers in this
	// process are not held up while a writer waits for another process.
	// flock(2) locks belong to the open file, so writers in this process
	// exclude each other too.
	unlock, err := lockFile(f.path + ".lock")
	if err != nil {
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
