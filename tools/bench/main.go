// Command bench measures tillscan against issue 11's performance targets
// and writes docs/PERFORMANCE.md: the real daemon (built from this
// checkout) fed through pty serial scanners, Debian's nginx as the API's
// independent rate limiter (limit_req keyed on x-api-key, 10 r/s, 429)
// in front of the sandbox (its own limiter off, its latency fault as the
// API's answer time), and redis-server for the shared limiter. nginx and
// redis run as child processes on loopback ports with their files in a
// temporary directory; as root the bench installs nginx-light and
// redis-server with apt-get when they are missing.
//
// Run it from the module root:
//
//	go run ./tools/bench                  # the short set, a few minutes
//	go run ./tools/bench -full            # every figure at issue 11's sizes (about an hour)
//	go run ./tools/bench -only drain,idle # some scenarios; the report holds only those
//
// Every run is bounded: each scenario has a time budget and fails rather
// than wait longer.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the bench's flags.
type options struct {
	full      bool
	only      map[string]bool
	out       string
	keep      bool
	scans     int
	latencies []time.Duration
	tills     []int
	drivers   map[string]bool
	bursts    []int
	window    time.Duration
	repeat    int
	settle    time.Duration
	samples   int
	cards     int
	jobs      int
	idle      time.Duration
}

