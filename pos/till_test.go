package pos

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner"
)

// fakeEnqueuer records scans; fail makes the next Enqueue fail.
type fakeEnqueuer struct {
	mu      sync.Mutex
	scans   []queue.Scan
	refused []string // reasons of EnqueueRefused
	fail    error
}

func (f *fakeEnqueuer) EnqueueRefused(s queue.Scan, reason string, now time.Time) (queue.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refused = append(f.refused, reason)
	return queue.Job{ID: fmt.Sprintf("R%03d", len(f.refused)), Scan: s, State: queue.Refused, CreatedAt: now, Reason: reason}, nil
}

func (f *fakeEnqueuer) Enqueue(s queue.Scan, now time.Time) (queue.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		err := f.fail
		f.fail = nil
		return queue.Job{}, err
	}
	f.scans = append(f.scans, s)
	return queue.Job{ID: fmt.Sprintf("J%03d", len(f.scans)), Scan: s, State: queue.Pending, CreatedAt: now}, nil
}

func newTestTill(t *testing.T, cfg TillConfig) (*Till, *fakeEnqueuer, *int) {
	t.Helper()
	if cfg.TillID == "" {
		cfg.TillID = "till-1"
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("TillConfig.Validate() = %v", err)
	}
	q := &fakeEnqueuer{}
	wakes := new(int)
	till := NewTill(cfg, q, NewFeed(50), func() { *wakes++ }, zerolog.New(zerolog.NewTestWriter(t)))
	return till, q, wakes
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func scan(text string, at time.Duration) scanner.Scan {
	return scanner.Scan{Text: text, Scanner: "front", At: t0.Add(at)}
}

func TestTill_Handle_Steps(t *testing.T) {
	type step struct {
		scan     scanner.Scan
		want     EventKind
		wantMode string  // mode of the saved job
		wantSum  float64 // 0: none
	}
	other := func(s scanner.Scan) scanner.Scan { s.Scanner = "back"; return s }
	tests := []struct {
		name   string
		window time.Duration
		steps  []step
	}{
		{"saved then repeat then saved after the window", 0, []step{
			{scan("544256-439-856", 0), EventSaved, "", 0},
			{scan("544256-439-856", 5*time.Second), EventRepeat, "", 0},
			{scan("https://x/c/544256-439-856", 9*time.Second), EventRepeat, "", 0},
			{scan("544256-439-856", 11*time.Second), EventSaved, "", 0},
		}},
		{"other card is no repeat", 0, []step{
			{scan("544256-439-856", 0), EventSaved, "", 0},
			{scan("612001-100-201", time.Second), EventSaved, "", 0},
		}},
		{"dedupe off", -1, []step{
			{scan("544256-439-856", 0), EventSaved, "", 0},
			{scan("544256-439-856", time.Second), EventSaved, "", 0},
		}},
		{"custom window", time.Minute, []step{
			{scan("544256-439-856", 0), EventSaved, "", 0},
			{scan("544256-439-856", 50*time.Second), EventRepeat, "", 0},
		}},
		{"not a card", 0, []step{
			{scan("5012345678900", 0), EventNotCard, "", 0},
			{scan("544256-439-856 612001-100-201", 0), EventNotCard, "", 0},
		}},
		{"redeem right after a stamp is no repeat; its double read is", 0, []step{
			{scan("544256-439-856", 0), EventSaved, "", 0},
			{scan("TILLSCAN:REDEEM", time.Second), EventMode, "", 0},
			{scan("544256-439-856", 2*time.Second), EventSaved, "redeem", 0},
			{scan("544256-439-856", 3*time.Second), EventRepeat, "", 0},
			{scan("tillscan:redeem", 4*time.Second), EventMode, "", 0},
			{scan("544256-439-856", 5*time.Second), EventRepeat, "", 0},
			// the mode was used up by the repeat
			{scan("544256-439-856", 20*time.Second), EventSaved, "", 0},
		}},
		{"mode applies once then reverts", 0, []step{
			{scan("TILLSCAN:REDEEM", 0), EventMode, "", 0},
			{scan("544256-439-856", time.Second), EventSaved, "redeem", 0},
			{scan("612001-100-201", 2*time.Second), EventSaved, "", 0},
		}},
		{"mode expires", 0, []step{
			{scan("TILLSCAN:REDEEM", 0), EventMode, "", 0},
			{scan("544256-439-856", 61*time.Second), EventSaved, "", 0},
		}},
		{"mode is per scanner", 0, []step{
			{scan("TILLSCAN:REDEEM", 0), EventMode, "", 0},
			{other(scan("612001-100-201", time.Second)), EventSaved, "", 0},
			{scan("544256-439-856", 2*time.Second), EventSaved, "redeem", 0},
		}},
		{"purchase sum and mode combine", 0, []step{
			{scan("TILLSCAN:SUM:12,50", 0), EventMode, "", 0},
			{scan("TILLSCAN:REDEEM", time.Second), EventMode, "", 0},
			{scan("612001-100-201", 2*time.Second), EventSaved, "redeem", 12.5},
		}},
		{"bad sum changes nothing", 0, []step{
			{scan("TILLSCAN:SUM:abc", 0), EventRefused, "", 0},
			{scan("TILLSCAN:SUM:-3", 0), EventRefused, "", 0},
			{scan("TILLSCAN:SUM:0.001", 0), EventRefused, "", 0},
			{scan("612001-100-201", time.Second), EventSaved, "", 0},
		}},
		{"unknown tillscan command is not passed on", 0, []step{
			{scan("TILLSCAN:REFUND", 0), EventRefused, "", 0},
			{scan("544256-439-856", time.Second), EventSaved, "", 0},
		}},
		{"cancel", 0, []step{
			{scan("TILLSCAN:SUM:5", 0), EventMode, "", 0},
			{scan("TILLSCAN:REDEEM", 0), EventMode, "", 0},
			{scan("TILLSCAN:CANCEL", time.Second), EventMode, "", 0},
			{scan("612001-100-201", 2*time.Second), EventSaved, "", 0},
		}},
		{"same sum twice is a repeat, another sum is not", 0, []step{
			{scan("TILLSCAN:SUM:5", 0), EventMode, "", 0},
			{scan("612001-100-205", time.Second), EventSaved, "", 5},
			{scan("TILLSCAN:SUM:5", 2*time.Second), EventMode, "", 0},
			{scan("612001-100-205", 3*time.Second), EventRepeat, "", 0},
			{scan("TILLSCAN:SUM:7", 4*time.Second), EventMode, "", 0},
			{scan("612001-100-205", 5*time.Second), EventSaved, "", 7},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			till, q, wakes := newTestTill(t, TillConfig{DedupeWindow: tt.window, Rules: DefaultRules})
			saved := 0
			for i, st := range tt.steps {
				ev := till.Handle(st.scan)
				if ev.Kind != st.want {
					t.Fatalf("step %d: Handle(%q) = %s (%q), want %s", i, st.scan.Text, ev.Kind, ev.Message, st.want)
				}
				if ev.Seq == 0 || ev.Message == "" {
					t.Errorf("step %d: event %+v has no Seq or Message", i, ev)
				}
				if ev.Kind != EventSaved {
					continue
				}
				saved++
				got := q.scans[len(q.scans)-1]
				if got.Mode != st.wantMode || (got.PurchaseSum == nil) != (st.wantSum == 0) ||
					got.PurchaseSum != nil && *got.PurchaseSum != st.wantSum {
					t.Errorf("step %d: job mode, sum = %q, %v; want %q, %v", i, got.Mode, got.PurchaseSum, st.wantMode, st.wantSum)
				}
				if got.TillID != "till-1" || got.Scanner != st.scan.Scanner || got.Raw != st.scan.Text || !got.ScannedAt.Equal(st.scan.At) {
					t.Errorf("step %d: job scan = %+v", i, got)
				}
				if ev.JobID == "" || ev.Card != got.Card {
					t.Errorf("step %d: saved event %+v does not name the job", i, ev)
				}
			}
			if len(q.scans) != saved || *wakes != saved {
				t.Errorf("enqueued %d, woke %d times; want %d each", len(q.scans), *wakes, saved)
			}
		})
	}
}

func TestTill_NotSavedKeepsModeAndIsNoRepeat(t *testing.T) {
	till, q, wakes := newTestTill(t, TillConfig{})
	till.Handle(scan("TILLSCAN:REDEEM", 0))
	q.fail = errors.New("queue: disk full")
	ev := till.Handle(scan("544256-439-856", time.Second))
	if ev.Kind != EventNotSaved || !strings.Contains(ev.Err, "disk full") || !strings.Contains(ev.Message, "NOT saved") {
		t.Fatalf("Handle with a failing queue = %+v, want not_saved saying so", ev)
	}
	ev = till.Handle(scan("544256-439-856", 2*time.Second))
	if ev.Kind != EventSaved || q.scans[0].Mode != "redeem" {
		t.Fatalf("rescan = %s with mode %q, want saved with mode redeem", ev.Kind, q.scans[0].Mode)
	}
	if *wakes != 1 {
		t.Errorf("woke %d times, want 1", *wakes)
	}
}

func TestTill_SetNext(t *testing.T) {
	till, q, _ := newTestTill(t, TillConfig{Rules: DefaultRules})
	if err := till.SetNext("refund", nil); !errors.Is(err, ErrUnknownMode) {
		t.Errorf("SetNext(unknown mode) = %v, want ErrUnknownMode", err)
	}
	if err := till.SetNext("", ptr(-1.0)); err == nil {
		t.Error("SetNext(negative sum) = nil, want an error")
	}
	if err := till.SetNext("redeem", ptr(9.99)); err != nil {
		t.Fatalf("SetNext = %v", err)
	}
	// SetNext stamps time.Now; the scan must come after it.
	s := scanner.Scan{Text: "612001-100-201", Scanner: "any", At: time.Now()}
	if ev := till.Handle(s); ev.Kind != EventSaved {
		t.Fatalf("Handle = %+v", ev)
	}
	if got := q.scans[0]; got.Mode != "redeem" || got.PurchaseSum == nil || *got.PurchaseSum != 9.99 {
		t.Errorf("job mode, sum = %q, %v; want redeem, 9.99", got.Mode, got.PurchaseSum)
	}
	s.Text, s.At = "544256-439-856", time.Now()
	till.Handle(s)
	if got := q.scans[1]; got.Mode != "" || got.PurchaseSum != nil {
		t.Errorf("second job mode, sum = %q, %v; want the default", got.Mode, got.PurchaseSum)
	}
}

// TestTill_SetNextOn: a sum set for one scanner goes to that scanner's
// next card only; another scanner's card scan does not take it.
func TestTill_SetNextOn(t *testing.T) {
	till, q, _ := newTestTill(t, TillConfig{Rules: DefaultRules})
	if err := till.SetNextOn("lane2", "", ptr(12.5)); err != nil {
		t.Fatalf("SetNextOn = %v", err)
	}
	lane1 := scanner.Scan{Text: "612001-100-201", Scanner: "lane1", At: time.Now()}
	if ev := till.Handle(lane1); ev.Kind != EventSaved || q.scans[0].PurchaseSum != nil {
		t.Fatalf("lane1's scan = %s with sum %v, want saved without the sum", ev.Kind, q.scans[0].PurchaseSum)
	}
	lane2 := scanner.Scan{Text: "612001-100-202", Scanner: "lane2", At: time.Now()}
	if ev := till.Handle(lane2); ev.Kind != EventSaved || q.scans[1].PurchaseSum == nil || *q.scans[1].PurchaseSum != 12.5 {
		t.Fatalf("lane2's scan = %s with sum %v, want saved with 12.5", ev.Kind, q.scans[1].PurchaseSum)
	}
	if err := till.SetNextOn("lane2", "refund", nil); !errors.Is(err, ErrUnknownMode) {
		t.Errorf("SetNextOn(unknown mode) = %v, want ErrUnknownMode", err)
	}
}

func TestTill_ConcurrentScansOfOneCard(t *testing.T) {
	till, q, _ := newTestTill(t, TillConfig{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			till.Handle(scanner.Scan{Text: "544256-439-856", Scanner: fmt.Sprint("s", i), At: t0})
		})
	}
	wg.Wait()
	if len(q.scans) != 1 {
		t.Fatalf("8 simultaneous scans of one card saved %d jobs, want 1", len(q.scans))
	}
}

func TestTillConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  TillConfig
		want string
	}{
		{"no till id", TillConfig{}, "till id"},
		{"two things in one command", TillConfig{TillID: "t", Commands: map[string]Command{"X": {Mode: "redeem", Cancel: true}}}, "exactly one"},
		{"empty command", TillConfig{TillID: "t", Commands: map[string]Command{"X": {}}}, "exactly one"},
		{"blank text", TillConfig{TillID: "t", Commands: map[string]Command{" ": {Cancel: true}}}, "must not be empty"},
		{"unknown mode", TillConfig{TillID: "t", Rules: DefaultRules, Commands: map[string]Command{"X": {Mode: "refund"}}}, "no rules"},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	if err := (TillConfig{TillID: "t", Commands: DefaultCommands(), Rules: DefaultRules}).Validate(); err != nil {
		t.Errorf("Validate(defaults) = %v", err)
	}
}

// TestTill_KnownCardNeedsSum: a card the cache knows, whose rule takes the
// purchase sum, is refused at the till without one (recorded as refused,
// nothing queued for sending, the cashier is told what to scan), and saved
// once the sum comes first.
func TestTill_KnownCardNeedsSum(t *testing.T) {
	cache, err := NewCache(nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	const cashback, stamp = "612001-100-201", "544256-439-856"
	cache.Put(cashback, CardInfo{Type: apiclient.Cashback, TemplateID: 3})
	cache.Put(stamp, CardInfo{Type: apiclient.Stamp, TemplateID: 1})
	rules := DefaultRules()
	till, q, _ := newTestTill(t, TillConfig{Cards: cache, Rules: func() Rules { return rules }})
	steps := []struct {
		scan scanner.Scan
		want EventKind
		text string
	}{
		{scan(cashback, 0), EventRefused, "needs the purchase sum: scan TILLSCAN:SUM:<amount>"},
		{scan(stamp, time.Second), EventSaved, "saved"},                                    // needs no sum
		{scan("612001-100-299", 2*time.Second), EventSaved, "saved"},                       // unknown card: the worker decides
		{scan("TILLSCAN:SUM:12.50", 3*time.Second), EventMode, "purchase"},                 // the sum first…
		{scan(cashback, 4*time.Second), EventSaved, "saved (purchase 12.50 → 12 counted)"}, // …then the card; the API takes whole amounts
	}
	for i, st := range steps {
		ev := till.Handle(st.scan)
		if ev.Kind != st.want || !strings.Contains(ev.Message, st.text) {
			t.Fatalf("step %d: Handle(%q) = %s %q; want %s containing %q", i, st.scan.Text, ev.Kind, ev.Message, st.want, st.text)
		}
	}
	if len(q.scans) != 3 || q.scans[2].Card != cashback || q.scans[2].PurchaseSum == nil || *q.scans[2].PurchaseSum != 12.5 {
		t.Fatalf("queued %+v; want the stamp, the unknown card and the cashback card with its sum", q.scans)
	}
	if len(q.refused) != 1 || !strings.Contains(q.refused[0], "purchase sum") {
		t.Fatalf("recorded as refused: %q; want the first cashback scan, for the day's report", q.refused)
	}
}

// TestTill_BadSumsAndCommands is issue 8 defect 7: "TILLSCAN:SUM:0.001"
// was taken as a sum of £0.00, and a bad sum or an unknown command barcode
// got the good-read beep. Each is now a refusal, a bad read, and the next
// card scan carries no sum.
func TestTill_BadSumsAndCommands(t *testing.T) {
	for _, text := range []string{
		"TILLSCAN:SUM:0.001", "TILLSCAN:SUM:0", "TILLSCAN:SUM:0.00", "TILLSCAN:SUM:-5", "TILLSCAN:SUM:NaN",
		"TILLSCAN:SUM:Inf", "TILLSCAN:SUM:1e3", "TILLSCAN:SUM:", "TILLSCAN:SUM:12.5.0", "TILLSCAN:SUM:1000000",
		"TILLSCAN:SUM:99999999999999999999", "TILLSCAN:SUM:0x10", "TILLSCAN:SUM:1 000", "TILLSCAN:REFUND", "tillscan:nope",
	} {
		t.Run(text, func(t *testing.T) {
			till, q, _ := newTestTill(t, TillConfig{})
			ev := till.Handle(scan(text, 0))
			if ev.Kind != EventRefused || ev.GoodRead() || ev.Err == "" || !strings.Contains(ev.Message, "—") {
				t.Fatalf("Handle(%q) = %s %q (err %q, good read %v); want refused, a bad read, saying what to do",
					text, ev.Kind, ev.Message, ev.Err, ev.GoodRead())
			}
			if ev := till.Handle(scan("612001-100-201", time.Second)); ev.Kind != EventSaved || q.scans[0].PurchaseSum != nil {
				t.Fatalf("next card: %s, sum %v; want saved without a sum", ev.Kind, q.scans[0].PurchaseSum)
			}
		})
	}
}

func TestEvent_GoodRead(t *testing.T) {
	tests := []struct {
		ev   Event
		want bool
	}{
		{Event{Kind: EventSaved}, true},
		{Event{Kind: EventRepeat}, true},
		{Event{Kind: EventMode}, true},
		{Event{Kind: EventMode, Err: "mode has no rules"}, false},
		{Event{Kind: EventRefused}, false},
		{Event{Kind: EventNotSaved}, false},
		{Event{Kind: EventNotCard}, false},
		{Event{Kind: EventApplied}, false}, // the worker's events are not scans
	}
	for _, tt := range tests {
		if got := tt.ev.GoodRead(); got != tt.want {
			t.Errorf("Event{Kind: %s, Err: %q}.GoodRead() = %v, want %v", tt.ev.Kind, tt.ev.Err, got, tt.want)
		}
	}
}

func TestParsePurchaseSum(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"12.50", 12.5, true}, {"12,5", 12.5, true}, {"20", 20, true}, {" 7.05 ", 7.05, true}, {"0.01", 0.01, true},
		{"999999.99", 999999.99, true}, {"012", 12, true},
		{"0.001", 0, false}, {"0", 0, false}, {"0.00", 0, false}, {"-1", 0, false}, {"+1", 0, false}, {"1e2", 0, false},
		{"NaN", 0, false}, {"Inf", 0, false}, {"", 0, false}, {".5", 0, false}, {"5.", 0, false}, {"1,000.00", 0, false},
		{"1000000", 0, false}, {"١٢", 0, false}, {"12.5\x00", 0, false},
	}
	for _, tt := range tests {
		got, err := ParsePurchaseSum(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePurchaseSum(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrBadSum) {
			t.Errorf("ParsePurchaseSum(%q) error %v does not match ErrBadSum", tt.in, err)
		}
	}
}

