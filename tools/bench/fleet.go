package main

// Several tills on one API key: real daemons (fixed rate, adaptive, shared
// limiter) or in-process clients, measured over a window through nginx.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/redislimit"
	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// fleetResult is several tills on one key for a window of time.
type fleetResult struct {
	tills    int
	burst    int
	driver   string // "daemon-…" or the in-process client's mode
	tally    tally
	requests int
	run      int           // 1..runs: which run of the same fleet this is
	runs     int           // how many times that fleet ran
	skipped  time.Duration // the start of the run left out of the tally
}

// settleSkip is how much of a settled fleet's run is left uncounted: the
// start, which decides a fleet's first minute (see docs/api.md).
// settleCounted is the least of it that must be counted after that.
const (
	settleSkip    = time.Minute
	settleCounted = 30 * time.Second
)

// fleetDaemons runs tills real daemons at their default config on one key
// through nginx (burst as given), each with a queued backlog, and counts
// what nginx answered while all of them still had work.
//
// driver names the config: "daemon-fixed" (api.adaptive: false),
// "daemon-adaptive" (api.adaptive: true) or "daemon-shared"
// (api.shared_limiter: shared), each started as after a power cut; or
// "daemon-adaptive-clean" (api.adaptive: true) started after a clean
// stop. The tally leaves out the first skip of the window.
func (r *rig) fleetDaemons(ctx context.Context, driver string, tills, burst int, window time.Duration, shared string, skip time.Duration) (fleetResult, error) {
	dir := r.scratch(fmt.Sprintf("fleet-%s-%d-b%d", driver, tills, burst))
	var extra string
	switch driver {
	case "daemon-fixed":
		extra = "  adaptive: false\n"
	case "daemon-adaptive", "daemon-adaptive-clean":
		extra = "  adaptive: true\n"
	case "daemon-shared":
		extra = fmt.Sprintf("  shared_limiter: %q\n", shared)
	}
	// A backlog of 1.5 times a till's share of the window; a settled run
	// is long enough for the till that leads after the start to drain
	// that and end the run early (one of ten at 1m47s of 3m), so 2.5.
	ahead := 1.5
	if skip > 0 {
		ahead = 2.5
	}
	each := int(window.Seconds()*limit/float64(tills)*ahead) + 20
	seed, cards := stampCards(3, 5*tills)
	a, err := startAPI(filepath.Join(dir, "nginx"), seed, 0, tills, burst)
	if err != nil {
		return fleetResult{}, err
	}
	defer a.close()
	ts := make([]*till, tills)
	for i := range ts {
		if ts[i], err = newTill(r.bin, filepath.Join(dir, fmt.Sprintf("till%d", i)), fmt.Sprintf("till%d", i)); err != nil {
			return fleetResult{}, err
		}
		defer ts[i].close()
		if err := fill(ctx, ts[i], cards[5*i:5*i+5], each); err != nil {
			return fleetResult{}, err
		}
	}
	// Start them together, as after a power cut: no till stopped cleanly,
	// so none finds a handover and each waits its second before its
	// first request (see apiclient.Handover), and they meet the limit
	// together. After the clean stop that ended fill each finds one and
	// sends as soon as it is up; ten daemons starting on this small
	// machine are up one after another over half a second or so, and the
	// last come to a key the first have taken.
	if driver != "daemon-adaptive-clean" {
		for _, t := range ts {
			if err := os.Remove(filepath.Join(t.dir, "state", apiclient.HandoverFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fleetResult{}, err
			}
		}
	}
	errs := make([]error, tills)
	var wg sync.WaitGroup
	for i, t := range ts {
		t.apiExtra = extra
		wg.Go(func() { errs[i] = t.start(a.url(i), "") })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fleetResult{}, err
		}
	}
	began := time.Now()
	end := began.Add(window)
	// The window ends early when a till runs out of work.
	for time.Now().Before(end) {
		time.Sleep(500 * time.Millisecond)
		for _, t := range ts {
			if t.count("applied") >= each {
				end = time.Now()
			}
		}
	}
	for _, t := range ts {
		t.stop()
	}
	if skip > 0 && end.Sub(began) < skip+settleCounted {
		return fleetResult{}, fmt.Errorf("a till ran out of work after %v, too soon to count %v after the first %v", end.Sub(began).Round(time.Second), settleCounted, skip)
	}
	tl, err := a.tally(tills, began.Add(skip), end)
	if err != nil {
		return fleetResult{}, err
	}
	return fleetResult{tills: tills, burst: burst, driver: driver, tally: tl, requests: sum(tl.accepted) + sum(tl.limited), skipped: skip}, nil
}

// fleetClients runs tills in-process apiclient.Clients on one key through
// nginx, each sending one request at a time (as the worker does) for the
// window: the limiter modes the daemon's config cannot select yet.
// shared, if set, is the Redis URL of the shared limiter.
func (r *rig) fleetClients(ctx context.Context, tills, burst int, window time.Duration, adaptive bool, shared string) (fleetResult, error) {
	mode := "fixed"
	switch {
	case shared != "":
		mode = "shared"
	case adaptive:
		mode = "adaptive"
	}
	dir := r.scratch(fmt.Sprintf("fleet-%s-%d-b%d", mode, tills, burst))
	a, err := startAPI(filepath.Join(dir, "nginx"), nil, 0, tills, burst)
	if err != nil {
		return fleetResult{}, err
	}
	defer a.close()
	clients := make([]*apiclient.Client, tills)
	for i := range clients {
		cfg := apiclient.Config{BaseURL: a.url(i), APIKey: sandbox.DemoAPIKey, Adaptive: adaptive}
		if shared != "" {
			sl, err := redislimit.New(shared, limit*(1-apiclient.DefaultHeadroom))
			if err != nil {
				return fleetResult{}, err
			}
			defer sl.Close()
			cfg.Shared = sl
		}
		if clients[i], err = apiclient.New(cfg, zerolog.Nop()); err != nil {
			return fleetResult{}, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	began := time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				c.GetCard(ctx, sandbox.DemoStampCard)
			}
		})
	}
	wg.Wait()
	tl, err := a.tally(tills, began, time.Now())
	if err != nil {
		return fleetResult{}, err
	}
	return fleetResult{tills: tills, burst: burst, driver: mode, tally: tl, requests: sum(tl.accepted) + sum(tl.limited)}, nil
}
