package apiclient

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A new adaptive Client's first start keeps the window its previous
// process left: 10/s, no headroom, so the window is 1 s and the gap
// 100 ms.
func TestHandover_FirstStart(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// ago lists writes made d ago, as of now.
	ago := func(now time.Time, ds ...time.Duration) *Handover {
		h := &Handover{Written: []time.Time{}}
		for _, d := range ds {
			h.Written = append(h.Written, now.Add(-d).Round(0))
		}
		return h
	}
	every := func(from, step time.Duration, n int) []time.Duration {
		var ds []time.Duration
		for i := range n {
			ds = append(ds, from+time.Duration(i)*step)
		}
		return ds
	}
	for _, tc := range []struct {
		name string
		h    func(now time.Time) *Handover
		want time.Duration
	}{
		{"unknown: the whole last window assumed used", func(time.Time) *Handover { return nil }, time.Second},
		{"nothing written", func(now time.Time) *Handover { return ago(now) }, 0},
		{"every write older than the window", func(now time.Time) *Handover { return ago(now, time.Second, 2*time.Second) }, 0},
		{"one write 30 ms ago: the gap", func(now time.Time) *Handover { return ago(now, ms(30)) }, ms(70)},
		{"a full window, the oldest 840 ms ago", func(now time.Time) *Handover { return ago(now, every(ms(300), ms(60), 10)...) }, ms(160)},
		{"more than a window: the latest ten count", func(now time.Time) *Handover { return ago(now, every(ms(100), ms(50), 15)...) }, ms(450)},
		{"a write dated an hour ahead (the clock was stepped back) counts as now", func(now time.Time) *Handover {
			return &Handover{Written: []time.Time{now.Add(time.Hour).Round(0)}}
		}, ms(100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := testClient(t, Config{Adaptive: true, Handover: tc.h(time.Now())})
				c.jitter = func() float64 { return 0 } // no soft start jitter
				before := time.Now()
				if _, err := c.waitSent(t.Context()); err != nil {
					t.Fatal(err)
				}
				if got := time.Since(before); got != tc.want {
					t.Errorf("first start waited %v; want %v", got, tc.want)
				}
			})
		})
	}
}

// A Client hands over the writes of its last window, and only writes: a
// start that never reached the wire (a refused connection) is not passed
// on, one that did is passed on at its write time. The next Client keeps
// the gap from the last write.
func TestHandover_RoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := testClient(t, Config{Adaptive: true})
		time.Sleep(2 * time.Second) // past the window a new Client assumes used
		var want []time.Time
		for i := range 4 {
			seq, err := a.wait(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if i != 2 { // start 2 fails before it is written
				w := time.Now().Add(5 * time.Millisecond)
				a.wrote(seq, w)
				want = append(want, w.Round(0))
			}
			a.sent(seq)
		}
		time.Sleep(10 * time.Millisecond)
		h := a.Handover()
		if len(h.Written) != len(want) {
			t.Fatalf("Handover().Written = %v; want %v", h.Written, want)
		}
		for i := range want {
			if !h.Written[i].Equal(want[i]) {
				t.Errorf("Written[%d] = %v; want %v", i, h.Written[i], want[i])
			}
		}
		b := testClient(t, Config{Adaptive: true, Handover: &h})
		seq, err := b.wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if got, min := time.Now(), want[len(want)-1].Add(b.starts.gap); got.Round(0).Before(min) {
			t.Errorf("the next Client's first start at %v; want none before %v (the gap after the last write)", got, min)
		}
		b.wrote(seq, time.Now())
		b.sent(seq)
		// A second restart at once: what the first process wrote is
		// still in the window, and is passed on again.
		if h := b.Handover(); len(h.Written) != len(want)+1 {
			t.Errorf("Handover() after a restart and one write = %v; want the %d handed over and the new one", h.Written, len(want))
		}
		time.Sleep(2 * time.Second)
		if h := b.Handover(); h.Written == nil || len(h.Written) != 0 {
			t.Errorf("Handover() 2 s later = %#v; want an empty list (nothing in the last window)", h.Written)
		}
	})
}

func TestHandover_File(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "handover.json")
	if h, err := TakeHandover(path); h != nil || err != nil {
		t.Fatalf("TakeHandover with no file = %v, %v; want nil, nil", h, err)
	}
	w := time.Date(2026, 12, 5, 10, 0, 0, 123456789, time.UTC)
	if err := SaveHandover(path, Handover{Written: []time.Time{w}}); err != nil {
		t.Fatal(err)
	}
	h, err := TakeHandover(path)
	if err != nil || h == nil || len(h.Written) != 1 || !h.Written[0].Equal(w) {
		t.Fatalf("TakeHandover after SaveHandover = %v, %v; want the one write %v", h, err, w)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("the file after TakeHandover: %v; want it removed (a crash must not find it)", err)
	}
	if err := SaveHandover(path, Handover{Written: []time.Time{}}); err != nil {
		t.Fatal(err)
	}
	if h, err := TakeHandover(path); err != nil || h == nil || len(h.Written) != 0 {
		t.Errorf("TakeHandover of none written = %v, %v; want an empty Handover (known: nothing sent)", h, err)
	}
	for _, bad := range []string{"", "{}", `{"written":null}`, "\x00\x00\x00", `{"written":["yesterday"]}`} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		h, err := TakeHandover(path)
		if h != nil || err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("TakeHandover of %q = %v, %v; want nil and an error naming the file", bad, h, err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("a damaged handover is kept: %v; want it removed", err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left in the directory: %v; want nothing (no temporary files)", entries)
	}
}
