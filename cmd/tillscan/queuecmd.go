package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/cmd/tillscan/control"
	"github.com/tillscan/tillscan/queue"
)

// queueCmd is `tillscan queue …`: inspect and fix the queue. While the
// daemon runs it holds the queue file, so the commands go through its
// operator socket (status.socket); when it is stopped they open the file
// directly.
type queueCmd struct {
	Stats   queueStatsCmd   `cmd:"" help:"Jobs per state and the age of the oldest waiting one."`
	List    queueListCmd    `cmd:"" help:"List jobs, oldest first."`
	Show    queueShowCmd    `cmd:"" help:"Show one job with every attempt."`
	Retry   queueRetryCmd   `cmd:"" help:"Send a dead job again now. An uncertain job (sent, outcome unknown) is refused: a blind re-send could apply it twice; resolve it instead."`
	Drop    queueDropCmd    `cmd:"" help:"Give up on a job (kept as a tombstone for audit); releases its card."`
	Resolve queueResolveCmd `cmd:"" help:"Settle an uncertain job (sent, outcome unknown) after checking the loyalty dashboard: --applied marks it done (refused for a job never sent or refused), --not-applied sends it again."`
	Export  queueExportCmd  `cmd:"" help:"Write every job as JSON lines (for support)."`
	Check   queueCheckCmd   `cmd:"" help:"Check the queue file's integrity."`
	Compact queueCompactCmd `cmd:"" help:"Shrink the queue file (daemon must be stopped)."`
}

// queueTarget finds the queue: the running daemon's operator socket (or a
// running demo's, when there is no config file), or the file.
type queueTarget struct {
	Config string `short:"c" default:"/etc/tillscan/tillscan.yaml" env:"TILLSCAN_CONFIG" help:"Config file." type:"path"`
}

// open returns an Operator and a function to release it.
func (t queueTarget) open(ctx context.Context) (control.Operator, func(), error) {
	cfg, socket, err := loadOrDemo(t.Config)
	if err != nil {
		return nil, nil, err
	}
	c, err := socketClient(ctx, socket)
	if err == nil {
		return c, func() {}, nil
	} else if !errors.Is(err, errNoDaemon) || cfg == nil {
		return nil, nil, err
	}
	path := filepath.Join(cfg.StateDir, "queue.db")
	q, err := queue.Open(path, queue.Options{Retention: cfg.Queue.Retention})
	if err != nil {
		return nil, nil, err
	}
	return queueOperator{q: q}, func() { q.Close() }, nil
}

type queueStatsCmd struct{ queueTarget }

