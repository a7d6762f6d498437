package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/redislimit"
	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/cmd/tillscan/control"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner"
)

// runCmd is `tillscan run`, the daemon.
type runCmd struct {
	Config string `short:"c" default:"/etc/tillscan/tillscan.yaml" env:"TILLSCAN_CONFIG" help:"Config file." type:"path"`
}

func (c *runCmd) Run(g *globals) error {
	cfg, err := config.Load(c.Config)
	if err != nil {
		return err
	}
	log, sink, err := newDaemonLogger(cfg.Log.Level, cfg.Log.Format, g.Stderr, g.Env)
	if err != nil {
		return fmt.Errorf("config: %s: %w", c.Config, err)
	}
	// Last: the stop's own lines get out, unless the sink is stalled, which
	// then costs the exit at most logStallAfter.
	defer sink.Close(logFlushLimit)
	key, err := cfg.APIKey(g.Env)
	if err != nil {
		return err
	}
	log.Info().Str("config", c.Config).Str("key_from", key.Source).Str("version", version).Msg("tillscan starting")
	for _, w := range append(cfg.Warnings(), key.Warnings...) {
		log.Warn().Msg(w)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // without this, SIGHUP (systemctl reload) would kill the daemon
	defer signal.Stop(hup)
	d, err := newDaemon(cfg, daemonOptions{
		APIKey: key.Key, Log: log, Stdin: g.Stdin, Notify: true,
		ConfigPath: c.Config, Reload: hup, Env: g.Env,
	})
	if err != nil {
		return err
	}
	return d.run(g.Ctx)
}

// daemonOptions are what the daemon needs besides the config file.
type daemonOptions struct {
	APIKey string
	Log    zerolog.Logger
	Stdin  io.Reader // for stdin scanners
	Notify bool      // send sd_notify messages
	// StatusListener, if set, is used instead of listening on
	// cfg.Status.Listen (the demo picks a free port).
	StatusListener net.Listener
	// OnEvent, if set, gets every till event (the demo prints them).
	OnEvent func(pos.Event)
	// OnInputEnd, if set, is called when a stdin scanner's input ends by
	// itself (EOF: piped scans were all read).
	OnInputEnd func()
	// ConfigPath and Reload: each value on Reload re-reads ConfigPath and
	// applies what can change without a restart (SIGHUP). Env finds the
	// API key again.
	ConfigPath string
	Reload     <-chan os.Signal
	Env        func(string) string
	// POSToken, if set, is the POS endpoints' bearer token instead of the
	// one in status.token_file (the demo makes one up).
	POSToken string
}

// daemon holds the wired components of `tillscan run`. It exists only in
// cmd: packages never see it.
type daemon struct {
	cfg     *config.Config
	opt     daemonOptions
	log     zerolog.Logger
	q       *queue.Queue
	api     *apiclient.Client
	shared  *redislimit.Limiter // nil unless api.shared_limiter
	cache   *pos.Cache
	feed    *pos.Feed
	till    *pos.Till
	worker  *pos.Worker
	events  *eventLogger
	sources []*source
	ln      net.Listener
	started time.Time
	metrics *metrics  // the Prometheus registry and what feeds it
	watch   *watchdog // systemd's watchdog; owns "the worker is running"

	accepting  atomic.Bool
	queueNotes []string                  // set at open: what was wrong with the queue file (moved aside, repaired, quarantined)
	saves      saveHealth                // whether the last scans could be saved
	sender     senderHealth              // whether the worker had to be restarted
	rules      atomic.Pointer[pos.Rules] // swapped by reload
	apiKey     string                    // owned by the reload goroutine after start
	posToken   string                    // bearer token of the POS endpoints; "": they are off
	sock       net.Listener              // the operator socket; nil if off or not made
	sockNote   string                    // why there is no operator socket, for the status page
}

// source is one configured scanner with its state for the status page.
type source struct {
	src  scanner.Source
	typ  string
	pass typer  // nil unless passthrough is on
	term string // terminator re-typed after a passed-through scan

	mu        sync.Mutex // guards what follows
	connected bool
	lastErr   string
}

// typer re-types text on the POS (scanner/passthrough.Keyboard).
type typer interface {
	Type(text, terminator string) error
	Close() error
}

func newDaemon(cfg *config.Config, opt daemonOptions) (*daemon, error) {
	d := &daemon{cfg: cfg, opt: opt, log: opt.Log, started: time.Now()}
	ok := false
	defer func() {
		if !ok {
			d.close()
		}
	}()
	if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
		return nil, fmt.Errorf("state_dir: %w (create it, or let systemd's StateDirectory= do so)", err)
	}
	var err error
	d.q, d.queueNotes, err = openQueue(filepath.Join(cfg.StateDir, "queue.db"), queue.Options{Retention: cfg.Queue.Retention}, d.log)
	if err != nil {
		return nil, err
	}
	d.metrics = newMetrics(cfg.TillID, version)
	d.watch = newWatchdog(func() error { _, err := d.q.Stats(time.Now()); return err }, d.log.With().Str("component", "watchdog").Logger())
	cacheLog := d.log.With().Str("component", "cache").Logger()
	if d.cache, err = pos.NewCache(d.q, cacheLog); err != nil { // the card cache lives in the queue's file
		return nil, err
	}
	// The cache's old home is imported once; failing costs one API request
	// per card, never the start.
	if n, err := pos.ImportCacheFile(d.cache, filepath.Join(cfg.StateDir, "cards.json")); err != nil {
		cacheLog.Warn().Err(err).Msg("the old card cache cards.json could not be imported (each of its cards costs one extra API request; the next start tries again)")
	} else if n > 0 {
		cacheLog.Info().Int("cards", n).Msg("the old card cache cards.json was imported into the queue file and renamed cards.json.imported")
	}
	if err := d.newAPIClient(opt.APIKey); err != nil {
		return nil, err
	}
	rules, err := buildRules(cfg)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	d.feed = pos.NewFeed(50)
	// Subscribed before any component can publish, so the journal has
	// every event.
	d.events = newEventLogger(d.feed, d.log, opt.OnEvent, 256)
	d.metrics.follow(d.feed)
	d.rules.Store(&rules)
	d.apiKey = opt.APIKey
	rulesNow := func() pos.Rules { return *d.rules.Load() }
	d.worker = pos.NewWorker(pos.WorkerConfig{
		TillID:    cfg.TillID,
		Settle:    cfg.Worker.Settle,
		Looks:     cfg.Worker.Looks,
		RetryBase: cfg.Worker.RetryBase,
		RetryCap:  cfg.Worker.RetryCap,
		InFlight:  cfg.Worker.InFlight,
		Currency:  cfg.Currency,
		// Opt-in: an operator looks at every refusal.
		ParkRefusals: cfg.Worker.OnRejected == "park",
		// One read at start, so the status page says "reachable" (or
		// not) before the first scan.
		StartupCheck: true,
		Heartbeat:    d.watch.workerBeat,
	}, d.metrics.queue(d.q), d.api, d.cache, rulesNow, d.feed, d.log.With().Str("component", "worker").Logger())
	d.watch.inFlightSince = d.worker.InFlightSince
	tc, err := newTillConfig(cfg, rulesNow)
	if err != nil {
		return nil, err
	}
	tc.Cards = d.cache // a known card that needs a purchase sum is refused at once
	tc.Jobs = d.q      // caps count the card's saved scans; UNDO cancels or reverses them
	d.till = pos.NewTill(tc, d.metrics.queue(d.q), d.feed, d.worker.Wake, d.log.With().Str("component", "till").Logger())
	d.sources, err = buildSources(cfg, opt.Stdin, d.log)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	d.metrics.registerGauges(daemonGauges{d})
	if opt.OnInputEnd != nil {
		for _, s := range d.sources {
			if s.typ == "stdin" {
				s.src = &endNotifier{Source: s.src, end: opt.OnInputEnd}
			}
		}
	}
	if cfg.Status.Listen != "off" {
		if d.posToken = opt.POSToken; d.posToken == "" {
			if d.posToken, err = cfg.POSToken(); err != nil {
				return nil, err
			}
		}
		d.ln = opt.StatusListener
		if d.ln == nil {
			d.ln, err = net.Listen("tcp", cfg.Status.Listen)
			if err != nil {
				return nil, fmt.Errorf("status.listen %s: %w (another tillscan running? change status.listen or set it to off)", cfg.Status.Listen, err)
			}
		}
	}
	d.listenSocket()
	ok = true
	return d, nil
}

