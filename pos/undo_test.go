package pos_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner"
)

// undo scans TILLSCAN:UNDO.
func (s *stack) undo() pos.Event {
	return s.till.Handle(scanner.Scan{Text: "TILLSCAN:UNDO", Scanner: "test", At: time.Now()})
}

// stamps returns the stamp count of a demo stamp card in the sandbox.
func stamps(t *testing.T, s *stack, card string) float64 {
	t.Helper()
	c, ok := s.sb.API.Card(card)
	if !ok {
		t.Fatalf("no card %s in the sandbox", card)
	}
	return c.Balance.CurrentNumberOfUses
}

// waitState waits until job is in state (a safety net, not a timing).
func waitState(t *testing.T, s *stack, id string, state queue.State) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if j, err := s.q.Get(id); err == nil && j.State == state {
			return
		}
	}
	j, _ := s.q.Get(id)
	t.Fatalf("job %s never became %s: %+v", id, state, j)
}

// TestUndo_Queued: UNDO of a scan not sent yet cancels it: it is never
// sent.
func TestUndo_Queued(t *testing.T) {
	s := newStack(t, stackOpts{noStart: true})
	id := s.scan(t, sandbox.DemoStampCard)
	ev := s.undo()
	if ev.Kind != pos.EventUndone || ev.JobID != id || !ev.GoodRead() {
		t.Fatalf("UNDO of a queued scan = %s %q (job %s), want undone (job %s) with a good read", ev.Kind, ev.Message, ev.JobID, id)
	}
	s.start(t)
	other := s.scan(t, sandbox.DemoCouponCard) // the worker has run past the cancelled job once this is applied
	if ev := s.wait(t, other); ev.Kind != pos.EventApplied {
		t.Fatalf("the next card: %s %q", ev.Kind, ev.Message)
	}
	if j, _ := s.q.Get(id); j.State != queue.Dropped {
		t.Errorf("the undone job is %s, want dropped", j.State)
	}
	if n := markers(s.sb, pos.Marker("t1", id)); n != 0 || stamps(t, s, sandbox.DemoStampCard) != 7 {
		t.Errorf("the cancelled scan reached the API: marker found %d times, %v stamps (want 0, 7)", n, stamps(t, s, sandbox.DemoStampCard))
	}
}

// TestUndo_Applied: UNDO of an applied scan sends the reverse action with
// its own marker and a comment naming the job it undoes; the first job's
// marker stays on one operation.
func TestUndo_Applied(t *testing.T) {
	tests := []struct {
		name     string
		scans    []string
		action   string // the undo's action
		balance  string // the undo's result
		undoable bool
	}{
		{"stamp", []string{sandbox.DemoStampCard}, "subtract-stamp 1", "stamp 7/10", true},
		{"discount points", []string{"TILLSCAN:SUM:12.50", sandbox.DemoDiscountCard}, "subtract-point 12.5", "discount 5%", true},
		{"cashback purchase (paying it back would take the whole sum)", []string{"TILLSCAN:SUM:20", sandbox.DemoCashbackCard}, "", "", false},
		{"multipass visit used", []string{sandbox.DemoMultipassCard}, "add-visit 1", "visits left 5", true},
		{"reward points", []string{sandbox.DemoRewardPointsCard}, "subtract-scores 1", "points 120", true},
		{"spend", []string{"TILLSCAN:SUM:10", sandbox.DemoRewardSpendCard}, "subtract-purchase 10", "points 30", true},
		{"coupon redeemed", []string{sandbox.DemoCouponCard}, "", "", false},
		{"reward received", []string{"TILLSCAN:REDEEM", sandbox.DemoRewardPointsCard}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStack(t, stackOpts{quiet: true})
			var id string
			for _, text := range tt.scans {
				id = s.scan(t, text)
			}
			if ev := s.wait(t, id); ev.Kind != pos.EventApplied {
				t.Fatalf("scan: %s %q", ev.Kind, ev.Message)
			}
			ev := s.undo()
			if !tt.undoable {
				if ev.Kind != pos.EventRefused || !strings.Contains(ev.Message, "cannot be undone") {
					t.Fatalf("UNDO = %s %q, want refused: cannot be undone", ev.Kind, ev.Message)
				}
				return
			}
			if ev.Kind != pos.EventSaved || ev.JobID == "" {
				t.Fatalf("UNDO = %s %q, want saved", ev.Kind, ev.Message)
			}
			if done := s.wait(t, ev.JobID); done.Kind != pos.EventApplied {
				t.Fatalf("the undo: %s %q", done.Kind, done.Message)
			}
			j, err := s.q.Get(ev.JobID)
			if err != nil || j.Action != tt.action || j.Result != tt.balance || j.Undoes != id {
				t.Fatalf("undo job = %+v, %v; want %s, %s, undoing %s", j, err, tt.action, tt.balance, id)
			}
			var comment string
			for _, op := range s.sb.API.Operations() {
				if op.Comment != nil && pos.CountMarker(*op.Comment, pos.Marker("t1", ev.JobID)) == 1 {
					comment = *op.Comment
				}
			}
			if !strings.Contains(comment, "undoes "+id) || markers(s.sb, pos.Marker("t1", id)) != 1 {
				t.Errorf("undo comment %q, first marker %d times; want it to name %s, and the first marker once", comment, markers(s.sb, pos.Marker("t1", id)), id)
			}
		})
	}
}

