package main

import (
	"fmt"
	"path/filepath"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/redislimit"
)

// newAPIClient makes the daemon's one API client: with the shared limiter
// on Redis if configured, and with what the last process's client left
// (see saveHandover).
func (d *daemon) newAPIClient(apiKey string) error {
	cfg := d.cfg
	var shared apiclient.SharedLimiter
	if url := cfg.API.SharedLimiter; url != "" {
		// The whole key's limit, less the client's headroom for the time
		// between Redis's decision and the request reaching the API.
		var err error
		d.shared, err = redislimit.New(url, cfg.API.RateLimit*(1-apiclient.DefaultHeadroom))
		if err != nil {
			return fmt.Errorf("api.shared_limiter: %w", err)
		}
		shared = d.shared
	}
	// A clean stop lets the first request go at once instead of a second
	// later.
	handover, err := apiclient.TakeHandover(d.handoverPath())
	if err != nil {
		d.log.Warn().Err(err).Msg("the last process's record of its API requests is unusable: the first request waits about a second")
	}
	d.api, err = apiclient.New(apiclient.Config{
		BaseURL:   cfg.API.BaseURL,
		APIKey:    apiKey,
		RateLimit: cfg.API.RateLimit,
		Timeout:   cfg.API.Timeout,
		Adaptive:  cfg.API.AdaptiveOn(),
		Shared:    shared,
		Handover:  handover,
		Observer:  d.metrics,
	}, d.log.With().Str("component", "api").Logger())
	return err
}

// saveHandover records the client's last requests for the next start;
// called once nothing sends any more, so the next process need not wait
// for what this one sent long ago.
func (d *daemon) saveHandover() {
	if err := apiclient.SaveHandover(d.handoverPath(), d.api.Handover()); err != nil {
		d.log.Warn().Err(err).Msg("could not record this process's last API requests: the next start waits about a second before its first request")
	}
}

// handoverPath is where a stopping daemon leaves its client's Handover
// for the next start.
func (d *daemon) handoverPath() string { return filepath.Join(d.cfg.StateDir, apiclient.HandoverFile) }
