// Package control serves tillscan's local status API and page on a loopback
// address: GET /api/v1/status (JSON), GET /api/v1/events (server-sent
// events, for POS software and customer displays), POST /api/v1/next (set the
// next scan's mode or purchase sum), the queue's operator endpoints under
// /api/v1/queue and /api/v1/jobs, GET /metrics (Prometheus) and GET / (a
// page for the shop owner). It sees the daemon only through Backend, so it is
// tested with a trivial fake.
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
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Backend is what the handler needs from the daemon.
type Backend interface {
	Status(ctx context.Context) Status
	// Subscribe returns a stream of events (JSON-encodable values) and a
	// function that ends the subscription.
	Subscribe() (<-chan any, func())
	// SetNext sets the mode and purchase sum of the next card scan.
	SetNext(mode string, purchaseSum *float64) error
}

// Status is the daemon's state as GET /api/v1/status reports it.
type Status struct {
	Version   string         `json:"version"`
	TillID    string         `json:"till_id"`
	Started   time.Time      `json:"started"`
	Accepting bool           `json:"accepting_scans"`
	Queue     QueueStatus    `json:"queue"`
	API       APIStatus      `json:"api"`
	Scanners  []ScannerState `json:"scanners"`
	Problems  []string       `json:"problems"`      // things the owner or installer must fix, in plain words
	Recent    []Event        `json:"recent_events"` // newest first
}

// Event is one line of the recent-scans list.
type Event struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`    // saved, applied, rejected, repeat, not_card, …
	Message string    `json:"message"` // the line the cashier saw
}

// QueueStatus is the queue's depth per state.
type QueueStatus struct {
	Depth            map[string]int `json:"depth"` // pending, sending, ambiguous, done, dead, dropped
	OldestPendingAge float64        `json:"oldest_pending_age_seconds"`
	FileBytes        int64          `json:"file_bytes"`
	Error            string         `json:"error,omitempty"`
}

// APIStatus says whether the loyalty API is reachable.
type APIStatus struct {
	Reachable   bool      `json:"reachable"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Paused      bool      `json:"paused"`
	PauseReason string    `json:"pause_reason,omitempty"`
}

// ScannerState is one configured scanner.
type ScannerState struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Connected bool   `json:"connected"`
	Error     string `json:"error,omitempty"`
}

// Server serves the control API.
type Server struct {
	b   Backend
	op  Operator // nil: no queue endpoints
	log zerolog.Logger
	reg *prometheus.Registry
}

// New returns a Server for b. op may be nil.
func New(b Backend, op Operator, log zerolog.Logger) *Server {
	s := &Server{b: b, op: op, log: log, reg: prometheus.NewRegistry()}
	s.reg.MustRegister(&collector{b: b})
	return s
}

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", s.status)
	mux.HandleFunc("GET /api/v1/events", s.events)
	mux.HandleFunc("POST /api/v1/next", s.next)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("GET /{$}", s.page)
	s.routeJobs(mux)
	return localOnly(mux)
}

// Serve serves on ln until ctx ends; it returns nil then. The caller
// listens first, so clients can connect as soon as Serve is called.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
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
	var body struct {
		Mode        string   `json:"mode"`
		PurchaseSum *float64 `json:"purchase_sum"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be JSON {\"mode\": \"redeem\", \"purchase_sum\": 12.5}: " + err.Error()})
		return
	}
	if err := s.b.SetNext(body.Mode, body.PurchaseSum); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"ok": "next scan set"})
}

// events streams events as server-sent events until the client leaves.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	ch, cancel := s.b.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case ev, ok := <-ch:
			if !ok {
				return
			}
			b, err := json.Marshal(ev)
			if err != nil {
				s.log.Error().Err(err).Msg("encode event")
				continue
			}
			if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
				return
			}
			fl.Flush()
		}
	}
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
