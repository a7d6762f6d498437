package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// errNoSuchJob stands for the queue's own sentinel.
var errNoSuchJob = errors.New("queue: no such job")

// fakeOperator keeps jobs in a map; enough to drive Client through every
// route over real HTTP.
type fakeOperator struct {
	mu       sync.Mutex
	jobs     map[string]Job
	dropped  DropRequest
	resolved ResolveRequest
	types    map[string]string // card number → card type
}

func (f *fakeOperator) QueueStats(context.Context) (QueueStats, error) {
	return QueueStats{Depth: map[string]int{"pending": len(f.jobs)}, FileSize: 4096}, nil
}

func (f *fakeOperator) ListJobs(_ context.Context, req ListRequest) ([]Job, error) {
	var out []Job
	for _, j := range f.jobs {
		if req.State == "" || j.State == req.State {
			out = append(out, j)
		}
	}
	return out, nil
}

func (f *fakeOperator) GetJob(_ context.Context, id string) (Job, error) {
	j, ok := f.jobs[id]
	if !ok {
		return Job{}, NotFound(fmt.Errorf("queue: job %q: %w", id, errNoSuchJob))
	}
	return j, nil
}

func (f *fakeOperator) RetryJob(ctx context.Context, id string) error {
	j, err := f.GetJob(ctx, id)
	if err != nil {
		return err
	}
	if j.State == "ambiguous" {
		return Conflict(fmt.Errorf("job %s may already be applied", id))
	}
	return nil
}

func (f *fakeOperator) DropJob(_ context.Context, _ string, req DropRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropped = req
	return nil
}

func (f *fakeOperator) ResolveJob(_ context.Context, _ string, req ResolveRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolved = req
	return nil
}

func (f *fakeOperator) ExportJobs(_ context.Context, w io.Writer) error {
	_, err := io.WriteString(w, "{\"id\":\"A\"}\n{\"id\":\"B\"}\n")
	return err
}

func (f *fakeOperator) CheckQueue(context.Context) error { return errors.New("queue: index disagrees") }

func (f *fakeOperator) CardTypes(context.Context) (CardTypes, error) {
	return CardTypes{Types: maps.Clone(f.types)}, nil
}

func newClientServer(t *testing.T) (*Client, *fakeOperator) {
	t.Helper()
	op := &fakeOperator{jobs: map[string]Job{
		"J1": {ID: "J1", State: "dead", Card: "544256-439-856", Attempts: []Attempt{{Kind: "send", Outcome: "rejected", HTTPStatus: 422}}},
		"J2": {ID: "J2", State: "ambiguous", Card: "612001-100-201"},
	}, types: map[string]string{"544256-439-856": "stamp", "612001-100-201": "cashback"}}
	path := filepath.Join(t.TempDir(), "control.sock")
	ln, err := ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- New(&fakeBackend{status: Status{TillID: "till-1"}}, op, zerolog.Nop()).ServeSocket(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return NewSocketClient(path, 10*time.Second), op
}

func TestClientRoundTrips(t *testing.T) {
	c, op := newClientServer(t)
	ctx := t.Context()
	st, err := c.Status(ctx)
	if err != nil || st.TillID != "till-1" {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	qs, err := c.QueueStats(ctx)
	if err != nil || qs.Depth["pending"] != 2 || qs.FileSize != 4096 {
		t.Fatalf("QueueStats = %+v, %v", qs, err)
	}
	jobs, err := c.ListJobs(ctx, ListRequest{State: "dead", Limit: 10})
	if err != nil || len(jobs) != 1 || jobs[0].ID != "J1" || jobs[0].Attempts[0].HTTPStatus != 422 {
		t.Fatalf("ListJobs = %+v, %v", jobs, err)
	}
	if err := c.DropJob(ctx, "J1", DropRequest{Reason: "customer left"}); err != nil || op.dropped.Reason != "customer left" {
		t.Fatalf("DropJob: %v, operator got %+v", err, op.dropped)
	}
	yes := true
	if err := c.ResolveJob(ctx, "J2", ResolveRequest{Applied: &yes, Note: "seen on dashboard"}); err != nil ||
		op.resolved.Applied == nil || !*op.resolved.Applied || op.resolved.Note != "seen on dashboard" {
		t.Fatalf("ResolveJob: %v, operator got %+v", err, op.resolved)
	}
	var export strings.Builder
	if err := c.ExportJobs(ctx, &export); err != nil || export.String() != "{\"id\":\"A\"}\n{\"id\":\"B\"}\n" {
		t.Fatalf("ExportJobs = %q, %v", export.String(), err)
	}
	types, err := c.CardTypes(ctx)
	if err != nil || !maps.Equal(types.Types, op.types) || types.Omitted != 0 {
		t.Fatalf("CardTypes = %+v, %v; want %v", types, err, op.types)
	}
}

// TestCardTypesBounded: the answer holds at most MaxCardTypes cards, the
// first in number order, and counts the others.
func TestCardTypesBounded(t *testing.T) {
	c, op := newClientServer(t)
	op.types = make(map[string]string, MaxCardTypes+3)
	for i := range MaxCardTypes + 3 {
		op.types[fmt.Sprintf("700000-%06d", i)] = "stamp"
	}
	got, err := c.CardTypes(t.Context())
	if err != nil || len(got.Types) != MaxCardTypes || got.Omitted != 3 {
		t.Fatalf("CardTypes = %d cards, %d omitted, %v; want %d and 3", len(got.Types), got.Omitted, err, MaxCardTypes)
	}
	if _, ok := got.Types[fmt.Sprintf("700000-%06d", MaxCardTypes-1)]; !ok {
		t.Errorf("the last card in number order within the bound is missing")
	}
	if _, ok := got.Types[fmt.Sprintf("700000-%06d", MaxCardTypes)]; ok {
		t.Errorf("a card past the bound is in the answer")
	}
}

// TestClientErrorsSayEachThingOnce is the regression test for chains like
// `control: no such job: control: no such job: queue: job "NOPE": queue: no
// such job`: the client's error is the daemon's message, once, and still
// matches the class the caller branches on.
func TestClientErrorsSayEachThingOnce(t *testing.T) {
	c, _ := newClientServer(t)
	tests := []struct {
		name  string
		call  func() error
		class error
		text  string
	}{
		{"unknown job", func() error { _, err := c.GetJob(t.Context(), "NOPE"); return err }, ErrNotFound, `queue: job "NOPE": queue: no such job`},
		{"retry uncertain", func() error { return c.RetryJob(t.Context(), "J2") }, ErrConflict, "job J2 may already be applied"},
		{"check fails", func() error { return c.CheckQueue(t.Context()) }, nil, "the daemon answered 500 Internal Server Error: queue: index disagrees"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || err.Error() != tt.text {
				t.Fatalf("error = %v, want exactly %q", err, tt.text)
			}
			if tt.class != nil && !errors.Is(err, tt.class) {
				t.Errorf("error %v does not match %v", err, tt.class)
			}
		})
	}
}

// TestEventStreamsCapped: streams past MaxStreams get a clear 503 instead
// of another goroutine and connection each.
func TestEventStreamsCapped(t *testing.T) {
	srv, _ := newTestServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	open := func() *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for range MaxStreams {
		resp := open() // the server has taken a slot once headers arrive
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream = %d, want 200", resp.StatusCode)
		}
	}
	resp := open()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "too many event streams") {
		t.Fatalf("stream %d = %d %s, want 503 saying why", MaxStreams+1, resp.StatusCode, body)
	}
}

