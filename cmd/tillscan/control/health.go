package control

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The health endpoints, for systemd-less supervisors, load balancers and
// monitoring:
//
//   - GET /healthz answers 200 while the process serves HTTP: it is alive.
//     Nothing else is checked, so a restart is never triggered by the API
//     being down or the key refused (a restart cures neither).
//   - GET /readyz answers 200 when the daemon can do its job (the queue is
//     open, the worker's loop is running, sending is not stopped by a
//     refused key) and 503 otherwise, with the reasons (Readiness). Scans
//     are still saved while it is not ready.
//
// `tillscan status` exits non-zero on the same conditions as /readyz.

// Prober is implemented by a Backend that can tell whether the daemon can
// do its job. /readyz asks it; a Backend without it is ready while it
// accepts scans and its queue can be read (Status).
type Prober interface {
	// NotReady returns why the daemon cannot do its job now, in plain
	// words; none when it can.
	NotReady(ctx context.Context) []string
}

// Metered is implemented by a Backend whose metrics /metrics serves.
type Metered interface {
	Gatherer() prometheus.Gatherer
}

// Readiness is the body of GET /readyz.
type Readiness struct {
	Ready    bool     `json:"ready"`
	NotReady []string `json:"not_ready"` // why not, in plain words; [] when ready
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	rd := s.readiness(r.Context())
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rd)
}

// readiness asks the Backend.
func (s *Server) readiness(ctx context.Context) Readiness {
	var why []string
	if p, ok := s.b.(Prober); ok {
		why = p.NotReady(ctx)
	} else {
		st := s.b.Status(ctx)
		if !st.Accepting {
			why = append(why, "not accepting scans")
		}
		if st.Queue.Error != "" {
			why = append(why, "the queue cannot be read: "+st.Queue.Error)
		}
	}
	if why == nil {
		why = []string{} // [] rather than null for JSON clients
	}
	return Readiness{Ready: len(why) == 0, NotReady: why}
}

// metricsHandler serves the Backend's metrics if it has them, else the
// status-derived gauges of New's registry.
func (s *Server) metricsHandler() http.Handler {
	var g prometheus.Gatherer = s.reg
	if m, ok := s.b.(Metered); ok {
		g = m.Gatherer()
	}
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Ready asks GET /readyz. A daemon that answers is not an error, ready or
// not: the Readiness says which.
func (c *Client) Ready(ctx context.Context) (Readiness, error) {
	var rd Readiness
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/readyz", nil)
	if err != nil {
		return rd, fmt.Errorf("control: readyz: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return rd, fmt.Errorf("control: readyz: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return rd, fmt.Errorf("control: readyz: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&rd); err != nil {
		return rd, fmt.Errorf("control: readyz: %w", err)
	}
	return rd, nil
}