// TestTill_RoundingRefuse: with rounding "refuse" a known card that takes
// whole amounts is refused at the till for a sum with pence, and saved
// (nothing to round, nothing said) with a whole one.
func TestTill_RoundingRefuse(t *testing.T) {
	cache, err := NewCache(nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	const cashback = "612001-100-201"
	cache.Put(cashback, CardInfo{Type: apiclient.Cashback, TemplateID: 3})
	rules := DefaultRules()
	rules.Rounding = RoundRefuse
	till, q, _ := newTestTill(t, TillConfig{Cards: cache, Rules: func() Rules { return rules }, DedupeWindow: -1})
	till.Handle(scan("TILLSCAN:SUM:12.50", 0))
	if ev := till.Handle(scan(cashback, time.Second)); ev.Kind != EventRefused || !strings.Contains(ev.Message, "whole amounts only") {
		t.Fatalf("a sum with pence = %s %q, want refused: whole amounts only", ev.Kind, ev.Message)
	}
	till.Handle(scan("TILLSCAN:SUM:12", 2*time.Second))
	if ev := till.Handle(scan(cashback, 3*time.Second)); ev.Kind != EventSaved || strings.Contains(ev.Message, "counted") {
		t.Fatalf("a whole sum = %s %q, want saved without a rounding note", ev.Kind, ev.Message)
	}
	if len(q.scans) != 1 || len(q.refused) != 1 {
		t.Fatalf("queued %d, refused %d; want 1 and 1", len(q.scans), len(q.refused))
	}
}
