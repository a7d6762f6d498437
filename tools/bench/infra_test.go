package main

import (
	"path/filepath"
	"testing"
	"time"
)

// Ports handed out together are distinct.
func TestFreePorts(t *testing.T) {
	ports, err := freePorts(50)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d handed out twice in %v", p, ports)
		}
		seen[p] = true
	}
}

// A child that exits before it listens (nginx refusing its config) is
// reported, and stopping it afterwards returns: it hung the bench once.
func TestChild_ExitsBeforeListening(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "out")
	c, err := startChild("false", logPath, "false")
	if err != nil {
		t.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.waitListening(port, logPath); err == nil {
		t.Fatal("waitListening = nil for a program that exited")
	}
	stopped := make(chan struct{})
	go func() { c.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(time.Minute):
		t.Fatal("stop did not return for a program that had exited")
	}
}
