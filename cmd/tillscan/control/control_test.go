package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

type fakeBackend struct {
	mu     sync.Mutex
	status Status
	events chan Event
	mode   string
	sum    *float64
	crashy bool // mode "crash" fails as tillscan's own bug would
}

func (f *fakeBackend) Status(context.Context) Status       { return f.status }
func (f *fakeBackend) Subscribe(after uint64) Subscription { return chanSub(f.events) }
func (f *fakeBackend) SetNext(req NextRequest) (NextResult, error) {
	switch req.Mode {
	case "bogus":
		return NextResult{}, &Error{Status: http.StatusBadRequest, Code: CodeUnknownMode, Message: "no rules for bogus"}
	case "crash":
		if f.crashy {
			return NextResult{}, errors.New("pos: internal detail")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.sum = req.Mode, req.PurchaseSum
	return NextResult{For: NextForTill, Mode: req.Mode, PurchaseSum: req.PurchaseSum}, nil
}

func (f *fakeBackend) Undo(_ context.Context, req UndoRequest) (ScanResult, error) {
	return ScanResult{Outcome: "undone", Scanner: req.Scanner}, nil
}

func (f *fakeBackend) Scan(_ context.Context, req ScanRequest) (ScanResult, error) {
	return ScanResult{Outcome: "saved", Saved: true, Scanner: req.Scanner, Card: req.Text}, nil
}

const testToken = "0123456789abcdef"

func newTestServer(t *testing.T) (*httptest.Server, *fakeBackend) {
	t.Helper()
	b := &fakeBackend{crashy: true, events: make(chan Event, 4), status: Status{
		TillID: "till-1", Accepting: true,
		Queue:    QueueStatus{Depth: map[string]int{"pending": 3, "done": 7}, OldestPendingAge: 12},
		API:      APIStatus{Reachable: false, LastError: "dial tcp: connection refused"},
		Scanners: []ScannerState{{Name: "front", Type: "serial", Connected: true}},
		Problems: []string{"loyalty API not reachable for 5 minutes"},
		Recent:   []Event{{At: time.Unix(0, 0), Kind: "saved", Message: "544256-439-856: saved <b>"}},
	}}
	s := New(b, nil, zerolog.New(zerolog.NewTestWriter(t)))
	s.SetToken(testToken)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv, b
}

func TestStatusJSON(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, err := http.Get(srv.URL + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got Status
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || got.Queue.Depth["pending"] != 3 || got.TillID != "till-1" || !got.Accepting {
		t.Fatalf("GET /api/v1/status = %d %+v", resp.StatusCode, got)
	}
}

func TestNext(t *testing.T) {
	srv, b := newTestServer(t)
	tests := []struct {
		name, body, origin, token string
		want                      int
		code                      string
	}{
		{"mode and sum", `{"mode":"redeem","purchase_sum":12.5}`, "", testToken, 200, ""},
		{"unknown field", `{"mood":"redeem"}`, "", testToken, 400, CodeBadRequest},
		{"rejected by backend", `{"mode":"bogus"}`, "", testToken, 400, CodeUnknownMode},
		{"backend failure", `{"mode":"crash"}`, "", testToken, 500, CodeInternal},
		{"not json", `redeem`, "", testToken, 400, CodeBadRequest},
		{"cross origin", `{"mode":"redeem"}`, "http://evil.example", testToken, 403, CodeForbidden},
		{"no token", `{"mode":"redeem"}`, "", "", 401, CodeUnauthorized},
		{"wrong token", `{"mode":"redeem"}`, "", testToken + "x", 401, CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/next", strings.NewReader(tt.body))
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e ErrorBody
			json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tt.want || e.Code != tt.code {
				t.Fatalf("POST /api/v1/next %s = %d %+v, want %d %q", tt.body, resp.StatusCode, e, tt.want, tt.code)
			}
			if strings.Contains(e.Error, "pos:") || strings.Contains(e.Error, "json:") {
				t.Fatalf("error %q shows an internal error text", e.Error)
			}
		})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mode != "redeem" || b.sum == nil || *b.sum != 12.5 {
		t.Fatalf("backend got mode %q sum %v, want redeem 12.5", b.mode, b.sum)
	}
}

func TestHostChecked(t *testing.T) {
	srv, _ := newTestServer(t)
	req, _ := http.NewRequest("GET", srv.URL+"/api/v1/status", nil)
	req.Host = "attacker.example:8765" // DNS rebinding
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status with foreign Host = %d, want 403", resp.StatusCode)
	}
}

func TestEventsStream(t *testing.T) {
	srv, b := newTestServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b.events <- Event{Seq: 7, At: time.Unix(0, 0).UTC(), Kind: "applied", Message: "stamp 8/10"}
	close(b.events) // the daemon ended the stream: the client fell behind
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := "id: 7\ndata: {\"seq\":7,\"at\":\"1970-01-01T00:00:00Z\",\"kind\":\"applied\",\"message\":\"stamp 8/10\"}\n\n" +
		"event: end\ndata: {\"code\":\"stream_ended\",\"error\":\"fell behind\"}\n\n"
	if string(body) != want {
		t.Fatalf("stream = %q, want %q", body, want)
	}
}

func TestPageAndMetrics(t *testing.T) {
	srv, _ := newTestServer(t)
	for _, tt := range []struct{ path, want string }{
		{"/", "loyalty API not reachable for 5 minutes"},
		{"/", "saved &lt;b&gt;"}, // escaped
		{"/metrics", `tillscan_queue_jobs{state="pending"} 3`},
		{"/metrics", `tillscan_scanner_connected{scanner="front",type="serial"} 1`},
		{"/metrics", "tillscan_api_reachable 0"},
	} {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tt.want) {
			t.Errorf("GET %s = %d, body lacks %q:\n%s", tt.path, resp.StatusCode, tt.want, body)
		}
	}
}

// chanSub is a Subscription over a channel; a closed channel ends it.
type chanSub chan Event

func (c chanSub) Next(ctx context.Context) (Event, error) {
	select {
	case <-ctx.Done():
		return Event{}, ctx.Err()
	case ev, ok := <-c:
		if !ok {
			return Event{}, errors.New("fell behind")
		}
		return ev, nil
	}
}

func (c chanSub) Close() {}

// TestPOSEndpointsOffWithoutToken: with no token configured the POS
// endpoints refuse every request, with or without an Authorization header.
func TestPOSEndpointsOffWithoutToken(t *testing.T) {
	h := New(&fakeBackend{}, nil, zerolog.Nop()).Handler()
	for _, path := range []string{"/api/v1/scans", "/api/v1/next", "/api/v1/undo"} {
		for _, auth := range []string{"", "Bearer ", "Bearer x"} {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8765"+path, strings.NewReader(`{"text":"1"}`))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), CodeForbidden) {
				t.Errorf("POST %s with %q and no token configured = %d %s, want 403 forbidden", path, auth, w.Code, w.Body)
			}
		}
	}
}

