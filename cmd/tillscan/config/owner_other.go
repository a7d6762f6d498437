//go:build !unix

package config

import "io/fs"

// ownerWarning has nothing to check where files have no Unix owner.
func ownerWarning(string, fs.FileInfo) string { return "" }
