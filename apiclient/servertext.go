package apiclient

import (
	"encoding/json"
	"errors"
	"strings"
	"unicode"
)

// Text from the server (an error's message, bytes quoted in a decoding or
// transport error) leaves the Client only through the functions below, so
// it never carries the API key, even echoed in part or in another case, and
// it stays one short printable line.

// minSharedRun is the shortest run of characters shared with the key that is
// removed from server text. Shorter runs (a word like "invalid" inside a
// key) are too likely to be chance; a key shorter than this is removed
// whole.
const minSharedRun = 8

// maxMessageRunes bounds a message kept from the server.
const maxMessageRunes = 300

// redactKey returns s with every run of at least min(minSharedRun,
// len(key)) bytes that also occurs in key, compared ignoring ASCII case,
// replaced by "[redacted]" (overlapping and adjacent runs become one).
// A key a server truncated, lower-cased, upper-cased or split is caught this
// way wherever a long enough piece of it shows.
func redactKey(s, key string) string {
	n := min(minSharedRun, len(key))
	if n == 0 || len(s) < n {
		return s
	}
	lk := lowerASCII(key)
	pieces := make(map[string]struct{}, len(lk)-n+1)
	for i := 0; i+n <= len(lk); i++ {
		pieces[lk[i:i+n]] = struct{}{}
	}
	ls := lowerASCII(s) // byte for byte aligned with s
	// Every shared run of length >= n is the union of its n-byte windows,
	// each of which is a piece of the key.
	hide := make([]bool, len(s))
	found := false
	for i := 0; i+n <= len(ls); i++ {
		if _, ok := pieces[ls[i:i+n]]; ok {
			for j := i; j < i+n; j++ {
				hide[j] = true
			}
			found = true
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case !hide[i]:
			b.WriteByte(s[i])
		case i == 0 || !hide[i-1]:
			b.WriteString(redacted)
		}
	}
	return b.String()
}

// lowerASCII lower-cases ASCII letters only, byte by byte, so the result's
// bytes line up with s's whatever s holds (invalid UTF-8 included).
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// cleanMessage makes server text safe to keep and show: control and
// bidirectional-override characters (and invalid UTF-8) turned into spaces,
// the key removed (see redactKey), at most maxMessageRunes runes, trimmed.
// The two steps can feed each other: a space made from a byte the server
// sent can complete a run of a key that has spaces in it, and removing a run
// a non-ASCII key shares can cut a character in half. So both repeat until
// neither changes the text (found by FuzzErrorMessage); text that does not
// settle is dropped whole rather than kept with a piece of the key.
func cleanMessage(msg, key string) string {
	settled := false
	for range 8 {
		next := redactKey(printable(msg), key)
		if next == msg {
			settled = true
			break
		}
		msg = next
	}
	if !settled {
		return redacted
	}
	if r := []rune(msg); len(r) > maxMessageRunes {
		msg = string(r[:maxMessageRunes]) + "…"
	}
	return strings.TrimSpace(msg)
}

// printable turns control and bidirectional-override characters, and
// invalid UTF-8, into spaces.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, s)
}

// errorMessage extracts the API's message from an error body: "message"
// (a string, or a list of strings as some frameworks send), else "error" (a
// string, or an object with a "message"), "detail" or "title" (RFC 9457).
// It is cleaned by cleanMessage; a body that is not a JSON object gives "".
func errorMessage(body []byte, key string) string {
	var m struct {
		Message any `json:"message"`
		Error   any `json:"error"`
		Detail  any `json:"detail"`
		Title   any `json:"title"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	msg := text(m.Message)
	if msg == "" {
		msg = text(m.Error)
	}
	if msg == "" {
		msg = text(m.Detail)
	}
	if msg == "" {
		msg = text(m.Title)
	}
	return cleanMessage(msg, key)
}

// text is the human text in a decoded JSON value: a string, strings in a
// list joined by "; ", or an object's "message".
func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		var parts []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "; ")
	case map[string]any:
		if s, ok := v["message"].(string); ok {
			return s
		}
	}
	return ""
}

// redactedError carries an error whose text held server bytes, with that
// text cleaned. It matches what the original matched under
// errors.Is (a timeout, a cancelled context), but errors.As cannot reach the
// original and its raw text.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is reports whether the original error matches target.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// Timeout reports whether the original error was a timeout, as net.Error
// does.
func (e *redactedError) Timeout() bool {
	var t interface{ Timeout() bool }
	return errors.As(e.err, &t) && t.Timeout()
}

// scrub returns err with its text cleaned like a server message (the key
// removed, one short printable line; see cleanMessage): decoding and
// transport errors quote what the server sent. An error whose text needs
// no cleaning is returned as is.
func scrub(err error, key string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if clean := cleanMessage(msg, key); clean != msg {
		return &redactedError{msg: clean, err: err}
	}
	return err
}
