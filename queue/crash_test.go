package queue_test

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

// The crash test: a child process (this test binary, re-executed with
// crashChildEnv set) enqueues and completes jobs as fast as it can and
// prints each fact only after the queue call that makes it true returned:
//
//	ACK <id> <card>   Enqueue returned: the till would say "saved"
//	SENT <id> <card>  Sending returned: the HTTP request would go out now
//	DONE <id>         Done (or Resolve applied) returned
//	DROP <id>         Drop returned
//
// The parent kill -9s it at random moments, reopens the file and checks the
// oracle after every kill.
var (
	crashRounds = flag.Int("crash.rounds", 60, "kill -9 rounds of TestCrash (thousands for the long run, with -timeout 0)")
	crashSeed   = flag.Uint64("crash.seed", 0, "seed of TestCrash's kill timing and child choices; 0 picks one")
)

const (
	crashChildEnv = "TILLSCAN_QUEUE_CRASH_CHILD"
	crashSeedEnv  = "TILLSCAN_QUEUE_CRASH_SEED"
	// The power-cut test (queue/powercut_test.go, TestQEMU_QueuePowerCut)
	// runs this binary inside a QEMU guest. After each cut the guest runs
	// it first as the checker:
	// crashHistoryEnv names the file of every line earlier guests printed
	// (the host collected them from the console), crashDrainEnv asks for
	// the final drain. See crashCheck.
	crashHistoryEnv = "TILLSCAN_QUEUE_CRASH_HISTORY"
	crashDrainEnv   = "TILLSCAN_QUEUE_CRASH_DRAIN"
	// crashEnqueuersEnv, if set, starts that many goroutines that only
	// enqueue, beside the child's main loop: their commits are shared
	// (group commit), and each ACK must still mean "on disk".
	crashEnqueuersEnv = "TILLSCAN_QUEUE_CRASH_ENQUEUERS"
)

var crashCards = []string{"A", "B", "C", "D", "E", "F"}

// crashChild is the child's main. It returns the exit code.
func crashChild() int {
	path := os.Getenv(crashChildEnv)
	if h := os.Getenv(crashHistoryEnv); h != "" {
		return crashCheck(path, h, os.Getenv(crashDrainEnv) != "")
	}
	seed, _ := strconv.ParseUint(os.Getenv(crashSeedEnv), 10, 64)
	rng := rand.New(rand.NewPCG(seed, 1))
	q, err := queue.Open(path, queue.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		return 2
	}
	say := func(format string, args ...any) { fmt.Fprintf(os.Stdout, format+"\n", args...) } // unbuffered: one write per line
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "child: %s: %v\n", what, err)
		return 3
	}
	say("READY")
	enqueuers, _ := strconv.Atoi(os.Getenv(crashEnqueuersEnv))
	for i := range enqueuers {
		go func() {
			rng := rand.New(rand.NewPCG(seed, uint64(2+i)))
			for {
				card := crashCards[rng.IntN(len(crashCards))]
				now := time.Now()
				j, err := q.Enqueue(queue.Scan{Card: card, TillID: "till-1", Raw: card, ScannedAt: now}, now)
				if err != nil {
					os.Exit(fail("enqueue", err))
				}
				say("ACK %s %s", j.ID, card)
			}
		}()
	}
	for {
		now := time.Now()
		if rng.IntN(10) < 4 {
			card := crashCards[rng.IntN(len(crashCards))]
			j, err := q.Enqueue(queue.Scan{Card: card, TillID: "till-1", Raw: card, ScannedAt: now}, now)
			if err != nil {
				return fail("enqueue", err)
			}
			say("ACK %s %s", j.ID, card)
			continue
		}
		j, err := q.Next(now)
		if errors.Is(err, queue.ErrEmpty) {
			// Nothing due: play the operator on a dead job, if any.
			dead, err := q.List(queue.Dead, 1, "")
			if err != nil {
				return fail("list", err)
			}
			if len(dead) == 0 {
				continue
			}
			id := dead[0].ID
			switch rng.IntN(3) {
			case 0:
				if err := q.OperatorRetry(id, now); err != nil {
					return fail("operator retry", err)
				}
			case 1:
				if err := q.Drop(id, "crash test", now); err != nil {
					return fail("drop", err)
				}
				say("DROP %s", id)
			default:
				// Applied only for an uncertain job (dead from ambiguous);
				// a definite no can only be resolved as not applied.
				applied := dead[0].Uncertain
				if err := q.Resolve(id, applied, "crash test", now); err != nil {
					return fail("resolve", err)
				}
				if applied {
					say("DONE %s", id)
				}
			}
			continue
		} else if err != nil {
			return fail("next", err)
		}
		a := queue.Attempt{At: now, Kind: "send"}
		if j.State == queue.Ambiguous && rng.IntN(2) == 0 {
			// Reconcile without re-sending.
			a.Kind = "reconcile"
			switch r := rng.IntN(4); {
			case r < 2:
				err = q.Done(j.ID, a, "found")
				if err == nil {
					say("DONE %s", j.ID)
				}
			case r < 3:
				err = q.Ambiguous(j.ID, a, now, j.Misses+1)
			default:
				err = q.Dead(j.ID, a, "gave up")
			}
			if err != nil {
				return fail("reconcile", err)
			}
			continue
		}
		if err := q.Sending(j.ID, "add-stamp 1", now); err != nil {
			return fail("sending", err)
		}
		say("SENT %s %s", j.ID, j.Card)
		switch r := rng.IntN(10); {
		case r < 5:
			err = q.Done(j.ID, a, "ok")
			if err == nil {
				say("DONE %s", j.ID)
			}
		case r < 7:
			err = q.Retry(j.ID, a, now)
		case r < 9:
			err = q.Ambiguous(j.ID, a, now, 0)
		default:
			err = q.Dead(j.ID, a, "rejected")
		}
		if err != nil {
			return fail("outcome", err)
		}
	}
}

