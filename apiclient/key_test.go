package apiclient_test

import (
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient"
)

// CheckKey is the one rule for a usable key; its errors never quote the key.
func TestCheckKey(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want string // a fragment of the error; "" for none
	}{
		{"typical", testKey, ""},
		{"one character", "k", ""},
		{"inner space", "tk-abc def", ""},
		{"longest", strings.Repeat("k", apiclient.MaxKeyLen), ""},
		{"empty", "", "empty"},
		{"too long", strings.Repeat("k", apiclient.MaxKeyLen+1), "bytes long"},
		{"trailing newline", testKey + "\n", "line break"},
		{"CRLF inside", "tk-abc\r\ndef", "line break"},
		{"leading space", " " + testKey, "starts or ends"},
		{"trailing tab", testKey + "\t", "starts or ends"},
		{"NUL", "tk-\x00-abc", "control character"},
		{"DEL", "tk-\x7f-abc", "control character"},
		{"non-ASCII", "tk-clé-abc", "non-ASCII"},
		{"byte-order mark", "\ufefftk-abc", "non-ASCII"},
		{"invalid UTF-8", "tk-\xff-abc", "non-ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apiclient.CheckKey(tt.key)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("CheckKey() = %v; want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("CheckKey() = %v; want an error saying %q", err, tt.want)
			case err != nil && len(tt.key) >= 3 && strings.Contains(err.Error(), strings.TrimSpace(tt.key)):
				t.Errorf("CheckKey() = %v quotes the key", err)
			}
		})
	}
}