// listenSocket makes the operator socket. Without it the till still takes
// and sends scans, so a failure is a problem to show, not a reason to stop.
func (d *daemon) listenSocket() {
	path := d.cfg.Status.Socket
	if path == "off" {
		return
	}
	ln, err := control.ListenSocket(path)
	if err != nil {
		d.sockNote = fmt.Sprintf("tillscan queue and tillscan status cannot reach this daemon: %v", err)
		d.log.Error().Err(err).Msg("no operator socket: tillscan queue commands cannot reach the daemon")
		return
	}
	d.sock = ln
}

func (d *daemon) close() {
	for _, s := range d.sources {
		if s.pass != nil {
			s.pass.Close()
		}
	}
	if d.ln != nil {
		d.ln.Close()
	}
	if d.sock != nil {
		d.sock.Close()
	}
	if d.shared != nil {
		d.shared.Close()
	}
	if d.q != nil {
		if err := d.q.Close(); err != nil {
			d.log.Error().Err(err).Msg("close queue")
		}
	}
}

// run starts every component and waits until ctx ends or one fails. The
// queue closes last, after every goroutine that uses it has returned.
func (d *daemon) run(ctx context.Context) error {
	defer d.close()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// spawn runs a component on wg with its own context; its failure
	// stops the daemon.
	spawn := func(wg *sync.WaitGroup, ctx context.Context, name string, run func(context.Context) error) {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	var wg sync.WaitGroup
	start := func(name string, run func(context.Context) error) { spawn(&wg, ctx, name, run) }
	if d.ln != nil || d.sock != nil {
		srv := control.New(statusBackend{d}, d.metrics.operator(queueOperator{q: d.q, wake: d.worker.Wake}), d.log.With().Str("component", "control").Logger())
		srv.SetToken(d.posToken)
		if d.ln != nil {
			start("status server", func(ctx context.Context) error { return srv.Serve(ctx, d.ln) })
			d.log.Info().Str("url", "http://"+d.ln.Addr().String()+"/").Msg("status page")
		}
		if d.sock != nil {
			start("operator socket", func(ctx context.Context) error { return srv.ServeSocket(ctx, d.sock) })
			d.log.Info().Str("path", d.sock.Addr().String()).Msg("operator socket")
		}
	}
	// The event log stops last, so that what the worker and the scanners
	// publish while they stop (the last job's "applied") is still written.
	evCtx, evStop := context.WithCancel(context.WithoutCancel(ctx))
	var evWG sync.WaitGroup
	spawn(&evWG, evCtx, "events", d.events.run)
	start("worker", d.runWorker)
	start("pruner", d.prune)
	start("metrics", d.metrics.run)
	if d.opt.Reload != nil {
		start("reload", d.reloadLoop)
	}
	if d.opt.Notify {
		start("systemd status", d.notifyStatus)
		start("systemd watchdog", d.watch.run)
	}
	for _, s := range d.sources {
		start("scanner "+s.src.Name(), func(ctx context.Context) error { return d.supervise(ctx, s) })
	}
	d.accepting.Store(true)
	if d.opt.Notify {
		sddaemon.SdNotify(false, sddaemon.SdNotifyReady)
	}
	d.log.Info().Int("scanners", len(d.sources)).Str("till", d.cfg.TillID).Msg("ready: accepting scans")
	<-ctx.Done()
	d.accepting.Store(false)
	if d.opt.Notify {
		sddaemon.SdNotify(false, sddaemon.SdNotifyStopping)
	}
	wg.Wait()
	d.saveHandover()
	evStop()
	evWG.Wait()
	if err := context.Cause(ctx); !errors.Is(err, context.Canceled) {
		return err
	}
	d.log.Info().Msg("stopped")
	return nil
}

// waitDrained waits until no job is pending, sending or being reconciled,
// or limit passes, or ctx ends.
func (d *daemon) waitDrained(ctx context.Context, limit time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		st, err := d.q.Stats(time.Now())
		if err != nil || st.Depth[queue.Pending]+st.Depth[queue.Sending]+st.Depth[queue.Ambiguous] == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// supervise runs one scanner, restarting it when it fails.
func (d *daemon) supervise(ctx context.Context, s *source) error {
	log := d.log.With().Str("scanner", s.src.Name()).Logger()
	return scanner.Supervise(ctx, s.src, func(sc scanner.Scan) { defer d.watch.scanStarted()(); d.handle(s, sc) }, log, scanner.SuperviseOptions{
		OnState: func(name string, connected bool, err error) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.connected = connected
			s.lastErr = ""
			if err != nil {
				s.lastErr = err.Error()
			}
		},
	})
}
