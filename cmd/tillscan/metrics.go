package main

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
)

// metrics owns the daemon's Prometheus registry (docs/metrics.md is the
// contract with the alert rules and the dashboard). Counters and
// histograms are fed where things happen: the till's events on the feed,
// the API client's Observer, the queue writes made through observedQueue.
// Gauges are read at scrape time from the state's one owner (gauges.go),
// never kept as a second copy. Packages stay free of Prometheus: they
// expose small hooks and this file implements them.
type metrics struct {
	reg *prometheus.Registry

	scans         *prometheus.CounterVec // outcome
	finished      *prometheus.CounterVec // result
	dead          prometheus.Counter
	requests      *prometheus.CounterVec   // endpoint, code
	reconciles    *prometheus.CounterVec   // result
	answerTime    *prometheus.HistogramVec // endpoint
	limiterWait   prometheus.Histogram
	commitTime    prometheus.Histogram
	scanToApplied prometheus.Histogram

	feed *pos.Feed
	sub  *pos.Subscription // set by follow, before run, so no scan is missed
	last uint64            // Seq of the last event counted; owned by run
}

// The label values of the counters, each exported from the start at 0 so
// rate() and alerts see a zero rather than no series.
var (
	scanOutcomes     = []string{"saved", "not_saved", "not_card", "repeat", "command", "refused"}
	finishedResults  = []string{"applied", "refused", "dropped"}
	reconcileResults = []string{"found", "absent", "duplicate", "error"}
	// requestCodes are the codes pre-set per endpoint: what the alerts
	// divide by and compare. Others appear when they happen.
	requestCodes = []string{"200", "429", "error"}
)

// Histogram buckets, in seconds, chosen for what each measures.
var (
	// An API answer: tens of milliseconds on a good line, up to the
	// client's timeout (10s by default) on a bad one.
	answerBuckets = []float64{.025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	// A limiter wait: 0 when idle, 1/rate in a burst, up to a Retry-After.
	waitBuckets = []float64{.001, .01, .05, .1, .25, .5, 1, 5, 15, 60}
	// An fsync'd commit: a millisecond on an SSD, tens on an SD card, a
	// second or more on a failing one.
	commitBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1, 5}
	// Scan to applied: under a second online, minutes or hours after an
	// outage.
	appliedBuckets = []float64{.25, .5, 1, 2.5, 5, 15, 60, 300, 1800, 3600, 4 * 3600, 24 * 3600}
)

