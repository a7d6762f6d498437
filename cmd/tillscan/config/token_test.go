package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPOSToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // umask
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path string
		want       string // the token, or a part of the error
		ok         bool
	}{
		{"off", "", "", true},
		{"good", write("good", "0123456789abcdef0123\n", 0o640), "0123456789abcdef0123", true},
		{"missing", filepath.Join(dir, "nope"), "no such file", false},
		{"readable by all", write("open", "0123456789abcdef0123", 0o644), "chmod 0640", false},
		{"too short", write("short", "secret\n", 0o600), "at least 16", false},
		{"two words", write("words", "0123456789 abcdef0123", 0o600), "one word", false},
		{"a directory", dir, "not a regular file", false},
		{"huge", write("huge", strings.Repeat("a", 5000), 0o600), "over 4096 bytes", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{Status: Status{TokenFile: tt.path}}
			tok, err := c.POSToken()
			if tt.ok {
				if err != nil || tok != tt.want {
					t.Fatalf("POSToken() = %q, %v; want %q", tok, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("POSToken() = %q, %v; want an error with %q", tok, err, tt.want)
			}
			if strings.Contains(err.Error(), "0123456789") {
				t.Fatalf("error %q shows the token", err)
			}
		})
	}
}
