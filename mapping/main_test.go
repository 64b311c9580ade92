package mapping_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them
// (Example_composition starts a fake ServiceDesk).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
