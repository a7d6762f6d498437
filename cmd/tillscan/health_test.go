package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	bolt "go.etcd.io/bbolt"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner"
)

// testDaemon wires a real daemon (bbolt queue in a temp dir, the sandbox
// as the API, no scanners, no status listener).
func testDaemon(t *testing.T) *daemon { return testDaemonIn(t, t.TempDir()) }

func testDaemonIn(t *testing.T, stateDir string) *daemon {
	t.Helper()
	sb, err := sandbox.NewServer(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf("till_id: t\nstate_dir: %q\nstatus: {listen: 'off'}\napi: {base_url: %q}\n", stateDir, sb.URL)))
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(cfg, daemonOptions{APIKey: sandbox.DemoAPIKey, Log: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func problems(d *daemon) string {
	return strings.Join(statusBackend{d}.Status(context.Background()).Problems, "\n")
}

// TestNotSavedShownUntilSaved is the regression test for the status page
// saying "All good" while scans were NOT saved (disk full): the last
// failure is a problem until a scan is saved again.
func TestNotSavedShownUntilSaved(t *testing.T) {
	d := testDaemon(t)
	defer d.close()
	if p := problems(d); p != "" {
		t.Fatalf("problems at start: %s", p)
	}
	d.saves.record(pos.Event{Kind: pos.EventNotSaved, At: time.Now(), Err: "queue: write: no space left on device"})
	if p := problems(d); !strings.Contains(p, "NOT saved") || !strings.Contains(p, "no space left") {
		t.Fatalf("problems after a NOT saved scan = %q", p)
	}
	d.saves.record(pos.Event{Kind: pos.EventSaved})
	if p := problems(d); p != "" {
		t.Fatalf("problems after a saved scan = %q, want none", p)
	}
}

// TestWorkerErrorDoesNotEndRun: the worker failing on the queue (here: the
// file closed under it) is logged, shown and retried; the daemon keeps
// running and taking scans (which now say NOT saved) until it is stopped.
func TestWorkerErrorDoesNotEndRun(t *testing.T) {
	d := testDaemon(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := d.q.Close(); err != nil { // every queue call fails from now on
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	deadline := time.Now().Add(20 * time.Second) // a hang guard, not a timing assertion
	for !strings.Contains(problems(d), "sending stopped with an error") {
		select {
		case err := <-done:
			t.Fatalf("run ended by itself: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no problem shown for the failing worker; problems: %s", problems(d))
		}
	}
	d.handle(&source{src: scanner.NewStdin("s", strings.NewReader(""), zerolog.Nop())}, scanner.Scan{Scanner: "s", Text: "544256-439-856", At: time.Now()})
	if p := problems(d); !strings.Contains(p, "NOT saved") {
		t.Fatalf("problems after a scan on a broken queue = %q", p)
	}
	select {
	case err := <-done:
		t.Fatalf("run ended by itself: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v after stop, want nil", err)
	}
}

// TestDamagedRecordShownAndOthersSent: a job record damaged on disk is
// reported once at start and on the status page, and the other card's job
// is still sent: one bad record neither ends nor stalls the daemon.
func TestDamagedRecordShownAndOthersSent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.db")
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	bad, err := q.Enqueue(queue.Scan{Card: "612001-100-201", TillID: "t", Scanner: "s", Raw: "612001-100-201", ScannedAt: now}, now)
	if err != nil {
		t.Fatal(err)
	}
	good, err := q.Enqueue(queue.Scan{Card: "544256-439-856", TillID: "t", Scanner: "s", Raw: "544256-439-856", ScannedAt: now}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("jobs")).Put([]byte(bad.ID), []byte(`{"id": "damaged`))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	d := testDaemonIn(t, dir)
	if p := problems(d); !strings.Contains(p, "damaged record") {
		t.Fatalf("problems = %q, want the damaged record reported", p)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for {
		j, err := d.q.Get(good.ID)
		if err == nil && j.State == queue.Done {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended by itself: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the undamaged job is not applied: %+v, %v; problems: %s", j, err, problems(d))
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
}
