package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/cmd/tillscan/control"
	"github.com/tillscan/tillscan/pos"
)

// TestEventStreamEndsWhenBehind: a stream client that does not keep up
// reads what was buffered, then learns its stream ended and why; events
// are never skipped silently.
func TestEventStreamEndsWhenBehind(t *testing.T) {
	d := &daemon{feed: pos.NewFeed(10)}
	sub := statusBackend{d}.Subscribe(0)
	defer sub.Close()
	for i := range 100 {
		d.feed.Publish(pos.Event{Kind: pos.EventSaved, JobID: string(rune('A' + i%26))})
	}
	var got []uint64
	for {
		ev, err := sub.Next(t.Context())
		if err != nil {
			if !errors.Is(err, errFellBehind) {
				t.Fatalf("Next = %v, want %v", err, errFellBehind)
			}
			break
		}
		got = append(got, ev.Seq)
	}
	if len(got) == 0 || got[0] != 1 {
		t.Fatalf("read %v before the end, want the buffered events from seq 1", got)
	}
	for i := 1; i < len(got); i++ {
		if got[i] != got[i-1]+1 {
			t.Fatalf("events %v: a gap before the end", got)
		}
	}
}

// TestEventStreamResume: a client reconnecting with the id of the last
// event it read gets every later event once, in order; what the feed no
// longer remembers, or an id from before a restart, comes as one gap
// event, never as silence.
func TestEventStreamResume(t *testing.T) {
	tests := []struct {
		name      string
		history   int    // events the feed remembers
		published int    // before the client reconnects
		after     uint64 // its Last-Event-ID
		want      []string
	}{
		{"all remembered", 10, 5, 2, []string{"saved 3", "saved 4", "saved 5", "applied 6"}},
		{"up to date", 10, 5, 5, []string{"applied 6"}},
		{"some forgotten", 3, 10, 2, []string{"gap 7", "saved 8", "saved 9", "saved 10", "applied 11"}},
		{"all forgotten", 3, 10, 6, []string{"gap 7", "saved 8", "saved 9", "saved 10", "applied 11"}},
		{"from before a restart", 10, 2, 40, []string{"gap 0", "saved 1", "saved 2", "applied 3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &daemon{feed: pos.NewFeed(tt.history)}
			for range tt.published {
				d.feed.Publish(pos.Event{Kind: pos.EventSaved})
			}
			sub := statusBackend{d}.Subscribe(tt.after)
			defer sub.Close()
			d.feed.Publish(pos.Event{Kind: pos.EventApplied}) // after the reconnect
			var got []string
			for len(got) < len(tt.want) {
				ev, err := sub.Next(t.Context())
				if err != nil {
					t.Fatalf("Next after %v: %v", got, err)
				}
				got = append(got, fmt.Sprintf("%s %d", ev.Kind, ev.Seq))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("resumed after %d: %v, want %v", tt.after, got, tt.want)
			}
		})
	}
}

