package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return out.String() + errOut.String(), err
}

// cliCase is one run of the command line: want is text expected in its
// output or its error, and wantErr whether it must fail.
type cliCase struct {
	name    string
	args    []string
	want    string
	wantErr bool
}

// runCLICases runs each case as a subtest. Runs of white space in the
// output and the error count as one space: help text wraps at the
// terminal's width.
func runCLICases(t *testing.T, tests []cliCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCLI(t, nil, tt.args...)
			text := out
			if err != nil {
				text += " " + err.Error()
			}
			text = strings.Join(strings.Fields(text), " ")
			if (err != nil) != tt.wantErr || !strings.Contains(text, tt.want) {
				t.Fatalf("tillscan %v = %q, %v; want error %v and %q", tt.args, out, err, tt.wantErr, tt.want)
			}
		})
	}
}

// stoppedQueue makes what `tillscan queue` finds on a till whose daemon is
// stopped: a config file and, in its state directory, a queue file. It
// returns the config's path and the queue, open for the test to fill;
// close it before running a command.
func stoppedQueue(t *testing.T) (cfg string, q *queue.Queue) {
	t.Helper()
	dir := t.TempDir()
	cfg = filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("till_id: t\nstate_dir: "+dir+"\nstatus: {listen: 'off'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open(filepath.Join(dir, "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, q
}

// sentJob saves a scan of card and marks it sending, as the worker does
// just before its request.
func sentJob(t *testing.T, q *queue.Queue, card string, now time.Time) queue.Job {
	t.Helper()
	j, err := q.Enqueue(queue.Scan{Card: card, TillID: "t", Scanner: "s", Raw: card, ScannedAt: now}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Sending(j.ID, "add-stamp 1", now); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestCLI(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("till_id: t\nscanners:\n  - {type: serial, pth: /dev/x}\n"), 0o600)
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("k\n"), 0o600)
	openKey := filepath.Join(dir, "open-key")
	os.WriteFile(openKey, []byte("k\n"), 0o600)
	os.Chmod(openKey, 0o644)
	warnCfg := filepath.Join(dir, "warn.yaml")
	os.WriteFile(warnCfg, []byte("till_id: t\nstate_dir: "+dir+"\nstatus: {listen: 'off'}\napi: {key_file: "+openKey+", base_url: 'http://api.example.com/v2'}\n"), 0o600)
	nanCfg := filepath.Join(dir, "nan.yaml")
	os.WriteFile(nanCfg, []byte("till_id: t\napi: {rate_limit: .nan}\n"), 0o600)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("till_id: t\nstate_dir: "+dir+"\nstatus: {listen: 'off'}\napi: {key_file: "+key+"}\n"), 0o600)

	runCLICases(t, []cliCase{
		{"version", []string{"version"}, "tillscan dev", false},
		{"no command prints usage", []string{}, "Usage: tillscan <command>", false},
		{"--version", []string{"--version"}, "tillscan dev", false},
		{"version command", []string{"version"}, "tillscan dev", false},
		{"example config", []string{"check-config", "--no-key-check", "--no-device-check", "--config", "../../configs/tillscan.yaml"}, "config OK", false},
		{"example config needs a key", []string{"check-config", "--config", "../../configs/tillscan.yaml"}, "no API key", true},
		{"misspelt key", []string{"check-config", "--config", bad}, `[3:20] unknown field "pth"`, true},
		{"good config with key file", []string{"check-config", "--config", good}, "api key: found", false},
		{"warnings printed", []string{"check-config", "--config", warnCfg}, "warning: api key file " + openKey + " is readable by others", false},
		{"http warned", []string{"check-config", "--config", warnCfg}, "travels in clear", false},
		{"rate not a number refused as run would", []string{"check-config", "--no-key-check", "--config", nanCfg}, "line 2: api.rate_limit", true},
		{"missing file", []string{"check-config", "--config", filepath.Join(dir, "nope.yaml")}, "no such file", true},
		{"unknown command", []string{"frobnicate"}, "unexpected argument", true},
	})
}

// TestQueueCommandsOffline drives `tillscan queue` on the file, as an
// installer does with the daemon stopped.
func TestQueueCommandsOffline(t *testing.T) {
	cfg, q := stoppedQueue(t)
	now := time.Now()
	j := sentJob(t, q, "544256-439-856", now)
	if err := q.Dead(j.ID, queue.Attempt{At: now, Kind: "send", Outcome: "rejected", HTTPStatus: 404}, "Card not found"); err != nil {
		t.Fatal(err)
	}
	q.Close()

	steps := []struct {
		args []string
		want string
	}{
		{[]string{"queue", "stats", "-c", cfg}, "dead              1"},
		{[]string{"queue", "list", "-c", cfg, "--state", "dead"}, "Card not found"},
		{[]string{"queue", "show", "-c", cfg, j.ID}, `"http_status": 404`},
		{[]string{"queue", "check", "-c", cfg}, "queue OK"},
		{[]string{"queue", "drop", "-c", cfg, j.ID, "--reason", "card replaced"}, "dropped"},
		{[]string{"queue", "list", "-c", cfg, "--state", "dropped"}, "card replaced"},
		{[]string{"queue", "export", "-c", cfg}, `"state":"dropped"`},
		{[]string{"queue", "compact", "-c", cfg}, "compacted"},
	}
	for _, s := range steps {
		out, err := runCLI(t, nil, s.args...)
		if err != nil || !strings.Contains(out, s.want) {
			t.Fatalf("tillscan %v = %q, %v; want %q", s.args, out, err, s.want)
		}
	}
	if out, err := runCLI(t, nil, "queue", "retry", "-c", cfg, "nosuchjob"); err == nil {
		t.Fatalf("retry of an unknown job = %q, nil; want an error", out)
	}
}

// TestDemo pipes scans into `tillscan demo` as the README shows and reads
// the cashier's lines back.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole daemon")
	}
	var out bytes.Buffer
	in := strings.NewReader("544256-439-856\n5012345678900\nTILLSCAN:SUM:20\n612001-100-201\n")
	if err := run(t.Context(), []string{"demo"}, in, &out, &out, func(string) string { return "" }); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"Demo cards:",
		"612001-100-202  multipass",
		"✔ 544256-439-856: 1 stamp added — 8/10, 2 to go",
		`not a loyalty card: "5012345678900"`,
		"✔ 612001-100-201: purchase of 20.00 added — balance 13.50",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

// The last error line of a failed run must not keep the process from
// exiting when nobody reads stderr (a stalled journal).
func TestWriteBounded(t *testing.T) {
	r, w := io.Pipe() // nobody reads r: every write blocks
	defer r.Close()
	done := make(chan struct{})
	go func() {
		writeBounded(w, "tillscan: boom\n", 10*time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writeBounded still blocked 10s after its 10ms limit")
	}
	var b strings.Builder
	writeBounded(&b, "tillscan: boom\n", time.Minute)
	if b.String() != "tillscan: boom\n" {
		t.Errorf("wrote %q to a writer that takes it", b.String())
	}
}
