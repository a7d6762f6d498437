package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/internal/logtest"
)

// TestReloadSameKeyResumes is the regression test for a reload after a
// 401 with the same key (re-enabled on the vendor's side): it logged
// "sending resumed" but the client kept refusing until a restart.
func TestReloadSameKeyResumes(t *testing.T) {
	sb, err := sandbox.NewServer(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "tillscan.yaml")
	src := fmt.Sprintf("till_id: t\nstate_dir: %q\nstatus: {listen: 'off'}\napi: {base_url: %q}\n", dir, sb.URL)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	sb.API.RevokeKey(sandbox.DemoAPIKey)
	d, err := newDaemon(cfg, daemonOptions{
		APIKey: sandbox.DemoAPIKey, Log: zerolog.New(&logs), ConfigPath: path,
		Env: func(k string) string { return map[string]string{"TILLSCAN_API_KEY": sandbox.DemoAPIKey}[k] },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(20 * time.Second) // a hang guard, not a timing assertion
	for d.api.Status().Refused == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the startup check did not meet the revoked key; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	sb.API.RestoreKey(sandbox.DemoAPIKey) // the owner re-enabled the same key
	if err := d.reload(); err != nil {
		t.Fatal(err)
	}
	if st := d.api.Status(); st.Refused != nil {
		t.Fatalf("after reload with the same key the client still refuses: %v", st.Refused)
	}
	if !strings.Contains(logs.String(), "sending resumed") {
		t.Fatalf("no 'sending resumed' line; log:\n%s", logs.String())
	}
}
