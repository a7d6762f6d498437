package apiclient

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rs/zerolog"
)

// The fuzz targets of everything that decodes server bytes. Run one for
// longer with, e.g.:
//
//	go test -run '^$' -fuzz '^FuzzAnswer$' -fuzztime 5m ./apiclient/
//
// Without -fuzz, go test runs each target over its seed corpus only.

const fuzzKey = "tk-SECRET-9f8e7d6c5b4a"

var outcomeClasses = []error{ErrNotSent, ErrRateLimited, ErrRejected, ErrUnauthorized, ErrAmbiguous}

// leakedRun returns a window of min(8, len(key)) bytes of s that also occurs
// in key (ignoring ASCII case) and does not touch a "[redacted]" the
// redaction put there, or "" if there is none. Apart from lowerASCII it is
// written independently of redactKey.
func leakedRun(s, key string) string {
	n := min(minSharedRun, len(key))
	if n == 0 {
		return ""
	}
	marked := make([]bool, len(s))
	for i := 0; ; {
		j := strings.Index(s[i:], redacted)
		if j < 0 {
			break
		}
		for k := i + j; k < i+j+len(redacted); k++ {
			marked[k] = true
		}
		i += j + 1
	}
	// The promise is ASCII case-insensitivity (keys are ASCII; see CheckKey).
	ls, lk := lowerASCII(s), lowerASCII(key)
	for i := 0; i+n <= len(ls); i++ {
		if !strings.Contains(lk, ls[i:i+n]) {
			continue
		}
		touches := false
		for k := i; k < i+n; k++ {
			touches = touches || marked[k]
		}
		if !touches {
			return s[i : i+n]
		}
	}
	return ""
}

// checkServerText fails unless s is safe server text: no piece of key, one
// line of printable text, bounded.
func checkServerText(t *testing.T, what, s, key string) {
	t.Helper()
	if run := leakedRun(s, key); run != "" {
		t.Fatalf("%s %q holds %q of the key %q", what, s, run, key)
	}
	if !utf8.ValidString(s) {
		t.Fatalf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			t.Fatalf("%s %q holds the control character %U", what, s, r)
		}
	}
}

func FuzzRedactKey(f *testing.F) {
	f.Add("Invalid API key tk-SECRET-9f8e7d6c5b4a", fuzzKey)
	f.Add("key TK-SECRET-9F… is not valid", fuzzKey)
	f.Add(`{"x-api-key":"tk-secret-9f8e7d6c5b4a"}`, fuzzKey)
	f.Add("9f8e7d6c5b4a and tk-SECRET", fuzzKey)
	f.Add("key AB12X refused", "ab12x")
	f.Add("aaaaaaaaaaaaaaaaaaaa", "aaaaaaaaa")
	f.Add("[redacted][redacted]", "[redacted]x")
	f.Add("\xff\xfetk-secret-9f8e\xff", fuzzKey)
	f.Fuzz(func(t *testing.T, s, key string) {
		got := redactKey(s, key)
		if run := leakedRun(got, key); run != "" {
			t.Fatalf("redactKey(%q, %q) = %q holds %q of the key", s, key, got, run)
		}
		if leakedRun(s, key) == "" && !strings.Contains(s, redacted) && got != s {
			t.Fatalf("redactKey(%q, %q) = %q; want it unchanged (nothing shared)", s, key, got)
		}
	})
}

func FuzzErrorMessage(f *testing.F) {
	for _, b := range []string{
		`{"code":401,"message":"Invalid API key"}`,
		`{"code":400,"message":"Irrelevant accrual type"}`,
		`{"code":404,"message":"Card not found"}`,
		`{"message":["amount must be an integer","key TK-SECRET-9F8E is wrong"]}`,
		`{"error":{"code":"auth","message":"no such key 7d6c5b4a"}}`,
		`{"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"stamps: This value should be positive."}`,
		`{"message":"line1\nline2\u202e\u0000end"}`,
		`<html><body><h1>502 Bad Gateway</h1></body></html>`,
		`{"message":"` + strings.Repeat("é", 400) + `"}`,
		`{"message":null,"error":42,"detail":[1,"x"],"title":{}}`,
		``,
	} {
		f.Add([]byte(b), fuzzKey)
	}
	f.Add([]byte(`{"message":"key ab12x"}`), "AB12X")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		if CheckKey(key) != nil {
			return // the client never sends with such a key, so no server text meets it
		}
		msg := errorMessage(body, key)
		checkServerText(t, "errorMessage", msg, key)
		if n := utf8.RuneCountInString(msg); n > maxMessageRunes+1 {
			t.Fatalf("errorMessage is %d runes; want at most %d", n, maxMessageRunes+1)
		}
	})
}

