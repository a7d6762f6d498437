//go:build unix

package queue

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes the same exclusive flock bbolt takes, without waiting. It
// returns false if another open file holds it.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
