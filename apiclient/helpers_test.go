package apiclient_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/internal/logtest"
)

// testKey is distinctive so a leak is easy to spot in any output.
const testKey = "tk-SECRET-9f8e7d6c5b4a"

// newClient returns a Client for base with fast retries and a high rate, so
// tests do not wait; mod adjusts the Config. Its log is returned for leak
// checks (debug level, everything).
func newClient(t testing.TB, base string, mod func(*apiclient.Config)) (*apiclient.Client, *logtest.Buffer) {
	t.Helper()
	cfg := apiclient.Config{
		BaseURL:     base,
		APIKey:      testKey,
		RateLimit:   1000,
		Timeout:     5 * time.Second,
		BackoffBase: time.Millisecond,
		BackoffCap:  2 * time.Millisecond,
	}
	if mod != nil {
		mod(&cfg)
	}
	logs := &logtest.Buffer{}
	c, err := apiclient.New(cfg, zerolog.New(logs).Level(zerolog.DebugLevel))
	if err != nil {
		t.Fatalf("New(%v) = %v", cfg, err)
	}
	return c, logs
}

// seen is one request as the fake server got it.
type seen struct {
	Method, Path, Query, Body, Key string
	Remote                         string // client address: one per connection
}

// fakeAPI is a tiny loopback server: it records every request and answers
// with respond.
type fakeAPI struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newFake(t testing.TB, respond http.HandlerFunc) *fakeAPI {
	t.Helper()
	f := &fakeAPI{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, string(body), r.Header.Get("X-Api-Key"), r.RemoteAddr})
		f.mu.Unlock()
		respond(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) base() string { return f.URL + "/api/v2" }

func (f *fakeAPI) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

// envelope writes a success answer around data (and meta if non-nil).
func envelope(w http.ResponseWriter, status int, data any, meta any) {
	env := map[string]any{"responseId": "r-1", "createdAt": "2026-11-25T12:00:00+00:00", "code": status, "data": data}
	if meta != nil {
		env["meta"] = meta
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(env)
}

// apiError writes an error answer the way the API does.
func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": status, "message": msg})
}

// noKey fails the test if s contains the API key.
func noKey(t testing.TB, what, s string) {
	t.Helper()
	if strings.Contains(s, testKey) {
		t.Errorf("%s contains the API key: %s", what, s)
	}
}