// oracle is what the parent knows from the child's output and from
// reading the file between rounds.
type oracle struct {
	acked    map[string]string          // id → card, printed after Enqueue returned
	card     map[string]string          // id → card, every job known (acked or found in the file)
	finished map[string]bool            // done or dropped, from output or file
	open     map[string]map[string]bool // card → ids known and not known to be finished
	done     map[string]bool            // printed DONE
	dropped  map[string]bool            // printed DROP
	pruned   map[string]bool            // finished, then pruned by the parent between rounds
	sends    int
	// found, if set, gets the jobs in the file once they passed the check,
	// before verify prunes the finished ones (the power-cut checker prints
	// them: the host must know what may be pruned before it is).
	found func([]queue.Job)
}

func newOracle() *oracle {
	return &oracle{acked: map[string]string{}, card: map[string]string{}, finished: map[string]bool{},
		done: map[string]bool{}, dropped: map[string]bool{}, pruned: map[string]bool{}, open: map[string]map[string]bool{}}
}

func (o *oracle) learn(id, card string, finished bool) {
	o.card[id] = card
	if o.open[card] == nil {
		o.open[card] = map[string]bool{}
	}
	if finished || o.finished[id] {
		o.finished[id] = true
		delete(o.open[card], id)
	} else {
		o.open[card][id] = true
	}
}

// event checks one line of the child's output as it arrives.
func (o *oracle) event(line string) error {
	f := strings.Fields(line)
	switch {
	case len(f) == 1 && f[0] == "READY":
	case len(f) == 3 && f[0] == "ACK":
		if _, dup := o.acked[f[1]]; dup {
			return fmt.Errorf("id %s acknowledged twice", f[1])
		}
		o.acked[f[1]] = f[2]
		o.learn(f[1], f[2], false)
	case len(f) == 3 && f[0] == "SENT":
		id, card := f[1], f[2]
		o.sends++
		if o.finished[id] {
			return fmt.Errorf("job %s sent after it was finished", id)
		}
		for other := range o.open[card] {
			if other < id {
				return fmt.Errorf("card %s: job %s sent while earlier job %s is unfinished", card, id, other)
			}
		}
	case len(f) == 2 && f[0] == "DONE":
		if o.done[f[1]] || o.dropped[f[1]] {
			return fmt.Errorf("job %s completed twice", f[1])
		}
		o.done[f[1]] = true
		o.learn(f[1], o.card[f[1]], true)
	case len(f) == 2 && f[0] == "DROP":
		if o.done[f[1]] || o.dropped[f[1]] {
			return fmt.Errorf("job %s dropped after it was completed", f[1])
		}
		o.dropped[f[1]] = true
		o.learn(f[1], o.card[f[1]], true)
	default:
		return fmt.Errorf("unexpected child output %q", line)
	}
	return nil
}

