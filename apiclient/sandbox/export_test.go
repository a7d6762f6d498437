package sandbox

import (
	"context"
	"time"
)

// SetSleep replaces the API's wait (latency and slow-body faults) so tests
// never sleep.
func (a *API) SetSleep(f func(context.Context, time.Duration) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sleep = f
}

// OnRelisten sets a function called when an outage ends by itself. Call it
// before Outage.
func (s *Server) OnRelisten(f func()) { s.relistened = f }
