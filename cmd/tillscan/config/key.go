package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tillscan/tillscan/apiclient"
)

// maxKeyFile bounds what is read of a key file: a key is at most
// apiclient.MaxKeyLen bytes; anything much longer is the wrong file.
const maxKeyFile = 4 << 10

// Key is the API key and where it came from.
type Key struct {
	Key    string
	Source string // TILLSCAN_API_KEY, the credential, or the key file's path
	// Warnings are things about the key file the installer should fix
	// (readable by others, a symlink, another owner); the key is usable.
	Warnings []string
}

// APIKey finds the API key: the TILLSCAN_API_KEY environment variable, then
// the systemd credential $CREDENTIALS_DIRECTORY/api-key, then api.key_file.
// getenv is os.Getenv outside tests. The key must pass apiclient.CheckKey
// (the client refuses to send with any other). The error never contains
// the key.
func (c *Config) APIKey(getenv func(string) string) (Key, error) {
	if k := strings.TrimSpace(getenv("TILLSCAN_API_KEY")); k != "" {
		if err := apiclient.CheckKey(k); err != nil {
			return Key{}, fmt.Errorf("TILLSCAN_API_KEY: %w", err)
		}
		return Key{Key: k, Source: "TILLSCAN_API_KEY"}, nil
	}
	var tried []string
	if dir := getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		// systemd made this copy itself: its mode and owner are right.
		k, err := readKey(filepath.Join(dir, "api-key"), false)
		if err == nil {
			k.Source = "credential api-key"
			return k, nil
		}
		tried = append(tried, err.Error())
	}
	if c.API.KeyFile != "" {
		k, err := readKey(c.API.KeyFile, true)
		if err == nil {
			k.Source = c.API.KeyFile
			return k, nil
		}
		tried = append(tried, err.Error())
	}
	if len(tried) == 0 {
		return Key{}, fmt.Errorf("%w: set api.key_file in the config (a file holding only the key, mode 0600), or TILLSCAN_API_KEY", ErrNoKey)
	}
	return Key{}, fmt.Errorf("%w: %s", ErrNoKey, strings.Join(tried, "; "))
}

// readKey reads a key file: a regular file (a FIFO would block, a device
// like /dev/zero never ends), at most maxKeyFile bytes, refused if anyone
// may write it; checkAccess adds warnings about who may read or own it.
func readKey(path string, checkAccess bool) (Key, error) {
	var k Key
	lfi, err := os.Lstat(path)
	if err != nil {
		return Key{}, fmt.Errorf("api key file: %w", err)
	}
	if lfi.Mode()&fs.ModeSymlink != 0 && checkAccess {
		k.Warnings = append(k.Warnings, fmt.Sprintf("api key file %s is a symlink: whoever can change the link can change the key; name the file itself", path))
	}
	fi, err := os.Stat(path)
	if err != nil {
		return Key{}, fmt.Errorf("api key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Key{}, fmt.Errorf("api key file %s is not a regular file (%s): it must be a small file holding only the key", path, fi.Mode().Type())
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return Key{}, fmt.Errorf("api key file %s can be changed by anyone (mode %04o): chmod 0600 %s", path, fi.Mode().Perm(), path)
	}
	if checkAccess {
		if fi.Mode().Perm()&0o044 != 0 {
			k.Warnings = append(k.Warnings, fmt.Sprintf("api key file %s is readable by others (mode %04o): chmod 0600 %s", path, fi.Mode().Perm(), path))
		}
		if w := ownerWarning(path, fi); w != "" {
			k.Warnings = append(k.Warnings, w)
		}
	}
	if fi.Size() > maxKeyFile {
		return Key{}, fmt.Errorf("api key file %s is %d bytes: a key is at most %d; is it the right file?", path, fi.Size(), apiclient.MaxKeyLen)
	}
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("api key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1)) // the file may have grown since Stat
	if err != nil {
		return Key{}, fmt.Errorf("api key file %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return Key{}, fmt.Errorf("api key file %s is over %d bytes: a key is at most %d; is it the right file?", path, maxKeyFile, apiclient.MaxKeyLen)
	}
	k.Key = strings.TrimSpace(string(b))
	if k.Key == "" {
		return Key{}, fmt.Errorf("api key file %s is empty", path)
	}
	if err := apiclient.CheckKey(k.Key); err != nil {
		return Key{}, fmt.Errorf("api key file %s: %w", path, err)
	}
	return k, nil
}