// verify reopens the file (as the restarted daemon would) and checks that
// nothing acknowledged is lost, nothing reported complete went back, and
// the file is consistent. It learns the jobs the child made or finished but
// was killed before printing.
func (o *oracle) verify(path string) error {
	q, err := queue.Open(path, queue.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer q.Close()
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) > 0 {
		return fmt.Errorf("the queue file was moved aside: %v", m)
	}
	if err := q.Check(); err != nil {
		return err
	}
	jobs, err := q.List("", 0, "")
	if err != nil {
		return err
	}
	byID := map[string]queue.Job{}
	for _, j := range jobs {
		byID[j.ID] = j
		if j.State == queue.Sending {
			return fmt.Errorf("job %s still sending after Open", j.ID)
		}
		o.learn(j.ID, j.Card, j.State.Finished())
	}
	for id, card := range o.acked {
		j, ok := byID[id]
		switch {
		case !ok && o.pruned[id]:
		case !ok:
			return fmt.Errorf("acknowledged job %s (card %s) is lost", id, card)
		case j.Card != card:
			return fmt.Errorf("job %s: card %s, acknowledged for %s", id, j.Card, card)
		case o.done[id] && j.State != queue.Done:
			return fmt.Errorf("job %s reported done is %s", id, j.State)
		case o.dropped[id] && j.State != queue.Dropped:
			return fmt.Errorf("job %s reported dropped is %s", id, j.State)
		}
	}
	if o.found != nil {
		o.found(jobs)
	}
	// Prune what is finished, so the file and this check stay small over
	// thousands of rounds; those ids may be absent from now on.
	for _, j := range jobs {
		if j.State.Finished() {
			o.pruned[j.ID] = true
		}
	}
	if _, err := q.Prune(time.Now().Add(24 * 365 * time.Hour)); err != nil {
		return err
	}
	return nil
}

// drain plays the worker and operator until every job is finished: after
// the faults stop, the queue must drain (liveness).
func (o *oracle) drain(path string) error {
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		return err
	}
	defer q.Close()
	far := time.Now().Add(time.Hour)
	for range 100000 {
		j, err := q.Next(far)
		if errors.Is(err, queue.ErrEmpty) {
			dead, err := q.List(queue.Dead, 0, "")
			if err != nil {
				return err
			}
			if len(dead) == 0 {
				break
			}
			for _, d := range dead {
				if err := q.OperatorRetry(d.ID, time.Now()); err != nil {
					return err
				}
			}
			continue
		} else if err != nil {
			return err
		}
		if err := q.Sending(j.ID, "add-stamp 1", time.Now()); err != nil {
			return err
		}
		if err := q.Done(j.ID, queue.Attempt{Kind: "send", Outcome: "applied"}, "ok"); err != nil {
			return err
		}
	}
	for id := range o.acked {
		j, err := q.Get(id)
		if errors.Is(err, queue.ErrNotFound) && o.pruned[id] {
			continue
		}
		if err != nil {
			return err
		}
		if !j.State.Finished() {
			return fmt.Errorf("job %s is %s after draining", id, j.State)
		}
	}
	return q.Check()
}

// crashCheck is the power-cut test's checker, run in the guest after a cut
// with the queue file on the disk that lost power. It replays the history
// (the host's record of every line earlier guests printed, in order) into
// a fresh oracle, then verifies the file as TestCrash does after a kill -9.
// Before verify prunes, it prints each job it found as "FILE <id> <card>
// <state>" (the host appends those to the history, so the next check knows
// what may have been pruned and what finished unreported, even when the
// power is cut during this check), then "VERIFIED", or "VERIFY FAILED:
// <why>" and exits 1. With drain set it then drains the queue and has it take, hand
// out and complete one more job (liveness), and prints "DRAINED".
func crashCheck(path, history string, drain bool) int {
	failed := func(format string, args ...any) int {
		fmt.Printf("VERIFY FAILED: "+format+"\n", args...)
		return 1
	}
	h, err := os.ReadFile(history)
	if err != nil {
		return failed("%v", err)
	}
	o := newOracle()
	for n, line := range strings.Split(strings.TrimSpace(string(h)), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "FILE" {
			finished := queue.State(f[3]).Finished()
			o.learn(f[1], f[2], finished)
			if finished {
				o.pruned[f[1]] = true // verify pruned it
			}
			continue
		}
		if err := o.event(line); err != nil {
			return failed("history line %d: %v", n+1, err)
		}
	}
	inFile := 0
	o.found = func(jobs []queue.Job) {
		for _, j := range jobs {
			fmt.Printf("FILE %s %s %s\n", j.ID, j.Card, j.State)
		}
		inFile = len(jobs)
	}
	if err := o.verify(path); err != nil {
		return failed("%v", err)
	}
	fmt.Printf("VERIFIED %d acknowledged, %d done, %d in the file\n", len(o.acked), len(o.done), inFile)
	if !drain {
		return 0
	}
	if err := o.drain(path); err != nil {
		return failed("drain: %v", err)
	}
	q, err := queue.Open(path, queue.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		return failed("reopen: %v", err)
	}
	defer q.Close()
	now := time.Now()
	j, err := q.Enqueue(queue.Scan{Card: "Z", TillID: "till-1", Raw: "Z", ScannedAt: now}, now)
	if err != nil {
		return failed("enqueue after recovery: %v", err)
	}
	next, err := q.Next(now)
	if err != nil || next.ID != j.ID {
		return failed("Next after recovery = %s, %v; want the new job %s", next.ID, err, j.ID)
	}
	if err := q.Sending(j.ID, "add-stamp 1", now); err != nil {
		return failed("sending after recovery: %v", err)
	}
	if err := q.Done(j.ID, queue.Attempt{At: now, Kind: "send"}, "ok"); err != nil {
		return failed("done after recovery: %v", err)
	}
	if err := q.Check(); err != nil {
		return failed("check after drain: %v", err)
	}
	fmt.Println("DRAINED")
	return 0
}

