//go:build !linux

package hid

import "os"

func checkNetlink() error { return nil }

func accessRW(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}