var (
	scenarios = []string{"drain", "applied", "fleet", "saved", "idle"}
	// daemonDrivers run the real binary (see fleetDaemons), in this order.
	daemonDrivers = []string{"daemon-fixed", "daemon-adaptive", "daemon-adaptive-clean", "daemon-shared"}
	fleetDrivers  = append(slices.Clone(daemonDrivers), "fixed", "adaptive", "shared")
)

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	var only, lat, tills, drivers, bursts string
	fs.BoolVar(&o.full, "full", false, "issue 11's sizes: 2000 scans per drain, fleets of 2, 5 and 10 tills for 60s (and the adaptive ones once for 3m, see -settle), 50 000 cards and 100 000 jobs")
	fs.StringVar(&only, "only", "", "comma-separated scenarios to run ("+strings.Join(scenarios, ", ")+"); default all")
	fs.StringVar(&o.out, "out", "docs/PERFORMANCE.md", "the report to write")
	fs.BoolVar(&o.keep, "keep", false, "keep the scratch directory (configs, daemon and nginx logs)")
	fs.IntVar(&o.scans, "scans", 0, "scans queued per drain (default 100, -full 2000)")
	fs.StringVar(&lat, "latencies", "0,100ms,300ms,1s", "API answer times for the drains and scan → applied")
	fs.StringVar(&tills, "tills", "", "fleet sizes (default 2,5; -full 2,5,10)")
	fs.StringVar(&drivers, "drivers", "daemon-fixed,daemon-adaptive,daemon-adaptive-clean,daemon-shared", "fleet drivers: daemon-fixed, daemon-adaptive, daemon-shared (the real binary with api.adaptive false, true, and with api.shared_limiter, started as after a power cut); daemon-adaptive-clean (api.adaptive true, started after a clean stop: staggered, behind the token bucket only); fixed, adaptive, shared (in-process apiclient.Clients)")
	fs.StringVar(&bursts, "bursts", "10,0", "nginx bursts for the fleets (0: strict spacing; n: burst=n nodelay)")
	fs.DurationVar(&o.window, "window", 0, "how long each fleet runs (default 15s, -full 60s)")
	fs.IntVar(&o.repeat, "repeat", 0, "runs of each daemon-adaptive fleet behind a token bucket, whose worst till scatters from run to run (default 1, -full 3)")
	fs.DurationVar(&o.settle, "settle", -1, "also run each daemon-adaptive fleet behind a token bucket once for this long and count its shares after the first minute, when the start is over (0: not; default 0, -full 3m)")
	fs.IntVar(&o.samples, "samples", 10, "scans per answer time for scan → applied")
	fs.IntVar(&o.cards, "cards", 0, "cards in the cache for scan → saved (default 5000, -full 50000)")
	fs.IntVar(&o.jobs, "jobs", 0, "jobs queued for scan → saved (default 10000, -full 100000)")
	fs.DurationVar(&o.idle, "idle", 0, "idle period for the footprint (default 20s, -full 60s)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.only = map[string]bool{}
	for _, s := range strings.FieldsFunc(only, func(r rune) bool { return r == ',' }) {
		if !contains(scenarios, s) {
			return o, fmt.Errorf("-only: unknown scenario %q (want %s)", s, strings.Join(scenarios, ", "))
		}
		o.only[s] = true
	}
	for _, b := range strings.Split(bursts, ",") {
		n, err := strconv.Atoi(b)
		if err != nil || n < 0 || n > 1000 {
			return o, fmt.Errorf("-bursts: %q is not a burst from 0 to 1000", b)
		}
		o.bursts = append(o.bursts, n)
	}
	o.drivers = map[string]bool{}
	for _, d := range strings.Split(drivers, ",") {
		if !contains(fleetDrivers, d) {
			return o, fmt.Errorf("-drivers: unknown driver %q (want %s)", d, strings.Join(fleetDrivers, ", "))
		}
		o.drivers[d] = true
	}
	for _, s := range strings.Split(lat, ",") {
		if s == "0" {
			o.latencies = append(o.latencies, 0)
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return o, fmt.Errorf("-latencies: %q is not a duration like 300ms", s)
		}
		o.latencies = append(o.latencies, d)
	}
	pick := func(v *int, short, full int) {
		if *v == 0 {
			*v = short
			if o.full {
				*v = full
			}
		}
	}
	pick(&o.scans, 100, 2000)
	pick(&o.cards, 5000, 50_000)
	pick(&o.jobs, 10_000, 100_000)
	pick(&o.repeat, 1, 3)
	if o.repeat < 1 {
		return o, fmt.Errorf("-repeat: %d is not a number of runs (1 or more)", o.repeat)
	}
	if o.window == 0 {
		o.window = map[bool]time.Duration{false: 15 * time.Second, true: 60 * time.Second}[o.full]
	}
	if o.settle < 0 {
		o.settle = map[bool]time.Duration{false: 0, true: 3 * time.Minute}[o.full]
	}
	if o.settle != 0 && o.settle < settleSkip+settleCounted {
		return o, fmt.Errorf("-settle: %v leaves less than %v after the first %v to count", o.settle, settleCounted, settleSkip)
	}
	if o.idle == 0 {
		o.idle = map[bool]time.Duration{false: 20 * time.Second, true: 60 * time.Second}[o.full]
	}
	if tills == "" {
		tills = map[bool]string{false: "2,5", true: "2,5,10"}[o.full]
	}
	for _, s := range strings.Split(tills, ",") {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 50 {
			return o, fmt.Errorf("-tills: %q is not a number of tills from 1 to 50", s)
		}
		o.tills = append(o.tills, n)
	}
	return o, nil
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func (o options) runs(s string) bool { return len(o.only) == 0 || o.only[s] }

func main() {
	o, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, args []string) error {
	if err := ensurePackages(ctx, map[string]string{"nginx": "nginx-light", "redis-server": "redis-server"}); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "tillscan-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "bench: scratch directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	r := &rig{dir: dir}
	if o.runs("drain") || o.runs("applied") || o.runs("saved") || o.runs("idle") || o.runs("fleet") && slices.ContainsFunc(daemonDrivers, func(d string) bool { return o.drivers[d] }) {
		if r.bin, err = buildDaemon(ctx, dir); err != nil {
			return err
		}
	}
	rep := &report{started: time.Now(), command: "go run ./tools/bench " + strings.Join(args, " "), checkout: gitDescribe(), opts: o}
	// The report is rewritten after every scenario, so a run cut short
	// keeps what it measured.
	step := func(what string) {
		fmt.Fprintf(os.Stderr, "bench: %s %s\n", time.Now().Format("15:04:05"), what)
		rep.finished = time.Now()
		if err := rep.write(o.out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}

	if o.runs("drain") {
		for _, l := range o.latencies {
			step(fmt.Sprintf("drain of %d scans at %v", o.scans, l))
			d, err := r.drain(ctx, l, o.scans)
			if err != nil {
				return fmt.Errorf("drain at %v: %w", l, err)
			}
			rep.drains = append(rep.drains, d)
		}
	}
	if o.runs("applied") {
		for _, l := range o.latencies {
			step(fmt.Sprintf("scan → applied at %v", l))
			a, err := r.scanToApplied(ctx, l, o.samples)
			if err != nil {
				return fmt.Errorf("scan → applied at %v: %w", l, err)
			}
			rep.applied = append(rep.applied, a)
		}
	}
	if o.runs("fleet") {
		redis, err := startRedis(r.scratch("redis"))
		if err != nil {
			return err
		}
		defer redis.stop()
		for _, n := range o.tills {
			for _, burst := range o.bursts {
				for _, driver := range daemonDrivers {
					if !o.drivers[driver] || driver == "daemon-adaptive-clean" && burst == 0 {
						continue
					}
					runs := 1
					if driver == "daemon-adaptive" && burst > 0 {
						runs = o.repeat
					}
					for run := 1; run <= runs; run++ {
						step(fmt.Sprintf("fleet of %d %s, burst %d (run %d of %d)", n, driver, burst, run, runs))
						f, err := r.fleetDaemons(ctx, driver, n, burst, o.window, redis.url(), 0)
						if err != nil {
							return fmt.Errorf("fleet of %d %s: %w", n, driver, err)
						}
						f.run, f.runs = run, runs
						rep.fleets = append(rep.fleets, f)
					}
				}
				if o.settle > 0 && o.drivers["daemon-adaptive"] && burst > 0 {
					step(fmt.Sprintf("fleet of %d daemon-adaptive, burst %d, for %v, counted after %v", n, burst, o.settle, settleSkip))
					f, err := r.fleetDaemons(ctx, "daemon-adaptive", n, burst, o.settle, redis.url(), settleSkip)
					if err != nil {
						return fmt.Errorf("fleet of %d daemon-adaptive, settled: %w", n, err)
					}
					rep.settled = append(rep.settled, f)
				}
				for _, mode := range []struct {
					driver   string
					adaptive bool
					shared   string
				}{{"fixed", false, ""}, {"adaptive", true, ""}, {"shared", true, redis.url()}} {
					if !o.drivers[mode.driver] {
						continue
					}
					step(fmt.Sprintf("fleet of %d %s clients, burst %d", n, mode.driver, burst))
					f, err := r.fleetClients(ctx, n, burst, o.window, mode.adaptive, mode.shared)
					if err != nil {
						return fmt.Errorf("fleet of %d clients: %w", n, err)
					}
					rep.fleets = append(rep.fleets, f)
				}
			}
		}
	}
	if o.runs("saved") {
		// The same path on an empty till first: the target is "unchanged".
		for _, size := range [][2]int{{0, 0}, {o.cards, o.jobs}} {
			step(fmt.Sprintf("scan → saved with %d cards cached and %d jobs queued", size[0], size[1]))
			s, err := r.scanToSaved(ctx, size[0], size[1], savedSamples)
			if err != nil {
				return fmt.Errorf("scan → saved: %w", err)
			}
			rep.saved = append(rep.saved, s)
		}
	}
	if o.runs("idle") {
		step(fmt.Sprintf("idle footprint over %v", o.idle))
		f, err := r.idle(ctx, o.idle)
		if err != nil {
			return fmt.Errorf("idle: %w", err)
		}
		rep.idle = &f
	}
	rep.finished = time.Now()
	if err := rep.write(o.out); err != nil {
		return err
	}
	step("wrote " + o.out)
	return nil
}