// TestServerTimeouts: stalled and idle clients cannot hold connections
// for ever; event streams need no write deadline.
func TestServerTimeouts(t *testing.T) {
	s := New(&fakeBackend{}, nil, zerolog.Nop()).httpServer(t.Context(), nil)
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.IdleTimeout <= 0 {
		t.Fatalf("timeouts: header %v, read %v, idle %v; want all set", s.ReadHeaderTimeout, s.ReadTimeout, s.IdleTimeout)
	}
	if s.WriteTimeout != 0 {
		t.Fatalf("WriteTimeout %v would cut event streams", s.WriteTimeout)
	}
}

// TestOperatorEndpointsNotOnTCP: over TCP (any local program can reach a
// loopback port) the queue's operator endpoints do not exist; they are on
// the operator socket only.
func TestOperatorEndpointsNotOnTCP(t *testing.T) {
	op := &fakeOperator{jobs: map[string]Job{"J1": {ID: "J1", State: "dead"}}}
	h := New(&fakeBackend{}, op, zerolog.Nop()).Handler()
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/v1/queue"}, {"GET", "/api/v1/queue/export"}, {"GET", "/api/v1/queue/check"},
		{"GET", "/api/v1/jobs"}, {"GET", "/api/v1/jobs/J1"}, {"GET", "/api/v1/cards/types"},
		{"POST", "/api/v1/jobs/J1/retry"}, {"POST", "/api/v1/jobs/J1/drop"}, {"POST", "/api/v1/jobs/J1/resolve"},
	} {
		req := httptest.NewRequest(r.method, "http://127.0.0.1:8765"+r.path, strings.NewReader(`{"reason":"x","applied":true}`))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNotFound && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("TCP %s %s = %d %s, want 404", r.method, r.path, w.Code, w.Body)
		}
	}
	if op.dropped.Reason != "" || op.resolved.Applied != nil {
		t.Fatalf("the operator saw a request over TCP: %+v %+v", op.dropped, op.resolved)
	}
}

// TestSocketReplacesStaleFile: a socket file left by a killed daemon is
// replaced; a live daemon's socket and a regular file are not.
func TestSocketReplacesStaleFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.sock")
	ln, err := ListenSocket(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ListenSocket(path); err == nil || !strings.Contains(err.Error(), "another tillscan") {
		t.Fatalf("second ListenSocket on a live socket = %v, want 'another tillscan answers there'", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false) // as after kill -9
	ln.Close()
	ln, err = ListenSocket(path)
	if err != nil {
		t.Fatalf("ListenSocket over a stale socket: %v", err)
	}
	defer ln.Close()
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("socket mode = %v, %v; want 0660", fi.Mode(), err)
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o600)
	if _, err := ListenSocket(plain); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("ListenSocket over a regular file = %v, want refused", err)
	}
}
