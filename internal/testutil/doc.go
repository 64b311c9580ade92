// Package testutil holds helpers for the module's own tests: finding the
// shared reference fixtures and fixed clocks. It is internal and never
// imported by library code.
package testutil
