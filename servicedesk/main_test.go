package servicedesk

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (httptest servers,
// keep-alive connections, httpmock responders).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
