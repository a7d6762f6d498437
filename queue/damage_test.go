package queue_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/queue/queuetest"
)

// The damaged-file campaign: a queue file with known content (200 jobs of
// 20 cards in every state) is damaged at random and opened, round after
// round. Each round must end in one of the documented outcomes: Open
// repairs the file in place (Check passes, every job whose page the damage
// did not touch is there exactly once in its state, and a drain of the
// queue never gets an error), or Open moves the file aside byte for byte
// and starts empty. Long run:
//
//	go test ./queue -run TestDamagedFile -damage.rounds=2000 -timeout 0
var (
	damageRounds = flag.Int("damage.rounds", 20, "rounds of TestDamagedFile (thousands for the long run, with -timeout 0)")
	damageSeed   = flag.Uint64("damage.seed", 0, "seed of TestDamagedFile; 0 picks one")
	damageKeep   = flag.String("damage.keep", "", "directory where TestDamagedFile keeps the damaged file of a failing round")
)

// template is the known file and the state of each job in it.
type template struct {
	queuetest.File
	jobs map[string]queue.State // id → state after Open (sending becomes ambiguous)
	ids  []string               // the jobs, sorted: the ones damage may aim at
}

func buildTemplate(t *testing.T, rng *rand.Rand) template {
	t.Helper()
	q, path := openQueue(t, queue.Options{})
	var jobs []queue.Job
	for i := range 200 {
		s := scan(fmt.Sprintf("544256-439-%03d", 800+i%20))
		j, err := q.Enqueue(s, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, j)
	}
	// Work the queue like a till: 150 steps of the worker and an operator.
	now := t0.Add(time.Hour)
	for range 150 {
		j, err := q.Next(now)
		if errors.Is(err, queue.ErrEmpty) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		a := queue.Attempt{At: now, Kind: "send", Outcome: "x"}
		err = q.Sending(j.ID, "add-stamp 1", now)
		switch r := rng.IntN(10); {
		case err != nil:
		case r < 4:
			err = q.Done(j.ID, a, "stamp 1/10")
		case r < 5:
			err = q.Refuse(j.ID, a, "visit already registered")
		case r < 6:
			err = q.Ambiguous(j.ID, a, now.Add(time.Minute), 0)
		case r < 7:
			err = q.Dead(j.ID, a, "malformed")
		case r < 8:
			err = q.Retry(j.ID, a, now.Add(time.Minute))
		case r < 9:
			err = errors.Join(q.Retry(j.ID, a, now), q.Drop(j.ID, "operator", now))
		default: // left in sending, as by a crash
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.EnqueueRefused(scan("544256-439-800"), "needs a purchase sum", now); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := q.PutCard(fmt.Sprintf("544256-439-%03d", 800+i), []byte(`{"type":"stamp","template":42}`), now); err != nil {
			t.Fatal(err)
		}
	}
	all, err := q.List("", 0, "")
	if err != nil {
		t.Fatal(err)
	}
	tp := template{jobs: map[string]queue.State{}}
	for _, j := range all {
		s := j.State
		if s == queue.Sending {
			s = queue.Ambiguous
		}
		tp.jobs[j.ID] = s
		tp.ids = append(tp.ids, j.ID)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if tp.File, err = queuetest.Load(path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	// Load reads the records with bbolt, not through the queue: it must find
	// every job the queue lists.
	for id := range tp.jobs {
		if _, ok := tp.Record[id]; !ok {
			t.Fatalf("queuetest.Load did not locate the record of job %s", id)
		}
	}
	return tp
}

func TestDamagedFile(t *testing.T) {
	seed := *damageSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -damage.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	tp := buildTemplate(t, rng)
	var repaired, clean, moved, quarantined int
	for round := range *damageRounds {
		d := tp.Damage(rng, tp.ids)
		bad, what, pages := d.Data, d.What, d.Pages
		path := filepath.Join(fastDir(t), "queue.db")
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		res := openDamaged(t, path, bad, tp, pages)
		if res.err != nil {
			if *damageKeep != "" {
				kept := filepath.Join(*damageKeep, fmt.Sprintf("damaged-%d-%d.db", seed, round))
				if err := os.WriteFile(kept, bad, 0o600); err == nil {
					t.Logf("damaged file kept as %s", kept)
				}
			}
			t.Fatalf("round %d (%s): %v", round, what, res.err)
		}
		switch {
		case res.moved:
			moved++
		case res.repaired:
			repaired++
		default:
			clean++
		}
		quarantined += res.quarantined
	}
	t.Logf("%d rounds: %d repaired in place (%d records quarantined), %d opened clean, %d moved aside",
		*damageRounds, repaired, quarantined, clean, moved)
}

// fastDir returns a temporary directory in memory (tmpfs) when there is
// one: the campaign tests what Open makes of damage, not fsync, and a drain
// is hundreds of fsync'd commits per round.
func fastDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "tillscan-damage-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type damageResult struct {
	moved, repaired bool
	quarantined     int
	err             error
}

// openDamaged opens the damaged file at path and checks the outcome.
func openDamaged(t *testing.T, path string, bad []byte, tp template, pages map[int]bool) (res damageResult) {
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		res.err = fmt.Errorf("Open() = %v; want the file repaired or moved aside", err)
		return res
	}
	defer q.Close()
	if to, why := q.Recovered(); to != "" {
		res.moved = true
		if got, err := os.ReadFile(to); err != nil || !bytes.Equal(got, bad) {
			res.err = fmt.Errorf("moved aside (%v) but %s is not the damaged file byte for byte (%v)", why, to, err)
		} else if !errors.Is(why, queue.ErrCorrupt) {
			res.err = fmt.Errorf("moved aside for %v, want ErrCorrupt", why)
		}
		return res
	}
	res.repaired = len(q.Repaired()) > 0
	if err := q.Check(); err != nil {
		res.err = fmt.Errorf("Check() after Open = %v (repaired: %q)", err, q.Repaired())
		return res
	}
	all, err := q.List("", 0, "")
	if err != nil {
		res.err = fmt.Errorf("List() = %v", err)
		return res
	}
	seen := map[string]int{}
	for _, j := range all {
		seen[j.ID]++
		if want, ok := tp.jobs[j.ID]; ok && !pages[tp.Page(j.ID)] && j.State != want {
			res.err = fmt.Errorf("undamaged job %s is %s, was %s", j.ID, j.State, want)
			return res
		}
	}
	for id := range tp.jobs {
		if !pages[tp.Page(id)] && seen[id] != 1 {
			res.err = fmt.Errorf("undamaged job %s is listed %d times, want once (repaired: %q)", id, seen[id], q.Repaired())
			return res
		}
	}
	if st, err := q.Stats(t0); err != nil {
		res.err = fmt.Errorf("Stats() = %v", err)
		return res
	} else {
		res.quarantined = st.Quarantined
	}
	res.err = drain(q)
	if res.err == nil {
		if err := q.Check(); err != nil {
			res.err = fmt.Errorf("Check() after the drain = %v", err)
		}
	}
	return res
}

// drain works every job to an end as the worker and an operator would;
// no call may fail.
func drain(q *queue.Queue) error {
	far := t0.Add(1000 * time.Hour)
	a := queue.Attempt{At: far, Kind: "send", Outcome: "applied"}
	for range 1000 {
		j, err := q.Next(far)
		if errors.Is(err, queue.ErrEmpty) {
			dead, err := q.List(queue.Dead, 0, "")
			if err != nil {
				return fmt.Errorf("drain: List(dead) = %w", err)
			}
			if len(dead) == 0 {
				return nil
			}
			for _, d := range dead {
				if err := q.Drop(d.ID, "campaign", far); err != nil {
					return fmt.Errorf("drain: Drop(%s) = %w", d.ID, err)
				}
			}
			continue
		} else if err != nil {
			return fmt.Errorf("drain: Next() = %w", err)
		}
		if j.State == queue.Ambiguous {
			if err := q.Done(j.ID, a, "found"); err != nil {
				return fmt.Errorf("drain: Done(%s) = %w", j.ID, err)
			}
			continue
		}
		if err := q.Sending(j.ID, "add-stamp 1", far); err != nil {
			return fmt.Errorf("drain: Sending(%s) = %w", j.ID, err)
		}
		if err := q.Done(j.ID, a, "ok"); err != nil {
			return fmt.Errorf("drain: Done(%s) = %w", j.ID, err)
		}
	}
	return errors.New("drain: still jobs after 1000 steps")
}
