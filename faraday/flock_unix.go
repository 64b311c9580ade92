//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package faraday

import (
	"errors"
	"os"
	"syscall"
)

const flockSupported = true

// lockFile takes an exclusive flock(2) on path, creating it if needed, and
// returns the function that releases it. The lock is advisory: it orders the
// writers of this package, in this process and in others.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // the host names its store file
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
