package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tillscan/tillscan/cmd/tillscan/control"
)

// statusCmd is `tillscan status`: what the running daemon is doing, for the
// installer at a terminal. It exits non-zero when the daemon is not ready
// (the conditions of GET /readyz: the daemon owns that rule) or when
// something else needs attention, so it also serves as a health check.
type statusCmd struct {
	Config string `short:"c" default:"/etc/tillscan/tillscan.yaml" env:"TILLSCAN_CONFIG" help:"Config file (for status.socket and status.listen)." type:"path"`
	JSON   bool   `help:"Print the raw JSON status."`
}

// The errors that make `tillscan status` exit 1 after printing.
var (
	errNeedsAttention = errors.New("needs attention (see above)")
	errNotReady       = errors.New("not ready (see above)")
)

func (c *statusCmd) Run(g *globals) error {
	cfg, socket, err := loadOrDemo(c.Config)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(g.Ctx, 10*time.Second)
	defer cancel()
	// The operator socket first; the read-only status on TCP when the
	// socket is off or this user may not use it.
	client, where := (*control.Client)(nil), socket
	if sc, err := socketClient(ctx, socket); err == nil {
		client = sc
	} else if cfg == nil || cfg.Status.Listen == "off" {
		if errors.Is(err, errNoDaemon) {
			return fmt.Errorf("tillscan is not answering on %s (is it running? systemctl status tillscan)", socket)
		}
		return err
	} else {
		client, where = control.NewClient(cfg.Status.Listen, &http.Client{Timeout: 10 * time.Second}), cfg.Status.Listen
	}
	st, err := client.Status(ctx)
	if err != nil {
		return fmt.Errorf("tillscan is not answering on %s (is it running? systemctl status tillscan): %w", where, err)
	}
	rd, err := client.Ready(ctx)
	if err != nil {
		return fmt.Errorf("tillscan on %s did not say whether it is ready: %w", where, err)
	}
	if c.JSON {
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(st); err != nil {
			return err
		}
	} else {
		printStatus(g, st)
		printReadiness(g, rd)
	}
	switch {
	case !rd.Ready:
		return errNotReady
	case len(st.Problems) > 0 || !st.Accepting:
		return errNeedsAttention
	}
	return nil
}

// printReadiness says why the daemon is not ready, if it is not.
func printReadiness(g *globals, rd control.Readiness) {
	if rd.Ready {
		return
	}
	fmt.Fprintln(g.Stdout, "\nNOT READY:")
	for _, why := range rd.NotReady {
		fmt.Fprintln(g.Stdout, "  -", why)
	}
}

func printStatus(g *globals, st control.Status) {
	tw := tabwriter.NewWriter(g.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "till\t%s (tillscan %s, up %s)\n", st.TillID, st.Version, time.Since(st.Started).Round(time.Second))
	fmt.Fprintf(tw, "accepting scans\t%v\n", st.Accepting)
	api := "reachable"
	switch {
	case st.API.Paused:
		api = "PAUSED: " + st.API.PauseReason
	case !st.API.Reachable && st.API.LastError == "":
		api = "no answer yet"
	case !st.API.Reachable:
		api = "not reachable: " + st.API.LastError
	}
	fmt.Fprintf(tw, "loyalty API\t%s · %s\n", api, st.API.Pacing())
	d := st.Queue.Depth
	fmt.Fprintf(tw, "queue\t%d waiting, %d uncertain, %d need an operator, %d applied (kept)\n", d["pending"], d["ambiguous"], d["dead"], d["done"])
	if st.Queue.OldestPendingAge > 0 {
		fmt.Fprintf(tw, "oldest waiting\t%s\n", (time.Duration(st.Queue.OldestPendingAge) * time.Second).String())
	}
	for _, s := range st.Scanners {
		state := "connected"
		if !s.Connected {
			state = strings.TrimSpace("NOT connected " + s.Error)
		}
		fmt.Fprintf(tw, "scanner %s\t%s, %s\n", s.Name, s.Type, state)
	}
	tw.Flush()
	if len(st.Problems) > 0 {
		fmt.Fprintln(g.Stdout, "\nneeds attention:")
		for _, p := range st.Problems {
			fmt.Fprintln(g.Stdout, "  -", p)
		}
	}
	if len(st.Recent) > 0 {
		fmt.Fprintln(g.Stdout, "\nrecent:")
		for _, e := range st.Recent[:min(len(st.Recent), 8)] {
			fmt.Fprintf(g.Stdout, "  %s  %s\n", e.At.Local().Format(time.TimeOnly), e.Message)
		}
	}
}
