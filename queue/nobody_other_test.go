//go:build !unix

package queue_test

import "testing"

// runAsNobody is only reached as root (Geteuid 0), which is unix-only.
func runAsNobody(t *testing.T, _ string) {
	t.Helper()
	t.Fatal("running a test as another user needs a unix system")
}
