package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// NotReady implements control.Prober: the one rule behind /readyz and
// the exit code of `tillscan status`. Ready means the daemon can do its
// job: it accepts scans, the queue can be read, the worker's loop runs
// (the watchdog's verdict) and the API client is not stopped by a
// refused key. An unreachable API is not "not ready": scans are saved
// and sent later, and a restart would not help.
func (b statusBackend) NotReady(ctx context.Context) []string {
	d, now := b.d, time.Now()
	var why []string
	if !d.accepting.Load() {
		why = append(why, "not accepting scans (starting or stopping)")
	}
	if _, err := d.q.Stats(now); err != nil {
		why = append(why, "the queue cannot be read: "+err.Error())
	}
	if !d.watch.workerRunning(now) {
		why = append(why, "the worker that sends saved scans is not making progress")
	}
	if refused := d.api.Status().Refused; refused != nil {
		why = append(why, "sending is stopped: the API refused the key ("+refused.Error()+"); fix the key, then systemctl reload tillscan")
	}
	return why
}

// Gatherer implements control.Metered.
func (b statusBackend) Gatherer() prometheus.Gatherer { return b.d.metrics.Gatherer() }
