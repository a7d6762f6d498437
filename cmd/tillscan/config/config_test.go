package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const minimal = "till_id: till-1\n"

func TestParseDefaults(t *testing.T) {
	c, err := Parse("t.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.API.BaseURL != DefaultBaseURL || c.DedupeWindow != 10*time.Second || c.Status.Listen != DefaultStatusListen ||
		c.API.RateLimit != 10 || c.StateDir != DefaultStateDir {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // substrings of the error
	}{
		{"unknown key with position", "till_id: t\napi:\n  rate_limt: 5\n", []string{"t.yaml", "[3:3]", `unknown field "rate_limt"`}},
		{"key in file refused", "till_id: t\napi:\n  key: secret\n", []string{"never goes in the config file"}},
		{"duration as number", "till_id: t\ndedupe_window: 10\n", []string{"line 2: dedupe_window: 10: a duration like 10s"}},
		{"bad till id", "till_id: 'till 1'\n", []string{"till_id"}},
		{"unknown scanner type", "till_id: t\nscanners:\n  - {type: bluetooth}\n", []string{"scanners[0].type", "bluetooth"}},
		{"serial needs path", "till_id: t\nscanners:\n  - {type: serial}\n", []string{"scanners[0].path", "by-id"}},
		{"hid needs ids and layout", "till_id: t\nscanners:\n  - {type: hid, layout: se}\n", []string{"vid and pid", `"se"`}},
		{"none needs a positive idle", "till_id: t\nscanners:\n  - {type: stdin, terminator: none, idle_timeout: -1s}\n", []string{"scanners[0]", "idle timeout"}},
		{"duplicate scanner", "till_id: t\nscanners:\n  - {name: a, type: stdin}\n  - {name: a, type: stdin}\n", []string{"used twice"}},
		{"unknown card type", "till_id: t\nrules:\n  loyalty: {action: add-stamp}\n", []string{"rules.loyalty", "unknown card type"}},
		{"wrong action for type", "till_id: t\nrules:\n  coupon: {action: add-stamp}\n", []string{"rules.coupon", "add-stamp is not an action for coupon cards"}},
		{"fractional stamps", "till_id: t\nrules:\n  stamp: {action: add-stamp, quantity: 1.5}\n", []string{"whole number"}},
		{"bad mechanics", "till_id: t\ntemplates:\n  12: {mechanics: magic}\n", []string{"templates.12.mechanics"}},
		{"mode without barcode", "till_id: t\nmodes:\n  redeem: {}\n", []string{"modes.redeem.barcode"}},
		{"status not loopback", "till_id: t\nstatus: {listen: '0.0.0.0:8765'}\n", []string{"not a loopback"}},
		{"rate over limit", "till_id: t\napi: {rate_limit: 20}\n", []string{"api.rate_limit"}},
		{"line of a bad value", "till_id: t\nscanners:\n  - type: stdin\n    terminator: crlff\n", []string{"line 4: scanners[0].terminator", `unknown terminator "crlff"`}},
		{"rate not a number", "till_id: t\napi: {rate_limit: .nan}\n", []string{"line 2: api.rate_limit", "0.1 to 10"}},
		{"rate absurdly small", "till_id: t\napi: {rate_limit: 1e-300}\n", []string{"api.rate_limit", "0.1 to 10"}},
		{"rate infinite", "till_id: t\napi: {rate_limit: .inf}\n", []string{"api.rate_limit"}},
		{"credentials in base_url", "till_id: t\napi: {base_url: 'https://me:pw@api.example.com/v2'}\n", []string{"api.base_url", "user name or password"}},
		{"query in base_url", "till_id: t\napi: {base_url: 'https://api.example.com/v2?key=1'}\n", []string{"api.base_url", "query or fragment"}},
		{"fragment in base_url", "till_id: t\napi: {base_url: 'https://api.example.com/v2#x'}\n", []string{"api.base_url", "query or fragment"}},
		{"bad hex", "till_id: t\nscanners:\n  - {type: stdin, feedback: {good: 'zz'}}\n", []string{"not hex"}},
		{"in_flight negative", "till_id: t\nworker: {in_flight: -1}\n", []string{"worker.in_flight", "1 to 64"}},
		{"in_flight past the bound", "till_id: t\nworker: {in_flight: 1000}\n", []string{"line 2: worker.in_flight", "1 to 64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse(%q) = nil error", tt.src)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%q) error lacks %q:\n%v", tt.src, w, err)
				}
			}
		})
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	c, err := Load("../../../configs/tillscan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Scanners) == 0 || len(c.Rules) != 8 || len(c.Modes) == 0 {
		t.Fatalf("example config should show scanners, all 8 card types and modes: %+v", c)
	}
}

func TestAPIKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := write("key", "file-key\n", 0o600)
	credDir := filepath.Join(dir, "creds")
	os.Mkdir(credDir, 0o700)
	write("creds/api-key", "cred-key", 0o600)
	multi := write("multi", "a\nb", 0o600)
	nonASCII := write("non-ascii", "clé-secrète", 0o600)
	readable := write("readable", "file-key", 0o644)
	writable := write("writable", "file-key", 0o666)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(keyFile, link); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge")
	if f, err := os.Create(huge); err != nil {
		t.Fatal(err)
	} else {
		f.Truncate(200 << 20) // a sparse 200 MB file
		f.Close()
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name    string
		keyFile string
		env     map[string]string
		want    string
		warn    string // in the one warning, if any
		wantErr string
	}{
		{"env wins", keyFile, map[string]string{"TILLSCAN_API_KEY": "env-key", "CREDENTIALS_DIRECTORY": credDir}, "env-key", "", ""},
		{"credential next", keyFile, map[string]string{"CREDENTIALS_DIRECTORY": credDir}, "cred-key", "", ""},
		{"file last", keyFile, nil, "file-key", "", ""},
		{"none", "", nil, "", "", "api.key_file"},
		{"missing file", filepath.Join(dir, "nope"), nil, "", "", "no such file"},
		{"two lines", multi, nil, "", "", "line break"},
		{"non-ASCII key refused as run would", nonASCII, nil, "", "", "non-ASCII"},
		{"readable by others warns", readable, nil, "file-key", "readable by others", ""},
		{"world-writable refused", writable, nil, "", "", "changed by anyone"},
		{"symlink warns", link, nil, "file-key", "symlink", ""},
		{"device refused", "/dev/zero", nil, "", "", "not a regular file"},
		{"fifo refused without blocking", fifo, nil, "", "", "not a regular file"},
		{"huge file refused", huge, nil, "", "", "right file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Config{API: API{KeyFile: tt.keyFile}}
			got, err := c.APIKey(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrNoKey) {
					t.Fatalf("APIKey() error = %v, want ErrNoKey mentioning %q", err, tt.wantErr)
				}
				for _, secret := range []string{"a\nb", "clé"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("APIKey() error leaks the file's content: %v", err)
					}
				}
				return
			}
			if err != nil || got.Key != tt.want {
				t.Fatalf("APIKey() = %q, %v; want %q", got.Key, err, tt.want)
			}
			switch {
			case tt.warn == "" && len(got.Warnings) > 0:
				t.Fatalf("unexpected warnings %q", got.Warnings)
			case tt.warn != "" && (len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], tt.warn)):
				t.Fatalf("warnings %q, want one about %q", got.Warnings, tt.warn)
			}
		})
	}
}

// TestLoadHostile: small hostile config files are refused with a clear
// error instead of running tillscan out of memory or blocking it.
func TestLoadHostile(t *testing.T) {
	dir := t.TempDir()
	var bomb strings.Builder
	bomb.WriteString("till_id: t\nx0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		p := "*x" + string(rune('0'+i-1))
		bomb.WriteString("x" + string(rune('0'+i)) + ": &x" + string(rune('0'+i)) + " [" + strings.TrimSuffix(strings.Repeat(p+", ", 9), ", ") + "]\n")
	}
	bomb.WriteString("comment: *x9\n")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"billion laughs", write("bomb.yaml", bomb.String()), "aliases expand too far"},
		{"nested brackets", write("nested.yaml", "till_id: t\ncomment: "+strings.Repeat("[", 200_000)), "nested too deeply"},
		{"too large", write("large.yaml", "till_id: t\ncomment: "+strings.Repeat("x", 2<<20)), "too large"},
		{"device", "/dev/zero", "not a regular file"},
		{"fifo", fifo, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("Load = %v, want an error naming the file and saying %q", err, tt.want)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"plain http", "api: {base_url: 'http://api.example.com/v2'}", "travels in clear"},
		{"pattern matches anything", "card_pattern: '.*'", "matches almost any text"},
		{"pattern matches one letter", "card_pattern: '[a-z]+'", "matches almost any text"},
		{"pattern group not named card", `card_pattern: 'card=(\d{6}-\d{3}-\d{3})'`, "(?P<card>"},
		{"obsolete on_rejected drop", "worker: {on_rejected: drop}", "always happens now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte("till_id: t\n"+tt.src+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], tt.want) {
				t.Fatalf("Warnings = %q, want one saying %q", w, tt.want)
			}
		})
	}
	for _, ok := range []string{"worker: {on_rejected: park}", "api: {base_url: 'http://127.0.0.1:8080/api/v2'}", `card_pattern: '(?P<card>\d{6}-\d{3}-\d{3})'`, ""} {
		c, err := Parse("t.yaml", []byte("till_id: t\n"+ok+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if w := c.Warnings(); len(w) != 0 {
			t.Errorf("%q: unexpected warnings %q", ok, w)
		}
	}
}
