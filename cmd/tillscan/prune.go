package main

import (
	"context"
	"time"
)

// prune drops applied jobs past their retention, hourly.
func (d *daemon) prune(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := d.q.Prune(time.Now()); err != nil {
			d.log.Error().Err(err).Msg("prune queue")
		} else if n > 0 {
			d.log.Info().Int("jobs", n).Msg("pruned applied jobs past retention")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
