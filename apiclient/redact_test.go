package apiclient_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/internal/logtest"
)

var verbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%T %v", "%10v"}

// The key never shows when a Config or Client is printed or marshalled.
func TestRedaction_Printing(t *testing.T) {
	cfg := apiclient.Config{BaseURL: "http://127.0.0.1:1/api/v2", APIKey: testKey, HTTPClient: &http.Client{}}
	c, err := apiclient.New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{cfg, &cfg, c, []any{cfg, c}, map[string]any{"cfg": cfg}, struct{ C *apiclient.Client }{c}} {
		for _, verb := range verbs {
			s := fmt.Sprintf(verb, v)
			noKey(t, fmt.Sprintf("Sprintf(%q, %T)", verb, v), s)
			if strings.Contains(s, fmt.Sprintf("%x", testKey)) {
				t.Errorf("Sprintf(%q, %T) contains the key in hex", verb, v)
			}
		}
	}
	if s := fmt.Sprintf("%v", cfg); !strings.Contains(s, "[redacted]") || !strings.Contains(s, "127.0.0.1") {
		t.Errorf("Config prints as %s; want the base URL and [redacted]", s)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("json.Marshal(Config) = %v", err)
	}
	noKey(t, "json", string(b))
	logs := &logtest.Buffer{}
	log := zerolog.New(logs)
	log.Info().Interface("cfg", cfg).Interface("client", c).Str("s", fmt.Sprint(c)).Msg("x")
	noKey(t, "zerolog", logs.String())
	// An empty key stays visibly empty, so a missing key is easy to spot.
	if s := fmt.Sprint(apiclient.Config{}); strings.Contains(s, "[redacted]") {
		t.Errorf("empty Config prints %s; want no [redacted] for an empty key", s)
	}
}

// The key never shows in errors or logs, whatever the failure — including a
// server that echoes it back in its message or headers.
func TestRedaction_Failures(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-Api-Key")
		w.Header().Set("X-Echo", key)
		switch strings.TrimPrefix(strings.TrimSuffix(r.URL.Path, "/add-stamp"), "/api/v2/cards/") {
		case "100000-000-401":
			apiError(w, 401, "key "+key+" is not valid")
		case "100000-000-422":
			apiError(w, 422, "bad request for key="+key)
		case "100000-000-500":
			w.WriteHeader(500)
			fmt.Fprintf(w, "panic: key %s", key)
		case "100000-000-429":
			w.Header().Set("Retry-After", key)
			apiError(w, 429, key)
		default:
			w.WriteHeader(200)
			fmt.Fprintf(w, `{"data": "%s"`, key)
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/api/v2"
	ln.Close()

	for _, base := range []string{f.base(), refused} {
		c, logs := newClient(t, base, func(cfg *apiclient.Config) { cfg.Tries = 2; cfg.Timeout = time.Second })
		for _, card := range []string{"100000-000-422", "100000-000-500", "100000-000-429", "100000-000-200", "100000-000-401", "100000-000-422"} {
			_, err := c.Apply(t.Context(), stamp(card))
			if err == nil {
				t.Fatalf("Apply(%s) = nil error", card)
			}
			for _, verb := range verbs {
				noKey(t, "error "+verb, fmt.Sprintf(verb, err))
			}
		}
		noKey(t, "log", logs.String())
		noKey(t, "client", fmt.Sprintf("%+v %#v", c, c))
	}

	// Config errors do not quote the key either.
	for _, cfg := range []apiclient.Config{
		{BaseURL: "ftp://x", APIKey: testKey},
		{BaseURL: "http://user:" + testKey + "@host/api/v2", APIKey: testKey},
		{BaseURL: "http://127.0.0.1/api/v2", APIKey: testKey, RateLimit: -1},
	} {
		_, err := apiclient.New(cfg, zerolog.Nop())
		if err == nil {
			t.Fatalf("New(%v) = nil error", cfg)
		}
		noKey(t, "New error", err.Error())
	}
}

func TestNew_BadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  apiclient.Config
	}{
		{"no base URL", apiclient.Config{APIKey: testKey}},
		{"relative base URL", apiclient.Config{BaseURL: "/api/v2", APIKey: testKey}},
		{"ftp", apiclient.Config{BaseURL: "ftp://host/api/v2", APIKey: testKey}},
		{"credentials in URL", apiclient.Config{BaseURL: "https://u:p@host/api/v2", APIKey: testKey}},
		{"query in URL", apiclient.Config{BaseURL: "https://host/api/v2?x=1", APIKey: testKey}},
		{"negative rate", apiclient.Config{BaseURL: "https://host/api/v2", RateLimit: -1}},
		{"negative timeout", apiclient.Config{BaseURL: "https://host/api/v2", Timeout: -time.Second}},
		{"negative tries", apiclient.Config{BaseURL: "https://host/api/v2", Tries: -1}},
		{"headroom 1", apiclient.Config{BaseURL: "https://host/api/v2", Headroom: 1}},
		{"infinite rate", apiclient.Config{BaseURL: "https://host/api/v2", RateLimit: math.Inf(1)}},
		{"NaN rate", apiclient.Config{BaseURL: "https://host/api/v2", RateLimit: math.NaN()}},
		{"NaN headroom", apiclient.Config{BaseURL: "https://host/api/v2", Headroom: math.NaN()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := apiclient.New(tt.cfg, zerolog.Nop()); err == nil {
				t.Errorf("New(%v) = %v, nil; want an error", tt.cfg, c)
			}
		})
	}
	if _, err := apiclient.New(apiclient.Config{BaseURL: "https://api.highlightcards.co.uk/api/v2/"}, zerolog.Nop()); err != nil {
		t.Errorf("New(minimal config) = %v; want nil (a missing key is reported per call)", err)
	}
}

