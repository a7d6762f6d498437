package scanner

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: every Run and
// Supervise must have returned and left nothing behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
