//go:build !unix

package queue

import "os"

// tryLock cannot test bbolt's lock here; bbolt.Open's own timeout still
// stops a second instance, and a file in use cannot be renamed on Windows.
func tryLock(*os.File) (bool, error) { return true, nil }