// A panic carrying a Config or Client prints it through String: no key.
// The panic happens in a child process (this test binary, re-run).
func TestRedaction_Panic(t *testing.T) {
	if os.Getenv("APICLIENT_PANIC_CHILD") != "" {
		cfg := apiclient.Config{BaseURL: "http://127.0.0.1:1/api/v2", APIKey: testKey}
		if os.Getenv("APICLIENT_PANIC_CHILD") == "client" {
			c, _ := apiclient.New(cfg, zerolog.Nop())
			panic(c)
		}
		panic(cfg)
	}
	for _, what := range []string{"config", "client"} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRedaction_Panic$")
		cmd.Env = append(os.Environ(), "APICLIENT_PANIC_CHILD="+what)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "panic:") {
			t.Fatalf("child did not panic: %v\n%s", err, out)
		}
		noKey(t, "panic output", string(out))
		if !strings.Contains(string(out), "[redacted]") {
			t.Errorf("panic output lacks [redacted]:\n%s", out)
		}
	}
}

// sharedRun returns a run of at least min(8, len(key)) characters of key that
// s contains, ignoring case, or "" if there is none.
func sharedRun(s, key string) string {
	n := min(8, len(key))
	ls, lk := strings.ToLower(s), strings.ToLower(key)
	for i := 0; n > 0 && i+n <= len(lk); i++ {
		if strings.Contains(ls, lk[i:i+n]) {
			return key[i : i+n]
		}
	}
	return ""
}

