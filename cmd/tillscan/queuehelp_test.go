package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

// TestQueueRetryResolveAgree: `queue retry` and `queue resolve` say in
// their help what they do, and do it: retry refuses an uncertain job and
// points at resolve; resolve --applied refuses a job that got a definite
// answer (issue 10: the help once said retry sends uncertain jobs).
func TestQueueRetryResolveAgree(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("till_id: t\nstate_dir: "+dir+"\nstatus: {listen: 'off'}\n"), 0o600)
	q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	scan := queue.Scan{Card: "544256-439-856", TillID: "t", Scanner: "s", Raw: "544256-439-856", ScannedAt: now}
	uncertain, err := q.Enqueue(scan, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Sending(uncertain.ID, "add-stamp 1", now); err != nil {
		t.Fatal(err)
	}
	if err := q.Ambiguous(uncertain.ID, queue.Attempt{At: now, Kind: "send", Outcome: "ambiguous"}, now.Add(time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	scan.Card = "544256-439-857"
	refused, err := q.EnqueueRefused(scan, "needs the purchase sum", now)
	if err != nil {
		t.Fatal(err)
	}
	q.Close()

	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr bool
	}{
		{"retry help names resolve", []string{"queue", "retry", "--help"}, "resolve it instead", false},
		{"resolve help says applied is for sent jobs", []string{"queue", "resolve", "--help"}, "refused for a job never sent or refused", false},
		{"retry refuses an uncertain job", []string{"queue", "retry", "-c", cfg, uncertain.ID}, "tillscan queue resolve " + uncertain.ID, true},
		{"resolve --applied refuses a refused job", []string{"queue", "resolve", "-c", cfg, refused.ID, "--applied"}, "refused", true},
		{"resolve --applied settles the uncertain one", []string{"queue", "resolve", "-c", cfg, uncertain.ID, "--applied", "--note", "on the dashboard"}, "applied=true", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCLI(t, nil, tt.args...)
			text := strings.Join(strings.Fields(out), " ") // help text wraps
			if err != nil {
				text += " " + err.Error()
			}
			if (err != nil) != tt.wantErr || !strings.Contains(text, tt.want) {
				t.Fatalf("tillscan %v = %q, %v; want error %v and %q", tt.args, out, err, tt.wantErr, tt.want)
			}
		})
	}
}
