package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testServer is a sandbox on loopback with a plain net/http client.
type testServer struct {
	*sandbox.Server
	t   testing.TB
	hc  *http.Client
	clk *clock
}

// newServer starts a sandbox with the demo seed, no rate limit unless opts
// sets one, and a fake clock.
func newServer(t testing.TB, opts sandbox.Options) *testServer {
	t.Helper()
	clk := newClock()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	s, err := sandbox.NewServer(opts)
	if err != nil {
		t.Fatalf("NewServer() = %v", err)
	}
	hc := s.Client()
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		s.Close()
	})
	return &testServer{Server: s, t: t, hc: hc, clk: clk}
}

// response is a raw answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// envelope is the success envelope, decoded independently of the package.
type envelope struct {
	ResponseID string          `json:"responseId"`
	CreatedAt  string          `json:"createdAt"`
	Code       int             `json:"code"`
	Data       json.RawMessage `json:"data"`
	Meta       *sandbox.Meta   `json:"meta"`
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// req sends a request with the demo key; body is JSON-encoded unless it is
// a string (sent as is) or nil.
func (s *testServer) req(method, path string, body any) response {
	s.t.Helper()
	return s.reqKey(sandbox.DemoAPIKey, method, path, body)
}

func (s *testServer) reqKey(key, method, path string, body any) response {
	s.t.Helper()
	r, err := s.try(key, method, path, body)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

func (s *testServer) try(key, method, path string, body any) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatalf("marshal %v: %v", body, err)
		}
		rd = bytes.NewReader(j)
	}
	r, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.t.Fatalf("NewRequest: %v", err)
	}
	if key != "" {
		r.Header.Set("x-api-key", key)
	}
	if rd != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.hc.Do(r)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// ok decodes a 200 envelope's data into v (if non-nil) and returns the envelope.
func (r response) ok(t testing.TB, v any) envelope {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d (%s), want 200", r.status, r.body)
	}
	var e envelope
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("decode envelope %s: %v", r.body, err)
	}
	if e.Code != 200 || e.ResponseID == "" || e.CreatedAt == "" {
		t.Fatalf("envelope = %s, want code 200, a responseId and createdAt", r.body)
	}
	if v != nil {
		if err := json.Unmarshal(e.Data, v); err != nil {
			t.Fatalf("decode data %s: %v", e.Data, err)
		}
	}
	return e
}

// fail checks an error answer's status and that its message contains want.
func (r response) fail(t testing.TB, status int, want string) {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("status %d, body %q: not a JSON error: %v", r.status, r.body, err)
	}
	if r.status != status || e.Code != status || !strings.Contains(e.Message, want) {
		t.Fatalf("answer = %d %s, want %d with a message containing %q", r.status, r.body, status, want)
	}
}

// card fetches a card.
func (s *testServer) card(number string) sandbox.Card {
	s.t.Helper()
	var c sandbox.Card
	s.req("GET", "/cards/"+number, nil).ok(s.t, &c)
	return c
}

// act posts a card action and returns the answer.
func (s *testServer) act(number, action string, body any) response {
	s.t.Helper()
	return s.req("POST", "/cards/"+number+"/"+action, body)
}
