package queue_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

type rawBucket = interface {
	Put(k, v []byte) error
	Delete(k []byte) error
}

// reopen closes q and opens its file again, as a restart does.
func reopen(t *testing.T, q *queue.Queue, path string) *queue.Queue {
	t.Helper()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q2, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatalf("Open after damage = %v", err)
	}
	t.Cleanup(func() { q2.Close() })
	if moved, why := q2.Recovered(); moved != "" {
		t.Fatalf("Open moved the file aside (%v); want it repaired in place", why)
	}
	return q2
}

// rewrite replaces job id's record by edit(record).
func rewrite(t *testing.T, q *queue.Queue, id string, edit func([]byte) []byte) []byte {
	t.Helper()
	v := edit(q.RawRecord(id))
	if err := q.RawUpdate(func(jobs, _, _, _, _ rawBucket) error { return jobs.Put([]byte(id), v) }); err != nil {
		t.Fatal(err)
	}
	return v
}

func replace(old, new string) func([]byte) []byte {
	return func(v []byte) []byte { return bytes.Replace(v, []byte(old), []byte(new), 1) }
}

// Issue 8, defect 2: a damaged record passes bbolt's check. Before the fix
// Open accepted it and Next (or the transition after it) failed with
// "undecodable record" on every call, stopping the worker, or the card's
// jobs waited forever. Now Open quarantines it, byte for byte, and the
// card's next job goes ahead.
func TestOpen_QuarantinesDamagedRecords(t *testing.T) {
	tests := []struct {
		name string
		edit func([]byte) []byte
		why  string
	}{
		{"one byte of created_at", replace(`"created_at":"2026-11-25T12`, `"created_at":"2026-11-25X12`), "undecodable"},
		{"truncated", func(v []byte) []byte { return v[:len(v)/2] }, "undecodable"},
		{"not JSON", func([]byte) []byte { return []byte{0xff, 0, 1} }, "undecodable"},
		{"stray bytes", func(v []byte) []byte { return append(v, "}x"...) }, "stray bytes"},
		{"field name damaged", replace(`"scanned_at"`, `"scanned_ax"`), "undecodable"},
		{"unknown state", replace(`"state":"pending"`, `"state":"pendinf"`), "unknown state"},
		{"card with a control character", replace(`"card":"A"`, `"card":"\u0001"`), "not a card number"},
		{"card missing", replace(`"card":"A"`, `"card":""`), "no card number"},
		{"id not a ULID", func(v []byte) []byte { return bytes.Replace(v, []byte(`"id":"0`), []byte(`"id":"!`), 1) }, "not a job id"},
		{"id of another job", nil, "its id is"}, // filled in below: the record of the second job
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, path := openQueue(t, queue.Options{})
			a1 := enqueue(t, q, "A", t0)
			a2 := enqueue(t, q, "A", t0)
			b := into(t, q, "B", queue.Done)
			edit := tt.edit
			if edit == nil {
				edit = func([]byte) []byte { return q.RawRecord(a2.ID) }
			}
			damaged := rewrite(t, q, a1.ID, edit)
			if err := q.Check(); !errors.Is(err, queue.ErrCorrupt) {
				t.Fatalf("Check() on the damaged file = %v, want ErrCorrupt", err)
			}

			q = reopen(t, q, path)
			rep := strings.Join(q.Repaired(), "\n")
			if !strings.Contains(rep, "quarantined damaged record") || !strings.Contains(rep, tt.why) {
				t.Errorf("Repaired() = %q, want the quarantine of %s (%q)", rep, a1.ID, tt.why)
			}
			mustCheck(t, q)
			quar, err := q.Quarantined()
			if err != nil || len(quar) != 1 || quar[0].Key != a1.ID || !bytes.Equal(quar[0].Data, damaged) || !strings.Contains(quar[0].Reason, tt.why) {
				t.Fatalf("Quarantined() = %+v, %v; want %s byte for byte, reason %q", quar, err, a1.ID, tt.why)
			}
			var exp bytes.Buffer
			var back queue.Quarantined
			if err := q.ExportQuarantined(&exp); err != nil || json.Unmarshal(exp.Bytes(), &back) != nil || !bytes.Equal(back.Data, damaged) {
				t.Errorf("ExportQuarantined() = %s, %v; want the record byte for byte", exp.Bytes(), err)
			}
			if st, err := q.Stats(t0); err != nil || st.Quarantined != 1 || st.Depth[queue.Pending] != 1 || st.Depth[queue.Done] != 1 {
				t.Errorf("Stats() = %+v, %v; want 1 quarantined, 1 pending, 1 done", st, err)
			}
			if _, err := q.Get(a1.ID); !errors.Is(err, queue.ErrQuarantined) || !errors.Is(err, queue.ErrNotFound) {
				t.Errorf("Get(quarantined) = %v, want ErrQuarantined and ErrNotFound", err)
			}
			if got := mustGet(t, q, b.ID); got.State != queue.Done {
				t.Errorf("undamaged job %s is %s, want done", b.ID, got.State)
			}
			wantNext(t, q, t0, a2.ID) // the card is not held
			if err := errors.Join(q.Sending(a2.ID, "add-stamp 1", t0), q.Done(a2.ID, send("applied"), "")); err != nil {
				t.Fatal(err)
			}
			mustCheck(t, q)
			q = reopen(t, q, path)
			if rep := q.Repaired(); len(rep) != 0 {
				t.Errorf("second Open repaired %q, want nothing", rep)
			}
		})
	}
}