// TestUndo_Uncertain: UNDO of a scan whose answer was lost waits until
// reconciliation settles it, then takes it back.
func TestUndo_Uncertain(t *testing.T) {
	s := newStack(t, stackOpts{noStart: true})
	s.sb.API.ApplyThenFail(0) // applied, then the connection drops: the outcome is unknown
	id := s.scan(t, sandbox.DemoStampCard)
	s.start(t)
	waitState(t, s, id, queue.Ambiguous)
	ev := s.undo()
	if ev.Kind != pos.EventSaved {
		t.Fatalf("UNDO of an uncertain scan = %s %q, want saved", ev.Kind, ev.Message)
	}
	if done := s.wait(t, ev.JobID); done.Kind != pos.EventApplied {
		t.Fatalf("the undo: %s %q", done.Kind, done.Message)
	}
	if j, _ := s.q.Get(id); j.State != queue.Done {
		t.Errorf("the uncertain job is %s, want done (reconciled before the undo)", j.State)
	}
	if n := stamps(t, s, sandbox.DemoStampCard); n != 7 {
		t.Errorf("%v stamps after the scan and its undo, want 7", n)
	}
}

// TestUndo_Twice: a second UNDO in a row is refused, unless UndoRepeat,
// when it takes back the action before.
func TestUndo_Twice(t *testing.T) {
	for _, repeat := range []bool{false, true} {
		s := newStack(t, stackOpts{quiet: true, undoRepeat: repeat})
		for range 2 {
			if ev := s.wait(t, s.scan(t, sandbox.DemoStampCard)); ev.Kind != pos.EventApplied {
				t.Fatalf("scan: %s %q", ev.Kind, ev.Message)
			}
		}
		first := s.undo()
		if first.Kind != pos.EventSaved {
			t.Fatalf("UNDO = %s %q", first.Kind, first.Message)
		}
		s.wait(t, first.JobID)
		second := s.undo()
		switch {
		case !repeat && (second.Kind != pos.EventRefused || !strings.Contains(second.Message, "already undone")):
			t.Fatalf("a second UNDO = %s %q, want refused: already undone", second.Kind, second.Message)
		case repeat && second.Kind != pos.EventSaved:
			t.Fatalf("a second UNDO with UndoRepeat = %s %q, want saved", second.Kind, second.Message)
		case repeat:
			s.wait(t, second.JobID)
		}
		want := 8.0 // 7 + 2 - 1
		if repeat {
			want = 7
		}
		if n := stamps(t, s, sandbox.DemoStampCard); n != want {
			t.Errorf("repeat %v: %v stamps, want %v", repeat, n, want)
		}
	}
}

// TestUndo_Nothing: UNDO before any card, or after a scan that was
// refused, changes nothing and says so.
func TestUndo_Nothing(t *testing.T) {
	s := newStack(t, stackOpts{quiet: true})
	if ev := s.undo(); ev.Kind != pos.EventRefused || !strings.Contains(ev.Message, "scan the card, then UNDO") {
		t.Fatalf("UNDO first = %s %q", ev.Kind, ev.Message)
	}
	s.scan(t, "TILLSCAN:REDEEM")
	if ev := s.wait(t, s.scan(t, sandbox.DemoStampCard)); ev.Kind != pos.EventRefused { // no reward ready
		t.Fatalf("redeem without a reward: %s %q", ev.Kind, ev.Message)
	}
	if ev := s.undo(); ev.Kind != pos.EventRefused || !strings.Contains(ev.Message, "nothing to undo") {
		t.Fatalf("UNDO after a refused scan = %s %q, want refused: nothing to undo", ev.Kind, ev.Message)
	}
}

// TestReverse: every reversible method maps to its opposite with the same
// quantity; the rest cannot be undone.
func TestReverse(t *testing.T) {
	tests := []struct {
		in   string
		want apiclient.Action
		err  error
	}{
		{"add-stamp 2", apiclient.Action{Method: apiclient.SubtractStamp, Quantity: 2}, nil},
		{"add-transaction-amount 12", apiclient.Action{}, pos.ErrCannotUndo},
		{"subtract-transaction-amount 12", apiclient.Action{}, pos.ErrCannotUndo},
		{"add-purchase 12.5", apiclient.Action{Method: apiclient.SubtractPurchase, Quantity: 12.5}, nil},
		{"subtract-visit 1", apiclient.Action{Method: apiclient.AddVisit, Quantity: 1}, nil},
		{"redeem-coupon", apiclient.Action{}, pos.ErrCannotUndo},
		{"receive-reward 901", apiclient.Action{}, pos.ErrCannotUndo},
	}
	for _, tt := range tests {
		got, err := pos.Reverse(tt.in)
		if got != tt.want || (tt.err == nil) != (err == nil) || tt.err != nil && !strings.Contains(err.Error(), tt.err.Error()) {
			t.Errorf("Reverse(%q) = %+v, %v; want %+v, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if _, err := pos.Reverse("frobnicate 1"); err == nil {
		t.Error(`Reverse("frobnicate 1") = nil error`)
	}
}
