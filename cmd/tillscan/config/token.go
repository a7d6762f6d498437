package config

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// MinTokenLen is the shortest POS token accepted: 16 characters, e.g. 8
// random bytes in hex (the package makes 32).
const MinTokenLen = 16

// POSToken reads the POS endpoints' bearer token from status.token_file;
// "" when no file is configured (the endpoints are off). The file must be
// a small regular file that only its owner and group can read (the
// package installs it 0640 root:tillscan). The error never contains the
// token.
func (c *Config) POSToken() (string, error) {
	path := c.Status.TokenFile
	if path == "" {
		return "", nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("status.token_file: %w (create it: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > %s; chmod 0640 %s)", err, path, path)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("status.token_file %s is not a regular file (%s): it must be a small file holding only the token", path, fi.Mode().Type())
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return "", fmt.Errorf("status.token_file %s can be read or changed by any user (mode %04o): chmod 0640 %s", path, fi.Mode().Perm(), path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("status.token_file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return "", fmt.Errorf("status.token_file %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	switch {
	case len(b) > maxKeyFile:
		return "", fmt.Errorf("status.token_file %s is over %d bytes: is it the right file?", path, maxKeyFile)
	case len(tok) < MinTokenLen:
		return "", fmt.Errorf("status.token_file %s holds %d characters: a token needs at least %d (make one: head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n')", path, len(tok), MinTokenLen)
	case strings.IndexFunc(tok, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0:
		return "", fmt.Errorf("status.token_file %s: the token must be one word of printable ASCII (it goes into an HTTP header)", path)
	}
	return tok, nil
}