func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC).Unix()
	for _, s := range [][2]string{
		{"7", ""}, {"0", ""}, {"-3", ""}, {"1.5", ""}, {"soon", ""}, {"", ""},
		{"99999999999999999999999", ""}, {"  12  ", ""}, {"+5", ""}, {"0x10", ""},
		{"Wed, 25 Nov 2026 12:00:30 GMT", "Wed, 25 Nov 2026 12:00:00 GMT"},
		{"Wednesday, 25-Nov-26 12:00:10 GMT", "Wed, 25 Nov 2026 12:00:00 GMT"},
		{"Wed Nov 25 12:00:20 2026", "Wed, 25 Nov 2026 12:00:00 GMT"},
		{"Wed, 25 Nov 2026 11:59:00 GMT", "Wed, 25 Nov 2026 12:00:00 GMT"},
		{"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT"},
		{"Wed, 25 Nov 2026 12:00:30 GMT", "garbage"},
	} {
		f.Add(s[0], s[1], now)
	}
	f.Fuzz(func(t *testing.T, value, date string, unix int64) {
		h := http.Header{}
		if value != "" {
			h.Set("Retry-After", value)
		}
		if date != "" {
			h.Set("Date", date)
		}
		nowT := time.Unix(unix, 0)
		d, ok := parseRetryAfter(h, nowT)
		switch {
		case d < 0:
			t.Fatalf("parseRetryAfter(%q, Date %q) = %v; want never negative", value, date, d)
		case !ok && d != 0:
			t.Fatalf("parseRetryAfter(%q) = %v, false; want 0 when not ok", value, d)
		}
		v := strings.TrimSpace(h.Get("Retry-After"))
		if secs, err := strconv.ParseUint(v, 10, 63); err == nil && secs < 1<<33 {
			if !ok || d != time.Duration(secs)*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %v, %v; want %ds", value, d, ok, secs)
			}
		}
		// However absurd the header, the Client pauses within its cap.
		c := fuzzClient(t)
		before := time.Now()
		pause, _ := c.rateLimited(h, before, 0)
		if pause < 0 || pause > c.retryAfterCap {
			t.Fatalf("rateLimited(%q) paused %v; want within [0, %v]", value, pause, c.retryAfterCap)
		}
		if until := c.Status().PausedUntil; until.After(before.Add(c.retryAfterCap)) {
			t.Fatalf("rateLimited(%q): paused until %v; want at most the cap from now", value, until)
		}
	})
}

