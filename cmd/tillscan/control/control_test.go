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
}

func (f *fakeBackend) Status(context.Context) Status { return f.status }
func (f *fakeBackend) Subscribe() Subscription       { return chanSub(f.events) }
func (f *fakeBackend) SetNext(mode string, sum *float64) error {
	if mode == "bogus" {
		return errors.New("unknown mode \"bogus\"")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode, f.sum = mode, sum
	return nil
}

func newTestServer(t *testing.T) (*httptest.Server, *fakeBackend) {
	t.Helper()
	b := &fakeBackend{events: make(chan Event, 4), status: Status{
		TillID: "till-1", Accepting: true,
		Queue:    QueueStatus{Depth: map[string]int{"pending": 3, "done": 7}, OldestPendingAge: 12},
		API:      APIStatus{Reachable: false, LastError: "dial tcp: connection refused"},
		Scanners: []ScannerState{{Name: "front", Type: "serial", Connected: true}},
		Problems: []string{"loyalty API not reachable for 5 minutes"},
		Recent:   []Event{{At: time.Unix(0, 0), Kind: "saved", Message: "544256-439-856: saved <b>"}},
	}}
	srv := httptest.NewServer(New(b, nil, zerolog.New(zerolog.NewTestWriter(t))).Handler())
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
		name, body, origin string
		want               int
	}{
		{"mode and sum", `{"mode":"redeem","purchase_sum":12.5}`, "", 200},
		{"unknown field", `{"mood":"redeem"}`, "", 400},
		{"rejected by backend", `{"mode":"bogus"}`, "", 400},
		{"not json", `redeem`, "", 400},
		{"cross origin", `{"mode":"redeem"}`, "http://evil.example", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", srv.URL+"/api/v1/next", strings.NewReader(tt.body))
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("POST /api/v1/next %s = %d, want %d", tt.body, resp.StatusCode, tt.want)
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
		"event: end\ndata: {\"error\":\"fell behind\"}\n\n"
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
