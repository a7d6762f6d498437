package control_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/cmd/tillscan/control"
)

// statusOnly is a Backend that answers only Status (the health
// endpoints need nothing else; other methods panic on the nil interface).
type statusOnly struct {
	control.Backend
	st control.Status
}

func (b statusOnly) Status(context.Context) control.Status { return b.st }

// probed adds Prober and Metered.
type probed struct {
	statusOnly
	why []string
	reg *prometheus.Registry
}

func (b probed) NotReady(context.Context) []string { return b.why }
func (b probed) Gatherer() prometheus.Gatherer     { return b.reg }

func TestHealthEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "from_the_backend_total", Help: "h"}))
	accepting := control.Status{Accepting: true, Queue: control.QueueStatus{Depth: map[string]int{}}}
	tests := []struct {
		name      string
		b         control.Backend
		readyCode int
		readyHas  string
		metric    string // a family /metrics must serve
	}{
		{"status only, ready", statusOnly{st: accepting}, 200, `"ready": true`, ""},
		{"status only, not accepting", statusOnly{st: control.Status{}}, 503, "not accepting scans", ""},
		{"status only, queue unreadable", statusOnly{st: control.Status{Accepting: true, Queue: control.QueueStatus{Error: "disk on fire"}}}, 503, "disk on fire", ""},
		{"prober, ready", probed{statusOnly: statusOnly{st: control.Status{}}, reg: reg}, 200, `"not_ready": []`, "from_the_backend_total"},
		{"prober, not ready", probed{statusOnly: statusOnly{st: accepting}, why: []string{"the key was refused"}, reg: reg}, 503, "the key was refused", "from_the_backend_total"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(control.New(tt.b, nil, zerolog.Nop()).Handler())
			defer srv.Close()
			get := func(path string) (int, string) {
				resp, err := http.Get(srv.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if code, body := get("/healthz"); code != 200 || body != "ok\n" {
				t.Errorf("/healthz = %d %q, want 200 ok whatever the state", code, body)
			}
			if code, body := get("/readyz"); code != tt.readyCode || !strings.Contains(body, tt.readyHas) {
				t.Errorf("/readyz = %d %s, want %d with %q", code, body, tt.readyCode, tt.readyHas)
			}
			rd, err := control.NewClient(strings.TrimPrefix(srv.URL, "http://"), nil).Ready(t.Context())
			if err != nil || rd.Ready != (tt.readyCode == 200) {
				t.Errorf("Client.Ready = %+v, %v", rd, err)
			}
			if tt.metric != "" {
				if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "# TYPE "+tt.metric+" ") {
					t.Errorf("/metrics = %d, want the family %s:\n%s", code, tt.metric, body)
				}
			}
		})
	}
}
