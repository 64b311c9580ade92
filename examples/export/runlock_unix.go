//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockRun takes the lock that makes export runs on one state file take
// turns. A run that finds it held stops at once, before any call to
// ServiceDesk; the lock goes with the process, so a crashed run never
// leaves it behind.
func lockRun(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) //nolint:gosec // the path is derived from the operator's -state flag
	if err != nil {
		return nil, fmt.Errorf("-state: run lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil { //nolint:gosec // a file descriptor fits an int
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("-state: another export is running on this state file (%s is locked); wait for it to end", path)
		}
		return nil, fmt.Errorf("-state: run lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) //nolint:gosec // a file descriptor fits an int
		_ = f.Close()
	}, nil
}
