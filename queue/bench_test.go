package queue_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tillscan/tillscan/queue"
)

// BenchmarkEnqueue measures what the cashier waits for: one fsync'd commit
// per scan. Run it where the queue will live (the test's temporary
// directory is on the machine's disk unless TMPDIR says otherwise).
func BenchmarkEnqueue(b *testing.B) {
	q, _ := openQueue(b, queue.Options{})
	s := scan("544256-439-856")
	var lat []time.Duration
	start := time.Now()
	for b.Loop() {
		t := time.Now()
		if _, err := q.Enqueue(s, t); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	elapsed := time.Since(start)
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
	b.ReportMetric(ms(lat[len(lat)*99/100]), "p99-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "enq/s")
}

// backlog returns a queue holding n pending jobs, each for its own card, so
// all n are card heads in the due index (the worst case for Next).
func backlog(b *testing.B, n int) *queue.Queue {
	b.Helper()
	q, err := queue.Open(filepath.Join(b.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { q.Close() })
	const batch = 2000
	for i := 0; i < n; i += batch {
		scans := make([]queue.Scan, min(batch, n-i))
		for k := range scans {
			scans[k] = scan(fmt.Sprintf("%06d-%03d-%03d", i+k, k%1000, 0))
		}
		// Spread the due times over the last hour so the index is not one run.
		if err := q.EnqueueBatch(scans, t0.Add(-time.Hour+time.Duration(i)*time.Millisecond)); err != nil {
			b.Fatal(err)
		}
	}
	return q
}

var backlogs = []int{10, 10_000, 100_000}

// BenchmarkNext is the cost of picking the next job: one index lookup, so
// it must not grow with the backlog.
func BenchmarkNext(b *testing.B) {
	for _, n := range backlogs {
		b.Run(fmt.Sprintf("backlog=%d", n), func(b *testing.B) {
			q := backlog(b, n)
			for b.Loop() {
				if _, err := q.Next(t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCycle is one job's whole life at a steady backlog: Next,
// Sending, Done (three index updates, two fsync'd commits) and an Enqueue
// to keep the backlog constant.
func BenchmarkCycle(b *testing.B) {
	for _, n := range backlogs {
		b.Run(fmt.Sprintf("backlog=%d", n), func(b *testing.B) {
			q := backlog(b, n)
			i := 0
			for b.Loop() {
				j, err := q.Next(t0)
				if err != nil {
					b.Fatal(err)
				}
				if err := q.Sending(j.ID, "add-stamp 1", t0); err != nil {
					b.Fatal(err)
				}
				if err := q.Done(j.ID, queue.Attempt{At: t0, Kind: "send", Outcome: "applied"}, "ok"); err != nil {
					b.Fatal(err)
				}
				i++
				if _, err := q.Enqueue(scan(fmt.Sprintf("new-%d", i)), t0.Add(-time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpen is the start-up cost, which includes bbolt's structural
// check of the whole file.
func BenchmarkOpen(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("backlog=%d", n), func(b *testing.B) {
			q := backlog(b, n)
			path := q.Path()
			q.Close()
			for b.Loop() {
				q, err := queue.Open(path, queue.Options{})
				if err != nil {
					b.Fatal(err)
				}
				q.Close()
			}
		})
	}
}

// BenchmarkCardHistory is the per-card cap's query on the scan path: one
// card's jobs of the last day among a large backlog. It is a range scan of
// the history index, so it must not grow with the backlog.
func BenchmarkCardHistory(b *testing.B) {
	for _, n := range backlogs {
		b.Run(fmt.Sprintf("backlog=%d", n), func(b *testing.B) {
			q := backlog(b, n)
			const card = "544256-439-856"
			scans := make([]queue.Scan, 20) // a regular: 20 scans kept, 5 of them today
			for i := range scans {
				scans[i] = scan(card)
			}
			// After the backlog's times: ids never go back in time.
			if err := q.EnqueueBatch(scans[:15], t0.Add(time.Hour)); err != nil {
				b.Fatal(err)
			}
			if err := q.EnqueueBatch(scans[15:], t0.Add(48*time.Hour)); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				jobs, err := q.CardHistory(card, t0.Add(24*time.Hour))
				if err != nil || len(jobs) != 5 {
					b.Fatalf("CardHistory() = %d jobs, %v; want 5", len(jobs), err)
				}
			}
		})
	}
}

// BenchmarkCreated is the day's report: the jobs created in a time range,
// here 2000 of a larger backlog.
func BenchmarkCreated(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("backlog=%d", n), func(b *testing.B) {
			q := backlog(b, n) // batch i of 2000 is created at t0-1h+i ms
			from := t0.Add(-time.Hour + 2000*time.Millisecond)
			for b.Loop() {
				jobs, err := q.Created(from, from.Add(time.Millisecond))
				if err != nil || len(jobs) != 2000 {
					b.Fatalf("Created() = %d jobs, %v; want 2000", len(jobs), err)
				}
			}
		})
	}
}

// BenchmarkConcurrentTransitions is what issue 11's pipelined worker does:
// several goroutines, each moving its own card's job through Sending and
// back to pending. Writers that arrive during a commit share the next one,
// so fsyncs per transition fall as callers rise (commits/transition).
func BenchmarkConcurrentTransitions(b *testing.B) {
	for _, callers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			q, _ := openQueue(b, queue.Options{})
			jobs := make([]queue.Job, callers)
			for i := range jobs {
				jobs[i] = enqueue(b, q, fmt.Sprintf("card-%d", i), t0)
			}
			before := q.Commits()
			b.ResetTimer()
			var wg sync.WaitGroup
			for i, j := range jobs {
				rounds := b.N / callers
				if i < b.N%callers {
					rounds++
				}
				wg.Go(func() {
					for range rounds {
						err := errors.Join(q.Sending(j.ID, "add-stamp 1", t0),
							q.Retry(j.ID, queue.Attempt{At: t0, Kind: "send", Outcome: "not_sent"}, t0))
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(q.Commits()-before)/float64(2*b.N), "commits/transition")
		})
	}
}
