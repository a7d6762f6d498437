package pos

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner"
)

// undoMode marks a capJob that undoes the one before it.
const undoMode = "(undo)"

// capJob is a job in a card's history for the caps tests.
type capJob struct {
	ago   time.Duration // before now
	state queue.State   // pending, done or refused
	mode  string
}

func TestCaps_Check(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	// 00:00:05 on 1 July in London (BST): five seconds into the shop's day.
	now := time.Date(2026, 6, 30, 23, 0, 5, 0, time.UTC)
	stampDaily := Caps{ByType: map[apiclient.CardType]Cap{apiclient.Stamp: {PerDay: 1}}, Location: london}
	cooldown := Caps{ByType: map[apiclient.CardType]Cap{apiclient.Stamp: {MinInterval: 15 * time.Second}}, Location: london}
	tests := []struct {
		name     string
		caps     Caps
		typ      apiclient.CardType
		template int
		history  []capJob
		want     string // in the CapError's reason; "" means allowed
	}{
		{"no caps", Caps{}, apiclient.Stamp, 1, []capJob{{time.Second, queue.Done, ""}}, ""},
		{"other type uncapped", stampDaily, apiclient.Reward, 1, []capJob{{time.Second, queue.Done, ""}}, ""},
		{"first scan of the day", stampDaily, apiclient.Stamp, 1, nil, ""},
		{"second scan of the day", stampDaily, apiclient.Stamp, 1, []capJob{{2 * time.Second, queue.Done, ""}}, "already stamped today"},
		{"queued offline counts too", stampDaily, apiclient.Stamp, 1, []capJob{{2 * time.Second, queue.Pending, ""}}, "already stamped today"},
		{"yesterday does not count (midnight in the shop's zone)", stampDaily, apiclient.Stamp, 1, []capJob{{10 * time.Second, queue.Done, ""}}, ""},
		{"refused does not count", stampDaily, apiclient.Stamp, 1, []capJob{{2 * time.Second, queue.Refused, ""}}, ""},
		{"a redeem does not count", stampDaily, apiclient.Stamp, 1, []capJob{{2 * time.Second, queue.Done, ModeRedeem}}, ""},
		{"an undone scan does not count", stampDaily, apiclient.Stamp, 1, []capJob{{3 * time.Second, queue.Done, ""}, {2 * time.Second, queue.Done, undoMode}}, ""},
		{"three a day", Caps{ByType: map[apiclient.CardType]Cap{apiclient.Membership: {PerDay: 3}}, Location: london}, apiclient.Membership, 0,
			[]capJob{{1 * time.Second, queue.Done, ""}, {2 * time.Second, queue.Done, ""}, {3 * time.Second, queue.Done, ""}}, "already visited 3 times today"},
		{"cooldown", cooldown, apiclient.Stamp, 1, []capJob{{3 * time.Second, queue.Done, ""}}, "wait 12 s"},
		{"cooldown across midnight", cooldown, apiclient.Stamp, 1, []capJob{{10 * time.Second, queue.Done, ""}}, "wait 5 s"},
		{"cooldown over", cooldown, apiclient.Stamp, 1, []capJob{{15 * time.Second, queue.Done, ""}}, ""},
		{"template replaces type", Caps{ByType: map[apiclient.CardType]Cap{apiclient.Stamp: {PerDay: 1}},
			ByTemplate: map[int]Cap{7: {PerDay: 2}}, Location: london}, apiclient.Stamp, 7, []capJob{{2 * time.Second, queue.Done, ""}}, ""},
		{"template without a cap lifts its type's", Caps{ByType: map[apiclient.CardType]Cap{apiclient.Stamp: {PerDay: 1}},
			ByTemplate: map[int]Cap{7: {}}, Location: london}, apiclient.Stamp, 7, []capJob{{2 * time.Second, queue.Done, ""}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := capQueue(t, "544256-439-856", now, tt.history)
			err := tt.caps.Check(q, "544256-439-856", tt.typ, tt.template, now)
			var ce *CapError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Check = %v, want allowed", err)
			case tt.want != "" && (!errors.As(err, &ce) || !errors.Is(err, ErrCapped) || !strings.Contains(ce.Reason, tt.want) || ce.Wait <= 0):
				t.Fatalf("Check = %v, want a CapError saying %q with a wait", err, tt.want)
			}
		})
	}
}

// TestCaps_AcrossRestart: the count comes from the queue file, so a
// restart of the daemon does not reset it.
func TestCaps_AcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	card := "544256-439-856"
	if _, err := q.Enqueue(queue.Scan{Card: card, TillID: "t", Scanner: "s", Raw: card, ScannedAt: now}, now); err != nil {
		t.Fatal(err)
	}
	q.Close()
	q, err = queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	caps := Caps{ByType: map[apiclient.CardType]Cap{apiclient.Stamp: {PerDay: 1}}, Location: time.UTC}
	if err := caps.Check(q, card, apiclient.Stamp, 0, now.Add(time.Hour)); !errors.Is(err, ErrCapped) {
		t.Fatalf("Check after a restart = %v, want capped", err)
	}
	if err := caps.Check(q, card, apiclient.Stamp, 0, now.Add(12*time.Hour)); err != nil {
		t.Fatalf("Check the next day = %v, want allowed", err)
	}
}

