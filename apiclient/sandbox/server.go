package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server serves an API on a real listener, like httptest.Server. Create one
// with NewServer or NewServerAt and Close it when done. It is safe for
// concurrent use.
type Server struct {
	URL string // base URL including /api/v2, e.g. "http://127.0.0.1:41234/api/v2"
	API *API

	addr   string // the bound host:port, reused after an outage
	srv    *http.Server
	cancel context.CancelFunc // ends the requests' base context at Close
	wg     sync.WaitGroup     // Serve goroutines and the outage timer goroutine
	// relistened, if set (by tests, before Outage), is called when an
	// outage has ended by itself.
	relistened func()

	mu      sync.Mutex // guards everything that follows
	ln      net.Listener
	conns   map[net.Conn]struct{} // open connections, closed by an outage
	restore chan struct{}         // closed to end the current outage early; nil if none
	closed  bool
}

// NewServer serves a new API(opts) on 127.0.0.1:0.
func NewServer(opts Options) (*Server, error) { return NewServerAt("127.0.0.1:0", opts) }

// NewServerAt serves a new API(opts) on addr (for `tillscan sandbox
// --listen`). It returns once the listener accepts connections.
func NewServerAt(addr string, opts Options) (*Server, error) {
	api, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen %s: %w", addr, err)
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{
		URL:    "http://" + dialable(addr, ln.Addr()) + "/api/v2",
		API:    api,
		addr:   ln.Addr().String(),
		cancel: cancel,
		conns:  map[net.Conn]struct{}{},
	}
	s.srv = &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ConnState:         s.track,
	}
	s.mu.Lock()
	s.serveLocked(ln)
	s.mu.Unlock()
	return s, nil
}

// dialable is the bound address as a client can dial it: a wildcard listen
// address ("0.0.0.0:…", ":…", "[::]:…") becomes loopback, IPv6 only if
// the requested host was an IPv6 literal.
func dialable(requested string, bound net.Addr) string {
	ta, ok := bound.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return bound.String()
	}
	lo := "127.0.0.1"
	if host, _, err := net.SplitHostPort(requested); err == nil && strings.Contains(host, ":") {
		lo = "::1"
	}
	return net.JoinHostPort(lo, strconv.Itoa(ta.Port))
}

func (s *Server) serveLocked(ln net.Listener) {
	s.ln = ln
	s.wg.Go(func() {
		// Serve returns when the listener closes (outage or Close).
		_ = s.srv.Serve(ln)
	})
}

// track keeps the set of open connections so an outage can cut them.
func (s *Server) track(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		s.conns[c] = struct{}{}
	case http.StateHijacked, http.StateClosed:
		delete(s.conns, c)
	}
}

// Client returns an HTTP client for the server with its own transport, so
// tests do not share connections. Its transport is plain net/http: it does
// not retry POSTs.
func (s *Server) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 32}}
}

// Outage makes the server refuse connections for d: it closes the listener
// and every open connection (requests in flight get no answer), then
// listens again on the same port after d, at Restore, or never if Close
// comes first. It returns once connections are refused. A new Outage
// replaces the end of a running one.
func (s *Server) Outage(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if s.restore != nil {
		close(s.restore) // the old timer goroutine exits without re-listening
		s.restore = nil
	}
	if s.ln != nil {
		_ = s.ln.Close()
		s.ln = nil
	}
	for c := range s.conns {
		_ = c.Close()
		delete(s.conns, c)
	}
	stop := make(chan struct{})
	s.restore = stop
	s.wg.Go(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			if s.relisten(stop) == nil && s.relistened != nil {
				s.relistened()
			}
		case <-stop:
		}
	})
}

// Restore ends an outage now and returns once the server listens again.
// It does nothing if there is no outage.
func (s *Server) Restore() error {
	s.mu.Lock()
	stop := s.restore
	s.mu.Unlock()
	if stop == nil {
		return nil
	}
	return s.relisten(stop)
}

// relisten listens again on the old address, if the outage that stop
// belongs to is still the current one.
func (s *Server) relisten(stop chan struct{}) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.restore != stop {
		return nil
	}
	var err error
	// The port was ours a moment ago; a few tries cover a slow release.
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			close(stop)
			s.restore = nil
			s.serveLocked(ln)
			return nil
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		s.mu.Lock()
		if s.closed || s.restore != stop {
			return nil
		}
	}
	return fmt.Errorf("sandbox: re-listen on %s after an outage: %w", s.addr, err)
}

// Close shuts the server down and blocks until outstanding requests have
// finished. Requests waiting on injected latency or a slow body are cut
// short.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	if s.restore != nil {
		close(s.restore)
		s.restore = nil
	}
	s.mu.Unlock()
	s.cancel()
	if err := s.srv.Shutdown(context.Background()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		_ = s.srv.Close()
	}
	s.wg.Wait()
}
