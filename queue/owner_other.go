//go:build !unix

package queue

import (
	"fmt"
	"os"
)

// keepOwner gives the file at path the permission bits of the file fi
// describes; ownership is left to the system's inheritance rules here.
func keepOwner(path string, fi os.FileInfo) error {
	if err := os.Chmod(path, fi.Mode().Perm()); err != nil {
		return fmt.Errorf("give %s the permissions of the original: %w", path, err)
	}
	return nil
}
