//go:build !linux

package main

import (
	"errors"
	"io"
)

// journaldWriter: the journal exists only on Linux.
func journaldWriter() (io.Writer, error) {
	return nil, errors.New("the systemd journal exists only on Linux: use console or json")
}
