//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package faraday

const flockSupported = false

func lockFile(string) (func(), error) { return nil, ErrFileStoreUnsupported }
