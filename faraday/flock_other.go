//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package faraday

import "context"

const flockSupported = false

func lockFile(context.Context, string) (func(), error) { return nil, ErrFileStoreUnsupported }
