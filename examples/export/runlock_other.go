//go:build !unix

package main

// lockRun does nothing where flock is missing; the file link store itself
// refuses to open there (faraday.ErrFileStoreUnsupported).
func lockRun(string) (func(), error) { return func() {}, nil }
