package main

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// A daemon that stops cleanly leaves its client's last writes in the state
// directory; the next start takes them (the file is gone, so a crash after
// it is not mistaken for a clean stop) and hands them to its client
// instead of assuming the whole last second was used.
func TestHandoverAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	d := testDaemonIn(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	before := time.Now()
	if _, err := d.api.GetCard(ctx, sandbox.DemoStampCard); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
	path := d.handoverPath()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no handover after a clean stop: %v", err)
	}
	var h apiclient.Handover
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("handover %s: %v", b, err)
	}
	wrote := false
	for _, w := range h.Written {
		wrote = wrote || !w.Before(before.Round(0))
	}
	if !wrote {
		t.Errorf("handover %s: want the look-up written after %v", b, before)
	}

	d2 := testDaemonIn(t, dir)
	defer d2.close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the handover after the next start: %v; want it taken (removed)", err)
	}
	// Without the handover the new client would assume a whole window of
	// ten writes at its start.
	if n := len(d2.api.Handover().Written); n > len(h.Written) {
		t.Errorf("the restarted client holds %d writes; want at most the %d handed over", n, len(h.Written))
	}
}