// status reads GET /api/v1/status: decoded, and the names of the api
// object's fields as sent.
func (o *opsDaemon) status(t *testing.T) (control.Status, map[string]json.RawMessage) {
	t.Helper()
	code, body := o.get(t, "/api/v1/status")
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/status = %d %s", code, body)
	}
	var st control.Status
	var raw struct {
		API map[string]json.RawMessage `json:"api"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status %s: %v", body, err)
	}
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("status %s: %v", body, err)
	}
	return st, raw.API
}

// statusConfig writes a config for `tillscan status` that finds o on its
// status listener (no operator socket there) and returns its path.
func (o *opsDaemon) statusConfig(t *testing.T) string {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "status.yaml")
	src := fmt.Sprintf("till_id: x\nstate_dir: %q\nstatus: {listen: %q}\n", t.TempDir(), strings.TrimPrefix(o.base, "http://"))
	if err := os.WriteFile(cfgPath, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}

// statusText runs `tillscan status` against o and returns what it printed;
// a problem listed (exit 1) is not a failure here.
func (o *opsDaemon) statusText(t *testing.T) string {
	t.Helper()
	out, err := runCLI(t, nil, "status", "-c", o.statusConfig(t))
	if err != nil && !errors.Is(err, errNeedsAttention) {
		t.Fatalf("tillscan status = %v\n%s", err, out)
	}
	return out
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// hasProblem reports whether one of st's problems contains each part.
func hasProblem(st control.Status, parts ...string) bool {
	return slices.ContainsFunc(st.Problems, func(p string) bool {
		for _, part := range parts {
			if !strings.Contains(p, part) {
				return false
			}
		}
		return true
	})
}

// TestStatus_Pacing reads how the till paces its requests through the
// real status listener (the JSON, the page, /metrics and `tillscan
// status`) of a daemon on the sandbox: without a shared limiter, with a
// request held by the API, and with the shared limiter's Redis gone and a
// 429 that asks the till to wait.
func TestStatus_Pacing(t *testing.T) {
	t.Run("no shared limiter, a request in flight", func(t *testing.T) {
		o := startOpsDaemon(t, false, nil)
		st, raw := o.status(t)
		for _, key := range []string{"rate", "rate_limit", "shared_limiter", "in_flight"} {
			if _, ok := raw[key]; !ok {
				t.Errorf("status api has no %q: %v", key, raw)
			}
		}
		for _, key := range []string{"paused_until", "paused_by", "shared_limiter_error"} {
			if _, ok := raw[key]; ok {
				t.Errorf("status api has %q while it has no value: %s", key, raw[key])
			}
		}
		if st.API.SharedLimiter != control.SharedLimiterOff || st.API.RateLimit != 10 ||
			!(st.API.Rate > 0 && st.API.Rate <= st.API.RateLimit) || st.API.InFlight != 0 {
			t.Errorf("idle daemon's api = %+v; want shared limiter off, rate in (0, 10], rate_limit 10, nothing in flight", st.API)
		}
		if hasProblem(st, "shared rate limiter") || hasProblem(st, "asked this till to wait") {
			t.Errorf("problems %q without a shared limiter or a 429", st.Problems)
		}
		_, page := o.get(t, "/metrics")
		if f := families(page); !f["tillscan_api_rate_requests_per_second"] || f["tillscan_api_shared_limiter_up"] {
			t.Errorf("/metrics without a shared limiter: rate served %v, shared_limiter_up served %v; want true, false",
				f["tillscan_api_rate_requests_per_second"], f["tillscan_api_shared_limiter_up"])
		}

		o.sb.API.SetFaults(sandbox.Faults{Latency: time.Minute}) // ended by the daemon's stop
		o.scan(t, sandbox.DemoStampCard)
		waitFor(t, "one job in flight", func() bool { st, _ := o.status(t); return st.API.InFlight == 1 })
		if _, html := o.get(t, "/"); !strings.Contains(html, "1 in flight") {
			t.Errorf("the status page does not say 1 in flight:\n%s", html)
		}
		if out := o.statusText(t); !strings.Contains(out, "req/s of 10 · 1 in flight") || strings.Contains(out, "shared limiter") {
			t.Errorf("tillscan status with a job in flight, no shared limiter:\n%s", out)
		}
	})

	t.Run("shared limiter unreachable, a 429", func(t *testing.T) {
		o := startOps(t, opsConfig{api: "shared_limiter: redis://" + closedPort(t) + "/0"})
		before, _ := o.status(t)
		// 50 s: past the 30 s from which a pause is a problem (longPause); a
		// shorter one shows on the pace line only.
		o.sb.API.SetFaults(sandbox.Faults{RetryAfter: "50"})
		o.sb.API.FailNext(http.StatusTooManyRequests)
		o.scan(t, sandbox.DemoStampCard)
		var st control.Status
		waitFor(t, "the shared limiter unreachable and a 429 pause", func() bool {
			st, _ = o.status(t)
			return st.API.SharedLimiter == control.SharedLimiterUnreachable && !st.API.PausedUntil.IsZero()
		})
		if st.API.SharedLimiterError == "" || !hasProblem(st, "the shared rate limiter (Redis) cannot be reached", st.API.SharedLimiterError, "scans are still sent") {
			t.Errorf("shared limiter unreachable: error %q, problems %q", st.API.SharedLimiterError, st.Problems)
		}
		if st.API.PausedBy != http.StatusTooManyRequests || !st.API.PausedUntil.After(time.Now()) || !hasProblem(st, "asked this till to wait (HTTP 429)") {
			t.Errorf("after a 429 with Retry-After 30: paused_until %v, paused_by %d, problems %q", st.API.PausedUntil, st.API.PausedBy, st.Problems)
		}
		if st.API.Rate >= before.API.Rate {
			t.Errorf("rate %v after a 429, want below the %v before it (the adaptive fallback slows down)", st.API.Rate, before.API.Rate)
		}
		_, page := o.get(t, "/metrics")
		if !strings.Contains(page, "\ntillscan_api_shared_limiter_up 0\n") {
			t.Errorf("/metrics with the shared limiter unreachable has no tillscan_api_shared_limiter_up 0")
		}
		if _, html := o.get(t, "/"); !strings.Contains(html, "shared limiter unreachable") || !strings.Contains(html, "cannot be reached") {
			t.Errorf("the status page does not show the shared limiter unreachable:\n%s", html)
		}
		if out := o.statusText(t); !strings.Contains(out, "shared limiter unreachable") || !strings.Contains(out, "waiting until") ||
			!strings.Contains(out, "cannot be reached") {
			t.Errorf("tillscan status with the shared limiter unreachable and a 429 pause:\n%s", out)
		}
	})
}

// Which pacing states are problems: a long pause the API asked for and an
// unreachable shared limiter; a pause of a few seconds is the key's limit
// at work and shows on the pace line only.
func TestPacingProblems(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		cs   apiclient.Status
		want int
	}{
		{"sending", apiclient.Status{Rate: 9.6}, 0},
		{"a 429 pause of 5 s", apiclient.Status{PausedUntil: now.Add(5 * time.Second), PausedBy: 429}, 0},
		{"a 429 pause of a minute", apiclient.Status{PausedUntil: now.Add(time.Minute), PausedBy: 429}, 1},
		{"shared limiter unreachable", apiclient.Status{Shared: apiclient.SharedUnreachable}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var api control.APIStatus
			if got := pacing(&api, tt.cs, 0, now); len(got) != tt.want {
				t.Errorf("problems %q, want %d", got, tt.want)
			}
			if tt.cs.Paused(now) != !api.PausedUntil.IsZero() {
				t.Errorf("paused_until %v for a client paused until %v", api.PausedUntil, tt.cs.PausedUntil)
			}
		})
	}
}
