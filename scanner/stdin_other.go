//go:build !unix

package scanner

import (
	"context"
	"os"
)

// fileReader reads f. Without poll(2) a read of a terminal blocks, so on
// these systems Stdin.Run returns after ctx ends only once a line (or EOF)
// arrives.
type fileReader struct{ f *os.File }

func newFileReader(_ context.Context, f *os.File) (*fileReader, error) { return &fileReader{f: f}, nil }

func (fr *fileReader) Read(b []byte) (int, error) { return fr.f.Read(b) }

func (fr *fileReader) Close() {}
