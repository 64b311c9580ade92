//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package faraday_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vulndesk/mesd/faraday"
)

func TestFileStoreLockWaitEndsWithTheContext(t *testing.T) {
	p := filepath.Join(t.TempDir(), "links.json")
	s, err := faraday.OpenFileLinkStore(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	// Another process (here: another open file) holds the store's lock.
	f, err := os.OpenFile(p+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := s.CompareAndSet(ctx, pendingLink(1), 0)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("CompareAndSet under a held lock: %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d < 40*time.Millisecond {
			t.Errorf("gave up after %v, before the context ended", d)
		}
	case <-time.After(2 * time.Second):
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		t.Logf("after the release: %v", <-done)
		t.Fatal("CompareAndSet still waits for the lock long after its context ended")
	}
	// Released, the lock is taken again.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CompareAndSet(context.Background(), pendingLink(1), 0); err != nil {
		t.Errorf("CompareAndSet after the lock was released: %v", err)
	}
}

func TestFileStoreWaitsForAShortlyHeldLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "links.json")
	s, err := faraday.OpenFileLinkStore(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	f, err := os.OpenFile(p+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(20 * time.Millisecond)
		_ = syscall.Flock(fd, syscall.LOCK_UN)
	}()
	defer func() { <-released }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := s.CompareAndSet(ctx, pendingLink(1), 0); err != nil {
		t.Errorf("CompareAndSet while the lock is held for 20ms: %v", err)
	}
}