// newMetrics returns the registry with every tillscan metric (the gauges
// are added by registerGauges once their owners exist) plus the Go and
// process collectors. Call follow before anything publishes on the feed.
func newMetrics(tillID, version string) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tillscan_scans_total",
			Help: "Scans read, by what the till did with them."}, []string{"outcome"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tillscan_jobs_finished_total",
			Help: "Jobs that reached a final state, by that state."}, []string{"result"}),
		dead: prometheus.NewCounter(prometheus.CounterOpts{Name: "tillscan_jobs_dead_total",
			Help: "Jobs parked for an operator (the till could not decide)."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tillscan_api_requests_total",
			Help: "Requests sent to the loyalty API, by endpoint class and HTTP status (error: no answer)."}, []string{"endpoint", "code"}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tillscan_reconciliations_total",
			Help: "Looks in the API's operations log for an uncertain job's marker, by result."}, []string{"result"}),
		answerTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "tillscan_api_request_duration_seconds",
			Help: "Time from sending an API request to its answer or failure.", Buckets: answerBuckets}, []string{"endpoint"}),
		limiterWait: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tillscan_limiter_wait_seconds",
			Help: "Time a request waited for the rate limiter (and any 429 pause) before it could start.", Buckets: waitBuckets}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tillscan_queue_commit_duration_seconds",
			Help: "One fsync'd queue write (what \"saved\" waits for).", Buckets: commitBuckets}),
		scanToApplied: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tillscan_scan_to_applied_seconds",
			Help: "Time from a scan to the API's applied, for applied jobs.", Buckets: appliedBuckets}),
	}
	for _, v := range scanOutcomes {
		m.scans.WithLabelValues(v)
	}
	for _, v := range finishedResults {
		m.finished.WithLabelValues(v)
	}
	for _, v := range reconcileResults {
		m.reconciles.WithLabelValues(v)
	}
	for _, e := range apiclient.Endpoints() {
		m.answerTime.WithLabelValues(string(e))
		for _, c := range requestCodes {
			m.requests.WithLabelValues(string(e), c)
		}
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{Name: "tillscan_till_info",
		Help: "Always 1: which till and tillscan version this target is.", ConstLabels: prometheus.Labels{"till_id": tillID, "version": version}})
	info.Set(1)
	m.reg.MustRegister(m.scans, m.finished, m.dead, m.requests, m.reconciles,
		m.answerTime, m.limiterWait, m.commitTime, m.scanToApplied, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// follow subscribes to the till's events, so run counts every scan
// published from now on.
func (m *metrics) follow(feed *pos.Feed) {
	m.feed, m.last = feed, feed.LastSeq()
	m.sub = feed.Follow(pos.FollowOptions{Buffer: 256}) // no Wait: counting never slows the till
}

// Gatherer is what /metrics serves.
func (m *metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Waited implements apiclient.Observer.
func (m *metrics) Waited(d time.Duration) { m.limiterWait.Observe(d.Seconds()) }

// Answered implements apiclient.Observer.
func (m *metrics) Answered(e apiclient.Endpoint, status int, d time.Duration) {
	code := "error"
	if status != 0 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(string(e), code).Inc()
	m.answerTime.WithLabelValues(string(e)).Observe(d.Seconds())
}

// run counts the till's scans from the feed until ctx ends. A subscription
// the feed ended because it fell behind is followed again and the missed
// events are read back from the feed's history.
func (m *metrics) run(ctx context.Context) error {
	defer func() { m.sub.Close() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-m.sub.C:
			if !ok {
				m.sub = m.feed.Follow(pos.FollowOptions{Buffer: cap(m.sub.C)})
				for _, ev := range m.feed.Since(m.last) {
					m.countScan(ev)
				}
				continue
			}
			m.countScan(ev)
		}
	}
}

// countScan counts ev if it is the till's outcome for a scan and was not
// counted yet. Jobs are counted where the queue records them
// (observedQueue), not from events.
func (m *metrics) countScan(ev pos.Event) {
	if ev.Seq <= m.last {
		return
	}
	m.last = ev.Seq
	if o := scanOutcome(ev); o != "" {
		m.scans.WithLabelValues(o).Inc()
	}
}

// scanOutcome is ev's outcome label, "" for events about jobs. A refused
// event carries the scanned text only when the till refused the scan
// itself (pos.Event.Raw); the worker's refusals are about jobs.
func scanOutcome(ev pos.Event) string {
	switch ev.Kind {
	case pos.EventSaved:
		return "saved"
	case pos.EventNotSaved:
		return "not_saved"
	case pos.EventNotCard:
		return "not_card"
	case pos.EventRepeat:
		return "repeat"
	case pos.EventMode:
		return "command"
	case pos.EventRefused:
		if ev.Raw != "" {
			return "refused"
		}
	}
	return ""
}

// observedQueue is the queue as the till and the worker use it: each write
// is timed (the commit histogram), and the jobs it finishes, parks and
// reconciles are counted as the queue records them.
type observedQueue struct {
	*queue.Queue
	m *metrics
}

// queue returns q observed by m.
func (m *metrics) queue(q *queue.Queue) observedQueue { return observedQueue{Queue: q, m: m} }

// timed runs one write and records its time when it succeeded.
func (o observedQueue) timed(write func() error) error {
	start := time.Now()
	err := write()
	if err == nil {
		o.m.commitTime.Observe(time.Since(start).Seconds())
	}
	return err
}

func (o observedQueue) Enqueue(s queue.Scan, now time.Time) (j queue.Job, err error) {
	err = o.timed(func() error { j, err = o.Queue.Enqueue(s, now); return err })
	return j, err
}

func (o observedQueue) EnqueueRefused(s queue.Scan, reason string, now time.Time) (j queue.Job, err error) {
	err = o.timed(func() error { j, err = o.Queue.EnqueueRefused(s, reason, now); return err })
	if err == nil {
		o.m.finished.WithLabelValues("refused").Inc()
	}
	return j, err
}

func (o observedQueue) Sending(id string, action string, now time.Time) error {
	return o.timed(func() error { return o.Queue.Sending(id, action, now) })
}

func (o observedQueue) Done(id string, a queue.Attempt, result string) error {
	err := o.timed(func() error { return o.Queue.Done(id, a, result) })
	if err == nil {
		o.m.finished.WithLabelValues("applied").Inc()
		o.reconciled(a)
		if j, gerr := o.Queue.Get(id); gerr == nil && !j.ScannedAt.IsZero() {
			o.m.scanToApplied.Observe(time.Since(j.ScannedAt).Seconds())
		}
	}
	return err
}

func (o observedQueue) Retry(id string, a queue.Attempt, next time.Time) error {
	err := o.timed(func() error { return o.Queue.Retry(id, a, next) })
	if err == nil {
		o.reconciled(a)
	}
	return err
}

func (o observedQueue) Ambiguous(id string, a queue.Attempt, recheck time.Time, misses int) error {
	err := o.timed(func() error { return o.Queue.Ambiguous(id, a, recheck, misses) })
	if err == nil {
		o.reconciled(a)
	}
	return err
}

func (o observedQueue) Dead(id string, a queue.Attempt, reason string) error {
	err := o.timed(func() error { return o.Queue.Dead(id, a, reason) })
	if err == nil {
		o.m.dead.Inc()
		o.reconciled(a)
	}
	return err
}

func (o observedQueue) Refuse(id string, a queue.Attempt, reason string) error {
	err := o.timed(func() error { return o.Queue.Refuse(id, a, reason) })
	if err == nil {
		o.m.finished.WithLabelValues("refused").Inc()
		o.reconciled(a)
	}
	return err
}

// reconciled counts a reconciliation read by its recorded outcome.
func (o observedQueue) reconciled(a queue.Attempt) {
	if a.Kind != "reconcile" {
		return
	}
	result := "error"
	switch a.Outcome {
	case "found", "absent", "duplicate":
		result = a.Outcome
	}
	o.m.reconciles.WithLabelValues(result).Inc()
}