// Issue 8, defect 2: one job whose card bytes changed (the record decodes,
// the card index disagrees). Before the first fix Next kept handing it out
// and Sending refused it (not its card's head) forever, and every later job
// of the card waited. Rebuilding the indexes from the record then sent the
// scan to the other card, which is someone else's when the damage turns one
// valid card number into another (found by the daemon's damage campaign).
// Now the record is quarantined: reported, never sent, and its card's later
// job goes ahead.
func TestOpen_QuarantinesRecordWhoseCardDisagrees(t *testing.T) {
	tests := []struct{ name, from, to string }{
		{"letter", `"card":"A"`, `"card":"Z"`},
		{"one bit of the last digit", `"card":"700000-000-001"`, `"card":"700000-000-000"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			card := strings.TrimSuffix(strings.TrimPrefix(tt.from, `"card":"`), `"`)
			other := strings.TrimSuffix(strings.TrimPrefix(tt.to, `"card":"`), `"`)
			q, path := openQueue(t, queue.Options{})
			a1 := enqueue(t, q, card, t0)
			a2 := enqueue(t, q, card, t0)
			o := enqueue(t, q, other, t0)
			damaged := rewrite(t, q, a1.ID, replace(tt.from, tt.to))
			if err := q.Check(); !errors.Is(err, queue.ErrCorrupt) {
				t.Fatalf("Check() = %v, want ErrCorrupt", err)
			}

			q = reopen(t, q, path)
			rep := strings.Join(q.Repaired(), "\n")
			if !strings.Contains(rep, "quarantined damaged record") || !strings.Contains(rep, "disagrees with the card") {
				t.Errorf("Repaired() = %q, want %s quarantined for its card number", rep, a1.ID)
			}
			mustCheck(t, q)
			quar, err := q.Quarantined()
			if err != nil || len(quar) != 1 || quar[0].Key != a1.ID || !bytes.Equal(quar[0].Data, damaged) {
				t.Fatalf("Quarantined() = %+v, %v; want %s byte for byte", quar, err, a1.ID)
			}
			// Both cards' own jobs go ahead; the damaged one is never handed out.
			sent := map[string]bool{}
			for range 2 {
				j, err := q.Next(t0)
				if err != nil {
					t.Fatalf("Next() = %v", err)
				}
				if j.ID == a1.ID {
					t.Fatalf("Next() handed out the quarantined job %s (card %s)", j.ID, j.Card)
				}
				sent[j.ID] = true
				if err := errors.Join(q.Sending(j.ID, "add-stamp 1", t0), q.Done(j.ID, send("applied"), "")); err != nil {
					t.Fatalf("sending %s: %v", j.ID, err)
				}
			}
			if !sent[a2.ID] || !sent[o.ID] {
				t.Errorf("sent %v, want %s (card %s) and %s (card %s)", sent, a2.ID, card, o.ID, other)
			}
			wantNext(t, q, t0, "")
		})
	}
}

// Every way an index can disagree with the records is repaired at Open,
// and the repair is reported once.
func TestOpen_RepairsEveryIndex(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(a, a2, d queue.Job, jobs, due, cards, states, finished rawBucket) error
	}{
		{"head missing from due", func(a, _, _ queue.Job, _, due, _, _, _ rawBucket) error {
			return due.Delete(append(tk(a.NextAttempt), a.ID...))
		}},
		{"later job in due", func(_, a2, _ queue.Job, _, due, _, _, _ rawBucket) error {
			return due.Put(append(tk(a2.NextAttempt), a2.ID...), nil)
		}},
		{"due points nowhere", func(_, _, _ queue.Job, _, due, _, _, _ rawBucket) error {
			return due.Put(append(tk(t0), "01ZZZZZZZZZZZZZZZZZZZZZZZZ"...), nil)
		}},
		{"card entry missing", func(_, a2, _ queue.Job, _, _, cards, _, _ rawBucket) error {
			return cards.Delete(append([]byte("A\x00"), a2.ID...))
		}},
		{"stray state entry", func(a, _, _ queue.Job, _, _, _, states, _ rawBucket) error {
			return states.Put(append([]byte("done\x00"), a.ID...), nil)
		}},
		{"finished entry missing", func(_, _, d queue.Job, _, _, _, _, finished rawBucket) error {
			return finished.Delete(append(tk(d.FinishedAt), d.ID...))
		}},
		{"finished job holds its card", func(_, _, d queue.Job, _, _, cards, _, _ rawBucket) error {
			return cards.Put(append([]byte("B\x00"), d.ID...), nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, path := openQueue(t, queue.Options{})
			a := enqueue(t, q, "A", t0)
			a2 := enqueue(t, q, "A", t0)
			d := mustGet(t, q, into(t, q, "B", queue.Done).ID)
			if err := q.RawUpdate(func(jobs, due, cards, states, finished rawBucket) error {
				return tt.break_(a, a2, d, jobs, due, cards, states, finished)
			}); err != nil {
				t.Fatal(err)
			}
			if err := q.Check(); !errors.Is(err, queue.ErrCorrupt) {
				t.Fatalf("Check() = %v, want ErrCorrupt", err)
			}
			q = reopen(t, q, path)
			if rep := q.Repaired(); len(rep) != 1 || !strings.Contains(rep[0], "rebuilt every index") {
				t.Errorf("Repaired() = %q, want one rebuild", rep)
			}
			mustCheck(t, q)
			if st, _ := q.Stats(t0); st.Depth[queue.Pending] != 2 || st.Depth[queue.Done] != 1 || st.Quarantined != 0 {
				t.Errorf("Stats() = %+v, want 2 pending, 1 done, nothing quarantined", st)
			}
			wantNext(t, q, t0, a.ID)
		})
	}
}

// A record damaged while the queue is open (after Open's audit) is
// quarantined by the call that meets it; the worker's calls never fail on
// it and the card's next job goes ahead.
func TestRunTime_QuarantinesDamagedRecord(t *testing.T) {
	q, _ := openQueue(t, queue.Options{})
	a1 := enqueue(t, q, "A", t0)
	a2 := enqueue(t, q, "A", t0)
	b := enqueue(t, q, "B", t0)
	rewrite(t, q, a1.ID, replace(`"created_at":"2026`, `"created_at":"20x6`))

	wantNext(t, q, t0, a2.ID) // a1 was due first: Next quarantined it and went on
	if rep := q.Repaired(); len(rep) != 1 || !strings.Contains(rep[0], a1.ID) {
		t.Errorf("Repaired() = %q, want the run-time quarantine of %s", rep, a1.ID)
	}
	mustCheck(t, q)

	// A transition on a job whose record went bad under the worker.
	rewrite(t, q, b.ID, func([]byte) []byte { return []byte("{") })
	err := q.Sending(b.ID, "add-stamp 1", t0)
	if !errors.Is(err, queue.ErrQuarantined) || !errors.Is(err, queue.ErrNotFound) {
		t.Fatalf("Sending(damaged) = %v, want ErrQuarantined and ErrNotFound", err)
	}
	if st, err := q.Stats(t0); err != nil || st.Quarantined != 2 {
		t.Errorf("Stats() = %+v, %v; want 2 quarantined", st, err)
	}
	mustCheck(t, q)
}

// A format 1 file (before refused, history and quarantine) is upgraded in
// place at Open, keeping every job.
func TestOpen_UpgradesFormat1(t *testing.T) {
	q, path := openQueue(t, queue.Options{})
	p := enqueue(t, q, "A", t0)
	dead := enqueue(t, q, "B", t0)
	definite := enqueue(t, q, "C", t0)
	err := errors.Join(q.Sending(dead.ID, "add-stamp 1", t0), q.Ambiguous(dead.ID, send("ambiguous"), t0, 0),
		q.Dead(dead.ID, queue.Attempt{At: t0, Kind: "reconcile", Outcome: "found twice"}, "marker found twice"),
		q.Sending(definite.ID, "add-stamp 1", t0), q.Dead(definite.ID, send("rejected"), "malformed"))
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	if err := queue.SetFormat1(path); err != nil {
		t.Fatal(err)
	}

	q = reopen(t, q, path)
	if rep := strings.Join(q.Repaired(), "\n"); !strings.Contains(rep, "upgraded the file from format 1 to 2") {
		t.Errorf("Repaired() = %q, want the upgrade", rep)
	}
	mustCheck(t, q)
	if h, err := q.CardHistory("A", t0.Add(-time.Hour)); err != nil || len(h) != 1 || h[0].ID != p.ID {
		t.Errorf("CardHistory(A) = %v, %v; want %s", h, err, p.ID)
	}
	if err := q.Resolve(definite.ID, true, "", t0); !errors.Is(err, queue.ErrNotUncertain) {
		t.Errorf("Resolve(applied) of a job refused as malformed = %v, want ErrNotUncertain", err)
	}
	if err := q.Resolve(dead.ID, true, "seen in back office", t0); err != nil {
		t.Errorf("Resolve(applied) of a job that went dead while uncertain = %v, want nil", err)
	}
}

// A damaged "last issued id" would make every Enqueue fail (the till could
// save nothing) or issue ids that sort before existing jobs (breaking
// per-card order). Open repairs it from the records.
func TestOpen_RepairsLastID(t *testing.T) {
	for _, last := range []string{"zzzz-not-an-id", "00000000000000000000000000"} {
		t.Run(last, func(t *testing.T) {
			q, path := openQueue(t, queue.Options{})
			a := enqueue(t, q, "A", t0)
			if err := q.RawMetaPut("lastid", []byte(last)); err != nil {
				t.Fatal(err)
			}
			if err := q.Check(); !errors.Is(err, queue.ErrCorrupt) {
				t.Fatalf("Check() = %v, want ErrCorrupt", err)
			}
			q = reopen(t, q, path)
			mustCheck(t, q)
			b, err := q.Enqueue(scan("A"), t0.Add(-time.Hour)) // the clock stepped back, too
			if err != nil {
				t.Fatalf("Enqueue() after the repair = %v", err)
			}
			if b.ID <= a.ID {
				t.Errorf("new id %s sorts before the existing %s", b.ID, a.ID)
			}
			wantNext(t, q, t0, a.ID)
		})
	}
}

// A bit flip in a waiting job's due year leaves a record that decodes, due
// ten years on; the due index, still at the old time, disagrees, and Open
// rebuilds it. A rebuild trusts no due time: before it did, the job (and
// the card's later jobs behind it) waited for 2036 (found by the daemon's
// damaged-file campaign, seed 9695369062673569214). Now it is due at once.
func TestOpen_RebuildTrustsNoDueTime(t *testing.T) {
	q, path := openQueue(t, queue.Options{})
	a := enqueue(t, q, "A", t0)
	rewrite(t, q, a.ID, replace(`"next_attempt":"2026`, `"next_attempt":"2036`))
	if err := q.Check(); !errors.Is(err, queue.ErrCorrupt) {
		t.Fatalf("Check() = %v, want ErrCorrupt (the due index disagrees)", err)
	}
	q = reopen(t, q, path)
	rep := strings.Join(q.Repaired(), "; ")
	if !strings.Contains(rep, "made 1 waiting job(s) due now") || !strings.Contains(rep, "2036") {
		t.Errorf("Repaired() = %q, want the job made due now, naming the due time it had", rep)
	}
	mustCheck(t, q)
	if j := mustGet(t, q, a.ID); j.NextAttempt.Year() != time.Now().Year() {
		t.Errorf("job due %v after the repair, want now", j.NextAttempt)
	}
	wantNext(t, q, time.Now(), a.ID)
}
