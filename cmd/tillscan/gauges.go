package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/cmd/tillscan/control"
	"github.com/tillscan/tillscan/queue"
)

// gaugeSource is where the gauges are read at scrape time: each from the
// one component that owns the state.
type gaugeSource interface {
	QueueStats(now time.Time) (queue.Stats, error) // the queue
	APIState() (reachable, keyRefused bool)        // the worker's last answer; the client's key pause
	APIPacing() apiclient.Status                   // the client's pace and shared limiter
	Scanners() map[string]bool                     // each configured scanner: open now?
}

// gauges is the collector of the scrape-time gauges.
type gauges struct{ src gaugeSource }

var (
	descQueueJobs   = prometheus.NewDesc("tillscan_queue_jobs", "Jobs in the queue file, by state.", []string{"state"}, nil)
	descOldest      = prometheus.NewDesc("tillscan_queue_oldest_waiting_seconds", "Age of the oldest job not yet finished (pending or uncertain); 0 when none.", nil, nil)
	descQuarantined = prometheus.NewDesc("tillscan_queue_quarantined_records", "Damaged records the queue set aside (a problem for an operator).", nil, nil)
	descScanner     = prometheus.NewDesc("tillscan_scanner_connected", "1 while the configured scanner is open, else 0.", []string{"scanner"}, nil)
	descReachable   = prometheus.NewDesc("tillscan_api_reachable", "1 when the last API request got an HTTP answer.", nil, nil)
	descKeyRefused  = prometheus.NewDesc("tillscan_api_key_refused", "1 while sending is stopped because the API refused the key.", nil, nil)
	descRate        = prometheus.NewDesc("tillscan_api_rate_requests_per_second", "The pace API requests may start at now: the configured pace, or less after a 429.", nil, nil)
	descSharedUp    = prometheus.NewDesc("tillscan_api_shared_limiter_up", "1 while the shared rate limiter (Redis) paces this till, 0 while it cannot be reached; absent without one.", nil, nil)
)

// registerGauges adds the scrape-time gauges read from src.
func (m *metrics) registerGauges(src gaugeSource) { m.reg.MustRegister(gauges{src}) }

func (g gauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueJobs, descOldest, descQuarantined, descScanner, descReachable, descKeyRefused, descRate, descSharedUp} {
		ch <- d
	}
}

func (g gauges) Collect(ch chan<- prometheus.Metric) {
	if st, err := g.src.QueueStats(time.Now()); err != nil {
		// No queue series: the scrape reports the error, and the
		// alerts on absent series fire rather than on a false zero.
		ch <- prometheus.NewInvalidMetric(descQueueJobs, err)
	} else {
		for _, s := range queue.States() {
			ch <- prometheus.MustNewConstMetric(descQueueJobs, prometheus.GaugeValue, float64(st.Depth[s]), string(s))
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, max(st.OldestPending, st.OldestAmbiguous).Seconds())
		ch <- prometheus.MustNewConstMetric(descQuarantined, prometheus.GaugeValue, float64(st.Quarantined))
	}
	for name, open := range g.src.Scanners() {
		ch <- prometheus.MustNewConstMetric(descScanner, prometheus.GaugeValue, b2f(open), name)
	}
	reachable, refused := g.src.APIState()
	ch <- prometheus.MustNewConstMetric(descReachable, prometheus.GaugeValue, b2f(reachable))
	ch <- prometheus.MustNewConstMetric(descKeyRefused, prometheus.GaugeValue, b2f(refused))
	pace := g.src.APIPacing()
	ch <- prometheus.MustNewConstMetric(descRate, prometheus.GaugeValue, pace.Rate)
	if pace.Shared != apiclient.SharedOff {
		ch <- prometheus.MustNewConstMetric(descSharedUp, prometheus.GaugeValue, b2f(pace.Shared == apiclient.SharedOK))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// daemonGauges reads the gauges from the daemon's components.
type daemonGauges struct{ d *daemon }

func (g daemonGauges) QueueStats(now time.Time) (queue.Stats, error) { return g.d.q.Stats(now) }

func (g daemonGauges) APIState() (reachable, keyRefused bool) {
	return g.d.worker.Status().APIReachable, g.d.api.Status().Refused != nil
}

func (g daemonGauges) APIPacing() apiclient.Status { return g.d.api.Status() }

func (g daemonGauges) Scanners() map[string]bool {
	out := make(map[string]bool, len(g.d.sources))
	for _, s := range g.d.sources {
		s.mu.Lock()
		out[s.src.Name()] = s.connected
		s.mu.Unlock()
	}
	return out
}

// countingOperator counts the jobs an operator finishes: dropped, or
// resolved as applied.
type countingOperator struct {
	control.Operator
	m *metrics
}

// operator returns op with its finishing decisions counted.
func (m *metrics) operator(op control.Operator) countingOperator {
	return countingOperator{Operator: op, m: m}
}

func (o countingOperator) DropJob(ctx context.Context, id string, req control.DropRequest) error {
	err := o.Operator.DropJob(ctx, id, req)
	if err == nil {
		o.m.finished.WithLabelValues("dropped").Inc()
	}
	return err
}

func (o countingOperator) ResolveJob(ctx context.Context, id string, req control.ResolveRequest) error {
	err := o.Operator.ResolveJob(ctx, id, req)
	if err == nil && req.Applied != nil && *req.Applied {
		o.m.finished.WithLabelValues("applied").Inc()
	}
	return err
}
