// Package control serves tillscan's local status API and page on a
// loopback address, and is that API's client (Client, for the command
// line): GET /api/v1/status (JSON), GET /api/v1/events (server-sent events,
// for POS software and customer displays), POST /api/v1/next (set the next
// scan's mode or purchase sum), the queue's operator endpoints under
// /api/v1/queue and /api/v1/jobs, GET /metrics (Prometheus) and GET / (a
// page for the shop owner). It sees the daemon only through Backend and
// Operator, so it is tested with trivial fakes; the request and response
// bodies are the types in types.go, shared by server and client.
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

// Backend is what the handler needs from the daemon.
type Backend interface {
	Status(ctx context.Context) Status
	// Subscribe starts a stream of the events published from now on.
	Subscribe() Subscription
	// SetNext sets the mode and purchase sum of the next card scan.
	SetNext(mode string, purchaseSum *float64) error
}

// Server serves the control API.
type Server struct {
	b       Backend
	op      Operator // nil: no queue endpoints
	log     zerolog.Logger
	reg     *prometheus.Registry
	streams chan struct{} // one token per open event stream
}

// New returns a Server for b. op may be nil.
func New(b Backend, op Operator, log zerolog.Logger) *Server {
	s := &Server{b: b, op: op, log: log, reg: prometheus.NewRegistry(), streams: make(chan struct{}, MaxStreams)}
	s.reg.MustRegister(&collector{b: b})
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", s.status)
	mux.HandleFunc("GET /api/v1/events", s.events)
	mux.HandleFunc("POST /api/v1/next", s.next)
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /{$}", s.page)
	s.routeJobs(mux)
	return localOnly(mux)
}

// Serve serves on ln until ctx ends; it returns nil then. The caller
// listens first, so clients can connect as soon as Serve is called.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := s.httpServer(ctx)
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

// httpServer is the server Serve runs, its requests' context derived from
// ctx.
func (s *Server) httpServer(ctx context.Context) *http.Server {
	return &http.Server{
		Handler: s.Handler(),
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
			http.Error(w, "cross-origin requests are refused", http.StatusForbidden)
			return
		}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			http.Error(w, "unexpected Host header", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.b.Status(r.Context()))
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	var body NextRequest
	if !decode(w, r, &body, `{"mode": "redeem", "purchase_sum": 12.5}`) {
		return
	}
	if err := s.b.SetNext(body.Mode, body.PurchaseSum); err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, OK{OK: "next scan set"})
}

// decode reads a small JSON body into v, refusing unknown fields; on
// failure it answers 400 with the shape wanted and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any, want string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Error: "body must be JSON " + want + ": " + err.Error()})
		return false
	}
	return true
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