func (c *queueStatsCmd) Run(g *globals) error {
	return withOperator(g, c.queueTarget, func(op control.Operator) error {
		st, err := op.QueueStats(g.Ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(g.Stdout, 2, 4, 2, ' ', 0)
		for _, s := range queue.States() {
			fmt.Fprintf(tw, "%s\t%d\n", s, st.Depth[string(s)])
		}
		fmt.Fprintf(tw, "oldest pending\t%s\n", st.OldestPending.Round(time.Second))
		fmt.Fprintf(tw, "oldest ambiguous\t%s\n", st.OldestAmbiguous.Round(time.Second))
		if !st.LastDone.IsZero() {
			fmt.Fprintf(tw, "last applied\t%s\n", st.LastDone.Local().Format(time.DateTime))
		}
		fmt.Fprintf(tw, "file size\t%d bytes\n", st.FileSize)
		if st.MovedAside != "" {
			fmt.Fprintf(tw, "moved aside\t%s (%s)\n", st.MovedAside, st.MovedAsideWhy)
		}
		return tw.Flush()
	})
}

type queueListCmd struct {
	queueTarget
	State string `short:"s" enum:"pending,sending,ambiguous,done,refused,dead,dropped," default:"" help:"Only jobs in this state."`
	Limit int    `short:"n" default:"50" help:"At most this many."`
	After string `help:"Start after this job id (paging)."`
}

func (c *queueListCmd) Run(g *globals) error {
	return withOperator(g, c.queueTarget, func(op control.Operator) error {
		jobs, err := op.ListJobs(g.Ctx, control.ListRequest{State: c.State, Limit: c.Limit, After: c.After})
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(g.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tCARD\tSCANNED\tACTION\tTRIES\tRESULT / REASON")
		for _, j := range jobs {
			note := j.Result
			if j.Reason != "" {
				note = j.Reason
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", j.ID, j.State, j.Card, j.ScannedAt.Local().Format(time.DateTime), j.Action, len(j.Attempts)+j.AttemptsOmitted, note)
		}
		return tw.Flush()
	})
}

type queueShowCmd struct {
	queueTarget
	ID string `arg:"" help:"Job id."`
}

func (c *queueShowCmd) Run(g *globals) error {
	return withOperator(g, c.queueTarget, func(op control.Operator) error {
		j, err := op.GetJob(g.Ctx, c.ID)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(g.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(j)
	})
}

type queueRetryCmd struct {
	queueTarget
	ID string `arg:"" help:"Job id."`
}

func (c *queueRetryCmd) Run(g *globals) error {
	return c.act(g, func(op control.Operator) error { return op.RetryJob(g.Ctx, c.ID) },
		fmt.Sprintf("job %s will be sent again", c.ID))
}

type queueDropCmd struct {
	queueTarget
	ID     string `arg:"" help:"Job id."`
	Reason string `required:"" help:"Why (kept with the tombstone)."`
}

func (c *queueDropCmd) Run(g *globals) error {
	return c.act(g, func(op control.Operator) error { return op.DropJob(g.Ctx, c.ID, control.DropRequest{Reason: c.Reason}) },
		fmt.Sprintf("job %s dropped; its card's next scans go ahead", c.ID))
}

type queueResolveCmd struct {
	queueTarget
	ID         string `arg:"" help:"Job id."`
	Applied    bool   `xor:"outcome" required:"" help:"The dashboard shows the action: mark the job applied."`
	NotApplied bool   `xor:"outcome" required:"" name:"not-applied" help:"The dashboard does not show it: send it again."`
	Note       string `help:"What you checked."`
}

func (c *queueResolveCmd) Run(g *globals) error {
	return c.act(g, func(op control.Operator) error {
		return op.ResolveJob(g.Ctx, c.ID, control.ResolveRequest{Applied: &c.Applied, Note: c.Note})
	}, fmt.Sprintf("job %s resolved as applied=%v", c.ID, c.Applied))
}

type queueExportCmd struct{ queueTarget }

func (c *queueExportCmd) Run(g *globals) error {
	return withOperator(g, c.queueTarget, func(op control.Operator) error { return op.ExportJobs(g.Ctx, g.Stdout) })
}

type queueCheckCmd struct{ queueTarget }

func (c *queueCheckCmd) Run(g *globals) error {
	return c.act(g, func(op control.Operator) error { return op.CheckQueue(g.Ctx) }, "queue OK")
}

type queueCompactCmd struct{ queueTarget }

func (c *queueCompactCmd) Run(g *globals) error {
	cfg, err := config.Load(c.Config)
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.StateDir, "queue.db")
	before, _ := os.Stat(path)
	if err := queue.Compact(path, path); err != nil {
		return fmt.Errorf("compact %s (is tillscan stopped? systemctl stop tillscan): %w", path, err)
	}
	after, err := os.Stat(path)
	if err == nil && before != nil {
		fmt.Fprintf(g.Stdout, "compacted %s: %d → %d bytes\n", path, before.Size(), after.Size())
	}
	return nil
}

// act runs do on the queue and, once it has succeeded, prints done: the
// commands that act (or check) and say so in one line.
func (t queueTarget) act(g *globals, do func(control.Operator) error, done string) error {
	return withOperator(g, t, func(op control.Operator) error {
		if err := do(op); err != nil {
			return err
		}
		fmt.Fprintln(g.Stdout, done)
		return nil
	})
}

func withOperator(g *globals, t queueTarget, f func(control.Operator) error) error {
	op, release, err := t.open(g.Ctx)
	if err != nil {
		return err
	}
	defer release()
	return f(op)
}