func TestCrash(t *testing.T) { crashRun(t, 0) }

// TestCrash_ConcurrentWriters is TestCrash with three more goroutines in the
// child enqueueing at the same time, so most commits are shared: an ACK
// printed after a shared commit must survive kill -9 like any other.
func TestCrash_ConcurrentWriters(t *testing.T) { crashRun(t, 3) }

// crashRun kill -9s the child crash.rounds times; enqueuers is the number
// of extra goroutines that only enqueue.
func crashRun(t *testing.T, enqueuers int) {
	seed := *crashSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -crash.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	path := filepath.Join(t.TempDir(), "queue.db")
	o := newOracle()
	startup := 50 * time.Millisecond // measured below
	kills, early := 0, 0
	for round := range *crashRounds {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashSeedEnv+"="+strconv.FormatUint(rng.Uint64(), 10),
			crashEnqueuersEnv+"="+strconv.Itoa(enqueuers))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		started := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			s := bufio.NewScanner(out)
			for s.Scan() {
				lines <- s.Text()
			}
		}()

		// Most rounds kill a working child; some kill it while it opens
		// and recovers the file.
		var kill <-chan time.Time
		if rng.IntN(5) == 0 {
			early++
			kill = time.After(time.Duration(rng.Int64N(int64(startup) + 1)))
		}
		ready := false
		var failure error
	loop:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					break loop // the child exited by itself
				}
				if line == "READY" && !ready {
					ready = true
					startup = time.Since(started)
					if kill == nil {
						kill = time.After(time.Duration(rng.Int64N(int64(40 * time.Millisecond))))
					}
				}
				if err := o.event(line); err != nil && failure == nil {
					failure = err
				}
			case <-kill:
				cmd.Process.Kill() // SIGKILL
				kills++
				for line := range lines { // what it printed before dying still counts
					if err := o.event(line); err != nil && failure == nil {
						failure = err
					}
				}
				break loop
			}
		}
		werr := cmd.Wait()
		if failure != nil {
			t.Fatalf("round %d: %v", round, failure)
		}
		if kill == nil || !killed(werr) {
			t.Fatalf("round %d: child exited by itself: %v\n%s", round, werr, stderr.String())
		}
		if err := o.verify(path); err != nil {
			t.Fatalf("round %d: after kill -9: %v", round, err)
		}
		if (round+1)%500 == 0 {
			t.Logf("%d rounds: %d jobs acknowledged, %d done", round+1, len(o.acked), len(o.done))
		}
	}
	if err := o.drain(path); err != nil {
		t.Fatalf("drain after %d kills: %v", kills, err)
	}
	t.Logf("%d kill -9s (%d during open), %d jobs acknowledged, %d sends, %d reported done, %d dropped; none lost, none twice",
		kills, early, len(o.acked), o.sends, len(o.done), len(o.dropped))
	if kills < *crashRounds {
		t.Errorf("only %d kills in %d rounds", kills, *crashRounds)
	}
}

// killed reports whether the child died of our SIGKILL.
func killed(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && !ee.Exited()
}
