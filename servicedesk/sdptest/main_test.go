package sdptest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no server, delivery worker or connection outlives
// its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
