//go:build !unix

package main

// ownSocket is false where a socket's owner cannot be read: the command
// line does not look for a running demo there.
func ownSocket(string) bool { return false }
