package pos

import "time"

// beat tells WorkerConfig.Heartbeat, if set, that the loop is turning:
// sleep is how long the worker will now wait (for a due job, out of a
// backoff, while the key is refused), 0 when it is about to take a job. A
// supervisor that hears nothing for sleep plus the longest one job may
// take knows the loop is stuck.
func (w *Worker) beat(sleep time.Duration) {
	if w.cfg.Heartbeat != nil {
		w.cfg.Heartbeat(sleep)
	}
}
