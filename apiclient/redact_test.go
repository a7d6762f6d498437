package apiclient_test

import (
	"encoding/json"
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
	logs := &logBuffer{}
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