func fuzzClient(t *testing.T) *Client {
	c, err := New(Config{BaseURL: "http://127.0.0.1:1/api/v2", APIKey: fuzzKey}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// FuzzAnswer feeds arbitrary answers (status, Retry-After, body) to the
// decoder of each kind of call (a card, a list with paging, a push, no
// data): nil or exactly one outcome class, never a
// panic, nothing of the key in the error, Retry-After within its cap.
func FuzzAnswer(f *testing.F) {
	card := `{"id":"544256-439-856","templateId":11,"companyId":3,"customerId":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b","type":"stamp","status":"installed","balance":{"balance":null,"bonusBalance":null,"currentNumberOfUses":7,"numberStampsTotal":10,"stampsBeforeReward":3,"numberRewardsUnused":0},"availableRewardTiers":[],"couponRedeemed":false,"countVisits":null,"customFields":[],"expiresAt":null}`
	ops := `[{"id":1001,"cardId":"544256-439-856","templateId":11,"eventId":1,"amount":1,"balance":8,"purchaseSum":null,"source":"api","comment":"tillscan:till-1:42","createdAt":"2026-11-25T12:00:00+00:00"}]`
	for _, s := range []struct {
		status      int
		retry, body string
	}{
		{200, "", `{"responseId":"r-1","createdAt":"2026-11-25T12:00:00+00:00","code":200,"data":` + card + `}`},
		{200, "", `{"responseId":"r-2","code":200,"data":` + ops + `,"meta":{"currentPage":1,"itemsPerPage":100,"totalItems":1}}`},
		{200, "", `{"code":400,"message":"Irrelevant accrual type"}`},
		{200, "", `{"code":429,"message":"Too many requests"}`},
		{200, "", `{"code":200,"data":{"id":"544256-439-856","type":"tk-secret-9f8e7d6c5b4a"}}`},
		{200, "", `{"code":200,"data":{"type":99}}`},
		{200, "", `{"code":200,"data":null}`},
		{200, "", `{"code":200,"data":`},
		{204, "", ``},
		{401, "", `{"code":401,"message":"Invalid API key tk-SECRET-9f8e7d6c5b4a"}`},
		{403, "", `{"message":"Forbidden"}`},
		{404, "", `{"code":404,"message":"Card not found"}`},
		{409, "", `{"code":409,"message":"visit has already been registered"}`},
		{422, "", `{"type":"about:blank","title":"Unprocessable Entity","detail":"stamps: must be positive"}`},
		{429, "2", `{"code":429,"message":"Too many requests"}`},
		{429, "Wed, 25 Nov 2026 12:00:30 GMT", ``},
		{429, "99999999999999999999", ``},
		{500, "", `{"code":500,"message":"Internal Server Error"}`},
		{502, "", `<html><body><h1>502 Bad Gateway</h1></body></html>`},
		{503, "30", `<html>Service Unavailable</html>`},
		{303, "", ``},
		{100, "", ``},
		{200, "", `{"code":200,"data":{"id":12,"templateId":11,"cardId":null,"message":"Double stamps today","status":"sent"}}`},
		{200, "", `{"code":200,"data":{"id":"p-12","templateId":11}}`},
		{200, "", `{"code":200,"data":{"id":1.5e300}}`},
	} {
		for kind := range byte(4) {
			f.Add(uint16(s.status), s.retry, []byte(s.body), kind)
		}
	}
	f.Fuzz(func(t *testing.T, status uint16, retryAfter string, body []byte, kind byte) {
		code := 100 + int(status)%500 // 100..599
		c := fuzzClient(t)
		cl := &call{op: "fuzz", needData: true}
		switch kind % 4 {
		case 0:
			cl.out = &Card{}
		case 1:
			cl.out, cl.meta, cl.needData = &[]Operation{}, &Meta{}, false
		case 2:
			cl.out = &Push{} // its id decodes from a string or a number
		}
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		resp := &http.Response{StatusCode: code, Header: h, Body: io.NopCloser(bytes.NewReader(body))}
		before := time.Now()
		err := c.answer(cl, resp, 1, fuzzKey, 1)
		if err == nil {
			if code < 200 || code > 299 {
				t.Fatalf("HTTP %d %q: nil error; want an outcome class", code, body)
			}
			return
		}
		n := 0
		for _, class := range outcomeClasses {
			if errors.Is(err, class) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("HTTP %d %q: %v matches %d outcome classes; want exactly 1", code, body, err, n)
		}
		if errors.Is(err, ErrBadResponse) && !errors.Is(err, ErrAmbiguous) {
			t.Fatalf("HTTP %d: %v is a bad response but not ambiguous", code, err)
		}
		checkServerText(t, "error", err.Error(), fuzzKey)
		if se, ok := errors.AsType[*StatusError](err); ok {
			checkServerText(t, "message", se.Message, fuzzKey)
			if se.RetryAfter < 0 || se.RetryAfter > c.retryAfterCap {
				t.Fatalf("HTTP %d Retry-After %q: RetryAfter = %v; want within [0, %v]", code, retryAfter, se.RetryAfter, c.retryAfterCap)
			}
			if se.Class != classify(se.Status) && !(se.Class == ErrAmbiguous && se.Status == http.StatusTooManyRequests) {
				t.Fatalf("HTTP %d: class %v for status %d; want %v", code, se.Class, se.Status, classify(se.Status))
			}
		}
		if until := c.Status().PausedUntil; until.After(time.Now().Add(c.retryAfterCap)) || !until.IsZero() && until.Before(before) {
			t.Fatalf("HTTP %d Retry-After %q: paused until %v; want within the cap", code, retryAfter, until)
		}
	})
}
