//go:build !unix

package scanner

import "os"

// pollRead reads f. Without poll(2) a read of a terminal blocks, so on
// these systems Stdin.Run returns after ctx ends only once a line (or EOF)
// arrives.
func pollRead(f *os.File, b []byte) (int, error) { return f.Read(b) }
