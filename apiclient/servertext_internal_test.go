package apiclient

import (
	"errors"
	"net"
	"os"
	"strings"
	"testing"
)

func TestRedactKey(t *testing.T) {
	const key = "tk-SECRET-9f8e7d6c5b4a"
	tests := []struct {
		name, key, in, want string
	}{
		{"exact", key, "bad key tk-SECRET-9f8e7d6c5b4a!", "bad key [redacted]!"},
		{"truncated head", key, "bad key tk-SECRET-9f…", "bad key [redacted]…"},
		{"truncated tail", key, "key ends 8e7d6c5b4a.", "key ends [redacted]."},
		{"lower-cased", key, "key=tk-secret-9f8e7d6c5b4a", "key=[redacted]"},
		{"upper-cased", key, "KEY=TK-SECRET-9F8E7D6C5B4A", "KEY=[redacted]"},
		{"mixed case", key, "Tk-SeCrEt-9F8e", "[redacted]"},
		{"exactly 8 shared", key, "x 9f8e7d6c y", "x [redacted] y"},
		{"7 shared stays", key, "x 9f8e7d6 y", "x 9f8e7d6 y"},
		{"two pieces", key, "a tk-SECRET and 7d6c5b4a b", "a [redacted] and [redacted] b"},
		{"overlapping windows one run", key, "tk-SECRET-9f8e7d6c5b4atk-SECRET", "[redacted]"},
		{"reordered halves", key, "9f8e7d6c5b4atk-SECRET-", "[redacted]"},
		{"nothing shared", key, "Invalid API key", "Invalid API key"},
		{"short key whole", "ab12x", "key AB12X refused", "key [redacted] refused"},
		{"short key partial stays", "ab12x", "key AB12 refused", "key AB12 refused"},
		{"empty key", "", "anything at all", "anything at all"},
		{"invalid UTF-8 around", key, "\xff\xfetk-secret-9f8e\xff", "\xff\xfe[redacted]\xff"},
		{"text shorter than a run", key, "tk-", "tk-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactKey(tt.in, tt.key); got != tt.want {
				t.Errorf("redactKey(%q) = %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	const key = "tk-SECRET-9f8e7d6c5b4a"
	tests := []struct {
		name, body, want string
	}{
		{"message", `{"code":401,"message":"Invalid API key tk-secret-9f8e7d6c5b4a"}`, "Invalid API key [redacted]"},
		{"message list", `{"message":["amount must be an integer","key TK-SECRET-9F8E is wrong"]}`, "amount must be an integer; key [redacted] is wrong"},
		{"error string", `{"error":"Card not found"}`, "Card not found"},
		{"error object", `{"error":{"code":"auth","message":"no such key 7d6c5b4a-x tk-SECRET"}}`, "no such key [redacted]-x [redacted]"},
		{"detail", `{"type":"about:blank","title":"Unauthorized","detail":"key …7d6c5b4a revoked"}`, "key …[redacted] revoked"},
		{"title only", `{"title":"Unprocessable Entity"}`, "Unprocessable Entity"},
		{"number detail does not hide message", `{"message":"Card not found","detail":42}`, "Card not found"},
		{"JSON inside the message", `{"message":"{\"apiKey\":\"tk-SECRET-9f8e7d6c5b4a\"}"}`, `{"apiKey":"[redacted]"}`},
		{"escaped key", `{"message":"key \u0074\u006b-SECRET-9f8e7d"}`, "key [redacted]"},
		{"control characters", "{\"message\":\"line1\\nline2\\u202e\\u0000end\"}", "line1 line2  end"},
		{"not JSON", `<html>key tk-SECRET-9f8e7d6c5b4a</html>`, ""},
		{"empty", ``, ""},
		{"long", `{"message":"` + strings.Repeat("é", 400) + `"}`, strings.Repeat("é", maxMessageRunes) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorMessage([]byte(tt.body), key); got != tt.want {
				t.Errorf("errorMessage(%s) = %q; want %q", tt.body, got, tt.want)
			}
		})
	}
}

// A key with a space inside, echoed with a control character or an invalid
// byte where the space is: the cleaning turns that byte into a space, so the
// key must be removed after it, not before (FuzzErrorMessage found it).
func TestErrorMessage_SpaceMadeByCleaning(t *testing.T) {
	const key = "abc defgh" // every 8-byte piece holds the space
	for _, body := range []string{
		"{\"message\":\"key abc\u0007defgh refused\"}",
		"{\"message\":\"key abc\xcbdefgh refused\"}",
	} {
		if got := errorMessage([]byte(body), key); strings.Contains(strings.ToLower(got), "c defg") {
			t.Errorf("errorMessage(%q) = %q: holds the key", body, got)
		}
	}
}

// A scrubbed error keeps what errors.Is matched, but not the raw text.
func TestScrub(t *testing.T) {
	const key = "tk-SECRET-9f8e7d6c5b4a"
	raw := &net.OpError{Op: "read", Net: "tcp", Err: errors.New(`malformed HTTP status code "TK-SECRET-9F8E7D6C"`)}
	wrapped := &os.PathError{Op: "x", Path: "y", Err: os.ErrDeadlineExceeded}
	for _, err := range []error{raw, errors.Join(raw, wrapped)} {
		got := scrub(err, key)
		if strings.Contains(strings.ToLower(got.Error()), "secret") {
			t.Errorf("scrub(%v) = %q; want the key removed", err, got)
		}
		if _, ok := errors.AsType[*net.OpError](got); ok {
			t.Errorf("errors.As reaches the raw error through scrub(%v)", err)
		}
	}
	if got := scrub(errors.Join(raw, wrapped), key); !errors.Is(got, os.ErrDeadlineExceeded) {
		t.Errorf("scrub() = %v; want it to match os.ErrDeadlineExceeded still", got)
	}
	if got := scrub(wrapped, key); got != wrapped {
		t.Errorf("scrub(clean error) = %#v; want it returned as is", got)
	}
	if scrub(nil, key) != nil {
		t.Error("scrub(nil) != nil")
	}
}