// A server echoing the key in part, in another case or in pieces: nothing
// of 8 characters or more of it leaves the client, in the error, the
// StatusError's message, Status() or the log, whatever the status.
func TestRedaction_PartialEchoes(t *testing.T) {
	const short = "Ab3x9"
	tests := []struct {
		name string
		key  string
		body func(key string) string // the error body; the key as sent is passed in
		keep string                  // server text that must survive
	}{
		{"exact", testKey, func(k string) string { return `{"message":"Invalid API key ` + k + `"}` }, "Invalid API key"},
		{"truncated", testKey, func(k string) string { return `{"message":"Invalid API key ` + k[:12] + `…"}` }, "Invalid API key"},
		{"tail only", testKey, func(k string) string { return `{"message":"key …` + k[len(k)-9:] + ` revoked"}` }, "revoked"},
		{"lower-cased", testKey, func(k string) string { return `{"message":"unknown key ` + strings.ToLower(k) + `"}` }, "unknown key"},
		{"upper-cased", testKey, func(k string) string { return `{"message":"UNKNOWN KEY ` + strings.ToUpper(k) + `"}` }, "UNKNOWN KEY"},
		{"embedded in JSON", testKey, func(k string) string {
			inner, _ := json.Marshal(map[string]string{"x-api-key": strings.ToLower(k)})
			b, _ := json.Marshal(map[string]string{"message": "request headers: " + string(inner)})
			return string(b)
		}, "request headers"},
		{"nested error object", testKey, func(k string) string { return `{"error":{"message":"key ` + k[3:] + ` is disabled"}}` }, "is disabled"},
		{"split across fields", testKey, func(k string) string {
			return `{"message":["key starts ` + k[:11] + `","key ends ` + k[11:] + `"],"detail":"` + k + `"}`
		}, "key starts"},
		{"split by a newline", testKey, func(k string) string { return `{"message":"` + k[:10] + `\n` + k[10:] + `"}` }, ""},
		{"short key", short, func(k string) string { return `{"message":"key ` + strings.ToLower(k) + ` not found"}` }, "not found"},
	}
	for _, status := range []int{401, 422} {
		for _, tt := range tests {
			t.Run(fmt.Sprint(status, " ", tt.name), func(t *testing.T) {
				f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(status)
					fmt.Fprint(w, tt.body(r.Header.Get("X-Api-Key")))
				})
				c, logs := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.APIKey = tt.key })
				_, err := c.Apply(t.Context(), stamp("544256-439-856"))
				se, ok := errors.AsType[*apiclient.StatusError](err)
				if !ok {
					t.Fatalf("err = %v; want a *StatusError", err)
				}
				if !strings.Contains(se.Message, tt.keep) {
					t.Errorf("Message = %q; want it to keep %q", se.Message, tt.keep)
				}
				_, again := c.GetCard(t.Context(), "544256-439-856") // after a 401: refused without sending
				outputs := map[string]string{
					"Message": se.Message, "error": err.Error(), "error %+v": fmt.Sprintf("%+v %#v", err, err),
					"second error": fmt.Sprint(again), "Status": fmt.Sprint(c.Status().Refused), "log": logs.String(),
				}
				for what, s := range outputs {
					if run := sharedRun(s, tt.key); run != "" {
						t.Errorf("%s holds %q of the key: %s", what, run, s)
					}
				}
			})
		}
	}
}

// Decoding and transport errors quote what the server sent: the key is
// removed from them too.
func TestRedaction_ServerBytesInErrors(t *testing.T) {
	lower := strings.ToLower(testKey)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v2/cards/100000-000-001": // a card type the client cannot decode
			envelope(w, 200, map[string]any{"id": "100000-000-001", "type": lower}, nil)
		case "/api/v2/cards/100000-000-002": // the same as a number-like id
			envelope(w, 200, map[string]any{"id": "100000-000-002", "type": map[string]string{"k": lower}}, nil)
		default: // a malformed status line, straight on the connection
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			buf.WriteString("HTTP/1.1 " + strings.ToUpper(testKey) + " Unauthorized\r\n\r\n")
			buf.Flush()
			conn.Close()
		}
	})
	c, logs := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.Tries = 1 })
	for _, card := range []string{"100000-000-001", "100000-000-002", "100000-000-003"} {
		_, err := c.GetCard(t.Context(), card)
		if err == nil {
			t.Fatalf("GetCard(%s) = nil error", card)
		}
		for _, verb := range verbs {
			if run := sharedRun(fmt.Sprintf(verb, err), testKey); run != "" {
				t.Errorf("GetCard(%s): error %s holds %q of the key: %v", card, verb, run, err)
			}
		}
	}
	if run := sharedRun(logs.String(), testKey); run != "" {
		t.Errorf("log holds %q of the key: %s", run, logs)
	}
}
