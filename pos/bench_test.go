package pos_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/queue"
	"github.com/tillscan/tillscan/scanner"
)

// BenchmarkRequestsPerScan counts API requests per scan of a card the till
// has not seen (GET /cards, then the action) and of a repeat customer (the
// action only).
//
//	go test -run '^$' -bench RequestsPerScan -benchtime 50x ./pos/
func BenchmarkRequestsPerScan(b *testing.B) {
	for _, bc := range []struct {
		name string
		new  bool
	}{{"new", true}, {"repeat", false}} {
		b.Run(bc.name, func(b *testing.B) {
			s := newStack(b, stackOpts{})
			s.wait(b, s.scan(b, sandbox.DemoStampCard)) // known from here on
			requests := 0
			for b.Loop() {
				if bc.new {
					if err := s.cache.Forget(sandbox.DemoStampCard); err != nil {
						b.Fatal(err)
					}
				}
				before := s.sb.API.Stats().Requests
				s.wait(b, s.scan(b, sandbox.DemoStampCard))
				requests += s.sb.API.Stats().Requests - before
			}
			b.ReportMetric(float64(requests)/float64(b.N), "req/scan")
		})
	}
}

// BenchmarkDrainBacklog measures how fast a backlog of 2000 scans of known
// cards drains against the sandbox's 10 requests/second limit with the
// client's default rate (target: at least 9.5 scans/s). It takes about
// 210 s, so run it once:
//
//	go test -run '^$' -bench DrainBacklog -benchtime 1x -timeout 10m ./pos/
func BenchmarkDrainBacklog(b *testing.B) {
	const backlog = 2000
	for b.Loop() {
		s := newStack(b, stackOpts{sandboxRate: 10, clientRate: apiclient.DefaultRateLimit, noStart: true})
		type known struct {
			card string
			info pos.CardInfo
			sum  *float64
		}
		ten := 10.0
		cards := []known{
			{sandbox.DemoStampCard, pos.CardInfo{Type: apiclient.Stamp, TemplateID: 1}, nil},
			{sandbox.DemoRewardPointsCard, pos.CardInfo{Type: apiclient.Reward, TemplateID: 9}, nil},
			{sandbox.DemoCashbackCard, pos.CardInfo{Type: apiclient.Cashback, TemplateID: 3}, &ten},
			{sandbox.DemoDiscountCard, pos.CardInfo{Type: apiclient.Discount, TemplateID: 6}, &ten},
		}
		for _, c := range cards {
			if err := s.cache.Put(c.card, c.info); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.cache.LearnMechanics(1, pos.MechStamps); err != nil {
			b.Fatal(err)
		}
		if err := s.cache.LearnMechanics(9, pos.MechPoints); err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for i := range backlog {
			c := cards[i%len(cards)]
			if _, err := s.q.Enqueue(queue.Scan{Card: c.card, TillID: "t1", Scanner: "bench", Raw: c.card,
				ScannedAt: now, PurchaseSum: c.sum}, now); err != nil {
				b.Fatal(err)
			}
		}
		before := s.sb.API.Stats()
		start := time.Now()
		s.start(b)
		applied := 0
		for ev := range s.events {
			switch ev.Kind {
			case pos.EventApplied:
				applied++
			case pos.EventRefused, pos.EventDuplicate:
				b.Fatalf("unexpected %+v", ev)
			}
			if applied == backlog {
				break
			}
		}
		elapsed := time.Since(start)
		after := s.sb.API.Stats()
		s.stop()
		b.ReportMetric(backlog/elapsed.Seconds(), "scans/s")
		b.ReportMetric(float64(after.Requests-before.Requests)/backlog, "req/scan")
		b.ReportMetric(float64(after.RateLimited-before.RateLimited), "429s")
		b.ReportMetric(elapsed.Seconds(), "s/drain")
	}
}

// BenchmarkTillSaved measures scan → "saved" latency: Till.Handle with a
// real bbolt queue (one fsync'd commit per scan), no worker running.
//
//	go test -run '^$' -bench TillSaved -benchtime 2000x ./pos/
func BenchmarkTillSaved(b *testing.B) {
	q, err := queue.Open(filepath.Join(b.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	till := pos.NewTill(pos.TillConfig{TillID: "t1", DedupeWindow: -1}, q, pos.NewFeed(0), nil, zerolog.Nop())
	cards := []string{sandbox.DemoStampCard, sandbox.DemoRewardPointsCard, sandbox.DemoCouponCard}
	benchSaved(b, till, cards)
}

// BenchmarkTillSavedFullQueue is BenchmarkTillSaved behind 100 000 pending
// jobs (an outage of days on a busy till): what a scan costs when the
// queue's file is large.
//
//	go test -run '^$' -bench TillSavedFullQueue -benchtime 2000x ./pos/
func BenchmarkTillSavedFullQueue(b *testing.B) {
	q, err := queue.Open(filepath.Join(b.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	const jobs, writers = 100_000, 64
	now := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := w; i < jobs; i += writers {
				card := fmt.Sprintf("544256-%03d-%03d", i/1000%1000, i%1000)
				if _, err := q.Enqueue(queue.Scan{Card: card, TillID: "t1", Raw: card, ScannedAt: now}, now); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	till := pos.NewTill(pos.TillConfig{TillID: "t1", DedupeWindow: -1}, q, pos.NewFeed(0), nil, zerolog.Nop())
	cards := []string{sandbox.DemoStampCard, sandbox.DemoRewardPointsCard, sandbox.DemoCouponCard}
	b.ResetTimer()
	benchSaved(b, till, cards)
}

// benchSaved scans cards in turn through till, each expected "saved", and
// reports the p50 and p99 of Till.Handle.
func benchSaved(b *testing.B, till *pos.Till, cards []string) {
	var lat []time.Duration
	i := 0
	for b.Loop() {
		s := scanner.Scan{Text: cards[i%len(cards)], Scanner: "bench", At: time.Now()}
		i++
		start := time.Now()
		if ev := till.Handle(s); ev.Kind != pos.EventSaved {
			b.Fatalf("Handle = %+v", ev)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkTillSavedCapped is BenchmarkTillSaved with caps on every card
// type: each scan of a known card first reads the card's history of the
// day from the queue (Caps.Check). 1000 known cards, scanned in turn.
//
//	go test -run '^$' -bench TillSavedCapped -benchtime 2000x ./pos/
func BenchmarkTillSavedCapped(b *testing.B) {
	q, err := queue.Open(filepath.Join(b.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	cache, err := pos.NewCache(nil, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	cards := make([]string, 1000)
	for i := range cards {
		cards[i] = fmt.Sprintf("544256-%03d-%03d", i/1000, i%1000)
		if err := cache.Put(cards[i], pos.CardInfo{Type: apiclient.Stamp, TemplateID: 1}); err != nil {
			b.Fatal(err)
		}
	}
	caps := pos.Caps{ByType: map[apiclient.CardType]pos.Cap{apiclient.Stamp: {PerDay: 1_000_000, MinInterval: time.Nanosecond}}}
	till := pos.NewTill(pos.TillConfig{TillID: "t1", DedupeWindow: -1, Cards: cache, Jobs: q, Caps: caps, Rules: pos.DefaultRules},
		q, pos.NewFeed(0), nil, zerolog.Nop())
	benchSaved(b, till, cards)
}

// BenchmarkCacheGetWhilePut measures what the till's scan path waits for
// when it asks the card cache about a card (Till.Handle does, for a card
// that needs a purchase sum) while the worker saves new cards into a cache
// of 50 000 kept in the queue's file: the p99 and the longest single Get,
// and what saving one new card costs the worker (p50).
//
//	go test -run '^$' -bench CacheGetWhilePut -benchtime 3x ./pos/
func BenchmarkCacheGetWhilePut(b *testing.B) {
	q, err := queue.Open(filepath.Join(b.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	var load sync.WaitGroup
	for w := range 50 { // concurrent writers share fsyncs: a quick fill
		load.Go(func() {
			for i := w; i < 50_000; i += 50 {
				card := fmt.Sprintf("%06d-100-%03d", 100000+i/1000, i%1000)
				if err := q.PutCard(card, []byte(`{"type":0,"template_id":1,"updated_at":"2026-11-25T12:00:00Z"}`), time.Now()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	load.Wait()
	c, err := pos.NewCache(q, zerolog.Nop())
	if err != nil || c.Len() != 50_000 {
		b.Fatalf("NewCache: %v, %d cards", err, c.Len())
	}
	var puts []time.Duration
	var putsMu sync.Mutex
	var waits []time.Duration
	for i := 0; b.Loop(); i++ {
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { // the worker meeting 10 new customers
			defer close(done)
			for j := range 10 {
				start := time.Now()
				if err := c.Put(fmt.Sprintf("700000-%03d-%03d", i%1000, j), pos.CardInfo{Type: apiclient.Stamp, TemplateID: 1}); err != nil {
					b.Error(err)
					return
				}
				putsMu.Lock()
				puts = append(puts, time.Since(start))
				putsMu.Unlock()
			}
		})
		for waiting := true; waiting; {
			select {
			case <-done:
				waiting = false
			case <-time.After(time.Millisecond): // a scan every millisecond meanwhile
				start := time.Now()
				c.Get("100000-100-001")
				waits = append(waits, time.Since(start))
			}
		}
		wg.Wait()
	}
	slices.Sort(waits)
	b.ReportMetric(float64(waits[len(waits)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(waits[len(waits)-1].Microseconds()), "max-µs")
	slices.Sort(puts)
	b.ReportMetric(float64(puts[len(puts)/2].Microseconds()), "put-p50-µs")
}