// TestCaps_HistoryError: a history that cannot be read is an error the
// caller sees, not a cap.
func TestCaps_HistoryError(t *testing.T) {
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	caps := Caps{ByType: map[apiclient.CardType]Cap{apiclient.Stamp: {PerDay: 1}}}
	err = caps.Check(q, "544256-439-856", apiclient.Stamp, 0, time.Now())
	if err == nil || errors.Is(err, ErrCapped) {
		t.Fatalf("Check on a closed queue = %v, want a read error that is not ErrCapped", err)
	}
}

// capQueue returns a real queue holding card's history, each job created
// (and scanned) its ago before now.
func capQueue(t *testing.T, card string, now time.Time, history []capJob) *queue.Queue {
	t.Helper()
	q, err := queue.Open(filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	var prev string
	for _, h := range history {
		at := now.Add(-h.ago)
		s := queue.Scan{Card: card, TillID: "t", Scanner: "s", Raw: card, ScannedAt: at, Mode: h.mode}
		if h.mode == undoMode {
			s.Mode, s.Undoes = "", prev
		}
		if h.state == queue.Refused {
			if _, err := q.EnqueueRefused(s, "refused", at); err != nil {
				t.Fatal(err)
			}
			continue
		}
		j, err := q.Enqueue(s, at)
		if err != nil {
			t.Fatal(err)
		}
		prev = j.ID
		if h.state == queue.Done {
			if err := q.Sending(j.ID, "add-stamp 1", at); err != nil {
				t.Fatal(err)
			}
			if err := q.Done(j.ID, queue.Attempt{At: at, Kind: "send", Outcome: "applied"}, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	return q
}

// TestTill_Caps (2 a day, 20 s apart): the till refuses a capped scan at once with the reason,
// records it refused (for the day's report), lets a redeem through, and
// counts from the queue file, so a new Till on the same file (a restart)
// keeps the cap, and the shop's midnight lifts it.
func TestTill_Caps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	card := "544256-439-856"
	day := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	newTill := func() (*Till, *queue.Queue) {
		q, err := queue.Open(path, queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cache, err := NewCache(nil, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		if err := cache.Put(card, CardInfo{Type: apiclient.Stamp, TemplateID: 1}); err != nil {
			t.Fatal(err)
		}
		caps := Caps{ByType: map[apiclient.CardType]Cap{apiclient.Stamp: {PerDay: 2, MinInterval: 20 * time.Second}}, Location: time.UTC}
		till := NewTill(TillConfig{TillID: "t1", DedupeWindow: -1, Rules: DefaultRules, Cards: cache, Jobs: q, Caps: caps},
			q, NewFeed(10), nil, zerolog.Nop())
		return till, q
	}
	till, q := newTill()
	scan := func(text string, at time.Time) Event {
		return till.Handle(scanner.Scan{Text: text, Scanner: "s", At: at})
	}
	if ev := scan(card, day); ev.Kind != EventSaved {
		t.Fatalf("first scan of the day: %s %q, want saved", ev.Kind, ev.Message)
	}
	ev := scan(card, day.Add(5*time.Second))
	if ev.Kind != EventRefused || !strings.Contains(ev.Message, "wait 15 s") || ev.JobID == "" {
		t.Fatalf("a scan 5 s later: %s %q (job %q), want refused, wait 15 s, recorded", ev.Kind, ev.Message, ev.JobID)
	}
	if j, err := q.Get(ev.JobID); err != nil || j.State != queue.Refused {
		t.Fatalf("the capped scan's record = %+v, %v; want a refused job", j, err)
	}
	if ev := scan(card, day.Add(30*time.Second)); ev.Kind != EventSaved {
		t.Fatalf("the second scan of the day, 30 s later: %s %q, want saved", ev.Kind, ev.Message)
	}
	if ev := scan(card, day.Add(time.Hour)); ev.Kind != EventRefused || !strings.Contains(ev.Message, "already stamped 2 times today") {
		t.Fatalf("the third scan of the day: %s %q, want refused: already stamped 2 times today", ev.Kind, ev.Message)
	}
	scan("TILLSCAN:REDEEM", day.Add(time.Hour+time.Second))
	if ev := scan(card, day.Add(time.Hour+2*time.Second)); ev.Kind != EventSaved {
		t.Fatalf("a redeem: %s %q, want saved (caps count earning scans only)", ev.Kind, ev.Message)
	}
	q.Close()

	till, q = newTill() // a restart: the count comes from the file
	defer q.Close()
	if ev := scan(card, day.Add(2*time.Hour)); ev.Kind != EventRefused {
		t.Fatalf("after a restart: %s %q, want still refused", ev.Kind, ev.Message)
	}
	if ev := scan(card, time.Date(2026, 3, 11, 0, 0, 1, 0, time.UTC)); ev.Kind != EventSaved {
		t.Fatalf("just after midnight: %s %q, want saved", ev.Kind, ev.Message)
	}
}
