package config

import (
	"strings"
	"testing"
)

// TestInstallerMistakes: the mistakes an installer makes are answered with
// the line, the key and what to write instead; a BOM is accepted.
func TestInstallerMistakes(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string // "" means the file is accepted
	}{
		{"duration without unit", "till_id: t\nstate_dir: /tmp/x\napi: {timeout: 5s}\nqueue: {}\nworker: {}\nlog: {}\ndedupe_window: 10\n", "line 7: dedupe_window: 10: a duration like 10s"},
		{"days", "till_id: t\nqueue:\n  retention: 30d\n", `line 3: queue.retention: "30d": durations have no days or weeks; use hours: 720h`},
		{"weeks", "till_id: t\nworker: {retry_cap: 1w}\n", "use hours: 168h"},
		{"not a duration", "till_id: t\nworker: {settle: soon}\n", `line 2: worker.settle: "soon" is not a duration: write it like 10s, 5m or 720h`},
		{"tab in indentation", "till_id: t\nstatus:\n\tlisten: 127.0.0.1:8765\n", "line 3: indentation: a tab: YAML indents with spaces only"},
		{"BOM", "\uFEFFtill_id: t\n", ""},
		{"vid with 0x", "till_id: t\nscanners:\n  - {type: hid, vid: 0x05e0, pid: 0x1200}\n", ""},
		{"vid quoted", "till_id: t\nscanners:\n  - {type: hid, vid: \"05e0\", pid: \"1200\"}\n", ""},
		{"vid bare hex with letters", "till_id: t\nscanners:\n  - {type: hid, vid: 0c2e, pid: 0b61}\n", ""},
		{"pid decimal", "till_id: t\nscanners:\n  - type: hid\n    vid: 0x05e0\n    pid: 1200\n", `line 5: scanners[0].pid: 1200: write USB ids in hexadecimal, as tillscan devices and lsusb show them: 0x1200 (or in quotes: "1200")`},
		{"vid bare 05e0", "till_id: t\nscanners:\n  - {type: hid, vid: 05e0, pid: 0x1200}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.yaml))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Parse = %v, want accepted", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse = %v\nwant it to say %q", err, tt.want)
			}
		})
	}
}

// TestHexIDsAreHex: a quoted id without 0x is hexadecimal, as lsusb
// prints it (it was read as decimal before: "1200" became 0x04b0).
func TestHexIDsAreHex(t *testing.T) {
	for _, ids := range []string{`vid: "05e0", pid: "1200"`, `vid: 05e0, pid: 0x1200`, `vid: 0X05E0, pid: "0x1200"`} {
		c, err := Parse("t.yaml", []byte("till_id: t\nscanners:\n  - {type: hid, "+ids+"}\n"))
		if err != nil {
			t.Fatalf("%s: %v", ids, err)
		}
		if s := c.Scanners[0]; s.VID != 0x05e0 || s.PID != 0x1200 {
			t.Fatalf("%s: vid %s pid %s, want 05e0 1200", ids, s.VID, s.PID)
		}
	}
}