// TestScanRequestChecked: a posted scan's text is checked before the
// backend sees it.
func TestScanRequestChecked(t *testing.T) {
	srv, _ := newTestServer(t)
	tests := []struct {
		body string
		want int
	}{
		{`{"text":"544256-439-856","scanner":"front"}`, 200},
		{`{"text":""}`, 400},
		{`{"scanner":"front"}`, 400},
		{`{"text":"a\tb"}`, 400},
		{`{"text":"\u0000"}`, 400},
		{`{"text":"` + strings.Repeat("9", MaxScanText+1) + `"}`, 400},
		{`{"text":7}`, 400},
		{``, 400},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/scans", strings.NewReader(tt.body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("POST /api/v1/scans %.60s = %d %s, want %d", tt.body, resp.StatusCode, b, tt.want)
		}
	}
}

// TestPageNeverAllGoodWhileUnreachable is the regression test for the
// page saying "All good" in green above "Not reachable" in red: with no
// problem listed yet (the API has been down under a minute) it says
// neither.
func TestPageNeverAllGoodWhileUnreachable(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   Status
		good bool
	}{
		{"reachable", Status{Accepting: true, API: APIStatus{Reachable: true}}, true},
		{"not reachable yet", Status{Accepting: true, API: APIStatus{Reachable: false}}, false},
		{"paused", Status{Accepting: true, API: APIStatus{Reachable: true, Paused: true, PauseReason: "key refused"}}, false},
		{"not accepting", Status{API: APIStatus{Reachable: true}}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := New(&fakeBackend{status: tt.st}, nil, zerolog.Nop()).Handler()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8765/", nil))
			if got := strings.Contains(w.Body.String(), "All good"); got != tt.good {
				t.Fatalf("page says All good: %v, want %v\n%s", got, tt.good, w.Body)
			}
		})
	}
}

// TestDisplayServedFromTheBinary: the counter display's files come from
// the binary, under a policy that lets the page load nothing from
// elsewhere, and name no other site.
func TestDisplayServedFromTheBinary(t *testing.T) {
	h := New(&fakeBackend{}, nil, zerolog.Nop()).Handler()
	for _, path := range []string{"/display", "/display/display.js", "/display/display.css"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8765"+path, nil))
		body := w.Body.String()
		if w.Code != http.StatusOK || len(body) < 100 {
			t.Fatalf("GET %s = %d (%d bytes)", path, w.Code, len(body))
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", path, csp)
		}
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, "//cdn") {
			t.Errorf("GET %s names another site", path)
		}
	}
}
