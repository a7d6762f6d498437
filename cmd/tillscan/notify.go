package main

import (
	"context"
	"fmt"
	"os"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
)

// notifyStatus keeps the one-line state that `systemctl status` shows.
// Outside systemd (no NOTIFY_SOCKET) it returns at once: SdNotify would
// do nothing, and the 10 s rebuild of the status would wake an idle till
// for nothing.
func (d *daemon) notifyStatus(ctx context.Context) error {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil
	}
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	last := ""
	for {
		st := statusBackend{d}.Status(ctx)
		api := "API ok"
		switch {
		case st.API.Paused:
			api = "API key refused"
		case !st.API.Reachable:
			api = "API not reachable"
		}
		connected := 0
		for _, s := range st.Scanners {
			if s.Connected {
				connected++
			}
		}
		line := fmt.Sprintf("STATUS=%d/%d scanners, %d waiting, %d uncertain, %d need an operator, %s",
			connected, len(st.Scanners), st.Queue.Depth["pending"], st.Queue.Depth["ambiguous"], st.Queue.Depth["dead"], api)
		if line != last {
			sddaemon.SdNotify(false, line)
			last = line
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
