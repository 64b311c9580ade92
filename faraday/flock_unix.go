//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package faraday

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

const flockSupported = true

// lockFile takes an exclusive flock(2) on path, creating it if needed, and
// returns the function that releases it. The lock is advisory: it orders the
// writers of this package, in this process and in others. While another
// holder keeps it, lockFile polls with short, growing sleeps (1 ms up to
// 50 ms) and gives up with ctx.Err() when ctx ends.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // the host names its store file
	if err != nil {
		return nil, err
	}
	wait := time.Millisecond
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, err
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-timer.C:
		}
		wait = min(wait*2, 50*time.Millisecond)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
