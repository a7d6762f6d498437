package main

import (
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

// TestQueueRetryResolveAgree: `queue retry` and `queue resolve` say in
// their help what they do, and do it: retry refuses an uncertain job and
// points at resolve; resolve --applied refuses a job that got a definite
// answer (issue 10: the help once said retry sends uncertain jobs).
func TestQueueRetryResolveAgree(t *testing.T) {
	cfg, q := stoppedQueue(t)
	now := time.Now()
	uncertain := sentJob(t, q, "544256-439-856", now)
	if err := q.Ambiguous(uncertain.ID, queue.Attempt{At: now, Kind: "send", Outcome: "ambiguous"}, now.Add(time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	refused, err := q.EnqueueRefused(queue.Scan{Card: "544256-439-857", TillID: "t", Scanner: "s", Raw: "544256-439-857", ScannedAt: now}, "needs the purchase sum", now)
	if err != nil {
		t.Fatal(err)
	}
	q.Close()

	runCLICases(t, []cliCase{
		{"retry help names resolve", []string{"queue", "retry", "--help"}, "resolve it instead", false},
		{"resolve help says applied is for sent jobs", []string{"queue", "resolve", "--help"}, "refused for a job never sent or refused", false},
		{"retry refuses an uncertain job", []string{"queue", "retry", "-c", cfg, uncertain.ID}, "tillscan queue resolve " + uncertain.ID, true},
		{"resolve --applied refuses a refused job", []string{"queue", "resolve", "-c", cfg, refused.ID, "--applied"}, "refused", true},
		{"resolve --applied settles the uncertain one", []string{"queue", "resolve", "-c", cfg, uncertain.ID, "--applied", "--note", "on the dashboard"}, "applied=true", false},
	})
}
