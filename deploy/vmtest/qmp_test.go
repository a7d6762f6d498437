package vmtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeQMP serves one QMP connection on a unix socket: it sends the
// greeting, then for each command line received sends the lines that
// script returns for it. Every received line is passed to got.
func fakeQMP(t *testing.T, script func(cmd string) []string) (addr string, got <-chan string) {
	t.Helper()
	addr = filepath.Join(t.TempDir(), "qmp.sock")
	ln, err := net.Listen("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.Write([]byte(`{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}` + "\n"))
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			lines <- sc.Text()
			var req struct {
				Execute string `json:"execute"`
			}
			if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
				conn.Write([]byte(`{"error": {"class": "GenericError", "desc": "bad json"}}` + "\n"))
				continue
			}
			for _, l := range script(req.Execute) {
				conn.Write([]byte(l + "\n"))
			}
		}
	}()
	return addr, lines
}

func dialFake(t *testing.T, ctx context.Context, addr string) *QMP {
	t.Helper()
	conn, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	q, err := newQMP(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

func TestQMP_ExecuteAndEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	addr, got := fakeQMP(t, func(cmd string) []string {
		switch cmd {
		case "qmp_capabilities":
			return []string{`{"return": {}}`}
		case "device_del":
			return []string{
				`{"event": "DEVICE_DELETED", "data": {"path": "/machine/peripheral/kbd/unknown"}}`,
				`{"return": {}}`,
				`{"event": "DEVICE_DELETED", "data": {"device": "kbd", "path": "/machine/peripheral/kbd"}}`,
			}
		case "query-status":
			return []string{`{"return": {"status": "running", "running": true}}`}
		default:
			return []string{`{"error": {"class": "CommandNotFound", "desc": "The command ` + cmd + ` has not been found"}}`}
		}
	})
	q := dialFake(t, ctx, addr)
	if l := <-got; l != `{"execute":"qmp_capabilities"}` {
		t.Errorf("first line sent: got %s, want qmp_capabilities", l)
	}

	if _, err := q.Execute(ctx, "device_del", map[string]string{"id": "kbd"}); err != nil {
		t.Fatal(err)
	}
	if l := <-got; l != `{"arguments":{"id":"kbd"},"execute":"device_del"}` {
		t.Errorf("device_del sent: got %s", l)
	}
	ret, err := q.Execute(ctx, "query-status", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ret), `"running"`) {
		t.Errorf("query-status returned %s", ret)
	}
	// The event with device "kbd" arrived after the reply, while
	// query-status was running; the one without arrived before.
	ev, err := q.WaitEvent(ctx, "DEVICE_DELETED", func(d json.RawMessage) bool {
		return strings.Contains(string(d), `"device": "kbd"`)
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ev.Data), `"path": "/machine/peripheral/kbd"`) {
		t.Errorf("got event data %s", ev.Data)
	}
	if len(q.events) != 1 {
		t.Errorf("kept %d events, want the 1 unmatched one", len(q.events))
	}

	_, err = q.Execute(ctx, "nosuch", nil)
	var qe *QMPError
	if !errors.As(err, &qe) || qe.Class != "CommandNotFound" || qe.Command != "nosuch" {
		t.Errorf("got error %v, want a CommandNotFound *QMPError for nosuch", err)
	}
}

func TestQMP_SendKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	addr, got := fakeQMP(t, func(string) []string { return []string{`{"return": {}}`} })
	q := dialFake(t, ctx, addr)
	<-got // qmp_capabilities
	afters := 0
	after := func(context.Context) error { afters++; return nil }
	if err := q.SendKeys(ctx, []KeyStroke{{"shift", "5"}, {"ret"}}, after); err != nil {
		t.Fatal(err)
	}
	ev := func(key string, down bool) string {
		return `{"arguments":{"events":[{"type":"key","data":{"down":` + strconv.FormatBool(down) +
			`,"key":{"type":"qcode","data":"` + key + `"}}}]},"execute":"input-send-event"}`
	}
	want := []string{ev("shift", true), ev("5", true), ev("5", false), ev("shift", false), ev("ret", true), ev("ret", false)}
	for i, w := range want {
		if l := <-got; l != w {
			t.Errorf("line %d:\n got %s\nwant %s", i, l, w)
		}
	}
	if afters != len(want) {
		t.Errorf("after called %d times, want once per event (%d)", afters, len(want))
	}

	errStop := errors.New("stop")
	err := q.SendKeys(ctx, []KeyStroke{{"a"}}, func(context.Context) error { return errStop })
	if !errors.Is(err, errStop) || !strings.Contains(err.Error(), "after key a down=true") {
		t.Errorf("got %v, want the after error naming the key", err)
	}
}

func TestQMP_CancelEndsWait(t *testing.T) {
	addr, got := fakeQMP(t, func(string) []string { return []string{`{"return": {}}`} })
	q := dialFake(t, t.Context(), addr)
	<-got
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := q.WaitEvent(ctx, "NEVER", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	go func() { <-got; cancel2() }()
	// The fake answers nothing to an event wait: only the cancel ends it.
	q.conn.Write([]byte(`{"execute":"ping"}` + "\n"))
	if _, err := q.WaitEvent(ctx2, "NEVER", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}
