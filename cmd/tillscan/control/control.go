// Package control serves tillscan's local API and status page, and is that
// API's client (Client, for the command line). Over TCP on loopback it
// serves the read-only views (GET /api/v1/status, GET /api/v1/events as
// server-sent events, GET /metrics, health, GET /) and the POS endpoints
// (POST /api/v1/scans, POST /api/v1/next), which need a bearer token;
// docs/pos-api.md is their contract. The queue's operator endpoints under
// /api/v1/queue and /api/v1/jobs, and the card cache's card types
// (/api/v1/cards/types, for the day's report), are served only on the
// operator socket, a unix socket whose peers are checked (socket.go). It sees the daemon only
// through Backend and Operator, so it is tested with trivial fakes; the
// request and response bodies are the types in types.go, shared by server
// and client.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Backend is what the handler needs from the daemon. Errors it returns for
// a request's own fault are *Error values; any other error is answered as
// tillscan's own failure without its text.
type Backend interface {
	Status(ctx context.Context) Status
	// Subscribe starts a stream of the events published after event
	// number after (0: from now on). Events no longer remembered come as
	// one event of kind KindGap.
	Subscribe(after uint64) Subscription
	// SetNext sets the mode and purchase sum of the next card scan.
	SetNext(req NextRequest) (NextResult, error)
	// Scan handles text as a scan read by req.Scanner (APIScanner if
	// empty) and says what became of it.
	Scan(ctx context.Context, req ScanRequest) (ScanResult, error)
	// Undo takes back the last action for the last card scanned.
	Undo(ctx context.Context, req UndoRequest) (ScanResult, error)
}

// Server serves the control API.
type Server struct {
	b       Backend
	op      Operator // nil: no queue endpoints
	log     zerolog.Logger
	reg     *prometheus.Registry
	streams chan struct{} // one token per open event stream
	token   string        // bearer token of the POS endpoints; "": they are refused
}

// New returns a Server for b. op may be nil. The POS endpoints refuse
// every request until SetToken gives them a token.
func New(b Backend, op Operator, log zerolog.Logger) *Server {
	s := &Server{b: b, op: op, log: log, reg: prometheus.NewRegistry(), streams: make(chan struct{}, MaxStreams)}
	s.reg.MustRegister(&collector{b: b})
	return s
}

// SetToken sets the bearer token the POS endpoints require (status.token_file).
// Call it before Handler.
func (s *Server) SetToken(token string) { s.token = token }

// Handler returns the handler for TCP (loopback): the status page, the
// read-only status, events, metrics and health, and the POS endpoints
// behind the bearer token. The queue's operator endpoints are served on
// the operator socket only (SocketHandler): every local program can reach
// a loopback port.
func (s *Server) Handler() http.Handler {
	mux := s.publicMux()
	mux.Handle("POST /api/v1/next", s.requireToken(http.HandlerFunc(s.next)))
	mux.Handle("POST /api/v1/scans", s.requireToken(http.HandlerFunc(s.scan)))
	mux.Handle("POST /api/v1/undo", s.requireToken(http.HandlerFunc(s.undo)))
	return localOnly(mux)
}

// publicMux routes what both TCP and the operator socket serve alike.
func (s *Server) publicMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", s.status)
	mux.HandleFunc("GET /api/v1/events", s.events)
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", s.page)
	s.routeDisplay(mux)
	return mux
}

// Serve serves Handler on ln until ctx ends; it returns nil then. The
// caller listens first, so clients can connect as soon as Serve is called.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	return s.serve(ctx, ln, s.Handler())
}

func (s *Server) serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := s.httpServer(ctx, h)
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		srv.Shutdown(sctx) // event streams end with ctx; this bounds the rest
	})
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("control: %w", err)
	}
	return nil
}

// httpServer is the server serve runs, its requests' context derived from
// ctx.
func (s *Server) httpServer(ctx context.Context, h http.Handler) *http.Server {
	return &http.Server{
		Handler: h,
		// A client that stalls or idles cannot hold a connection for
		// ever. No WriteTimeout: event streams stay open.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
}

// localOnly refuses requests a web page in a browser could make: the
// control API listens on loopback, but a page on any site could still post
// to it (DNS rebinding, CSRF). Browsers send Origin on such requests.
func localOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && r.Method != http.MethodGet {
			writeJSON(w, http.StatusForbidden, ErrorBody{Code: CodeForbidden, Error: "requests from web pages (with an Origin header) may only read"})
			return
		}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			writeJSON(w, http.StatusForbidden, ErrorBody{Code: CodeForbidden, Error: "the Host header must be localhost or a loopback address"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.Status(r.Context()))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) // the client may have gone; nothing to do about it
}

// collector exports the status as Prometheus metrics at scrape time.
type collector struct{ b Backend }

var (
	descDepth     = prometheus.NewDesc("tillscan_queue_jobs", "Jobs in the queue by state.", []string{"state"}, nil)
	descOldest    = prometheus.NewDesc("tillscan_queue_oldest_pending_age_seconds", "Age of the oldest pending job.", nil, nil)
	descFile      = prometheus.NewDesc("tillscan_queue_file_bytes", "Size of the queue file.", nil, nil)
	descReachable = prometheus.NewDesc("tillscan_api_reachable", "1 if the last API request got an answer.", nil, nil)
	descPaused    = prometheus.NewDesc("tillscan_api_paused", "1 if sending is paused (API key refused).", nil, nil)
	descLastOK    = prometheus.NewDesc("tillscan_api_last_success_timestamp_seconds", "When an API request last succeeded.", nil, nil)
	descScanner   = prometheus.NewDesc("tillscan_scanner_connected", "1 if the scanner is connected.", []string{"scanner", "type"}, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDepth, descOldest, descFile, descReachable, descPaused, descLastOK, descScanner} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Status(context.Background())
	for state, n := range st.Queue.Depth {
		ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, st.Queue.OldestPendingAge)
	ch <- prometheus.MustNewConstMetric(descFile, prometheus.GaugeValue, float64(st.Queue.FileBytes))
	ch <- prometheus.MustNewConstMetric(descReachable, prometheus.GaugeValue, b2f(st.API.Reachable))
	ch <- prometheus.MustNewConstMetric(descPaused, prometheus.GaugeValue, b2f(st.API.Paused))
	if !st.API.LastSuccess.IsZero() {
		ch <- prometheus.MustNewConstMetric(descLastOK, prometheus.GaugeValue, float64(st.API.LastSuccess.UnixNano())/1e9)
	}
	for _, sc := range st.Scanners {
		ch <- prometheus.MustNewConstMetric(descScanner, prometheus.GaugeValue, b2f(sc.Connected), sc.Name, sc.Type)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
