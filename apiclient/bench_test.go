package apiclient_test

import (
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// BenchmarkSharedLimiter pushes 1000 requests (half add-stamp actions, half
// card reads) from 20 goroutines through ONE Client against the sandbox's
// 10 requests/second per-key limit, and reports the achieved rate and the
// 429s the sandbox answered. One iteration takes about 100 s:
//
//	go test -run '^$' -bench BenchmarkSharedLimiter -benchtime 1x ./apiclient/
//
// TILLSCAN_BENCH_RATE sets the client's RateLimit (default: the Client's
// default) and TILLSCAN_BENCH_REQUESTS the number of requests (default 1000).
func BenchmarkSharedLimiter(b *testing.B) {
	const goroutines = 20
	total := envInt(b, "TILLSCAN_BENCH_REQUESTS", 1000)
	var clientRate float64
	if v := os.Getenv("TILLSCAN_BENCH_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil {
			b.Fatalf("TILLSCAN_BENCH_RATE=%q: %v", v, err)
		}
		clientRate = r
	}
	var rate, limited, requests float64
	for range b.N {
		srv, err := sandbox.NewServer(sandbox.Options{APIKeys: []string{testKey}}) // 10 req/s per key
		if err != nil {
			b.Fatal(err)
		}
		c, err := apiclient.New(apiclient.Config{BaseURL: srv.URL, APIKey: testKey, RateLimit: clientRate}, zerolog.Nop())
		if err != nil {
			b.Fatal(err)
		}
		var next atomic.Int64
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for g := range goroutines {
			wg.Go(func() {
				for next.Add(1) <= int64(total) {
					var err error
					if g%2 == 0 {
						_, err = c.Apply(b.Context(), apiclient.Action{Card: sandbox.DemoCashbackCard, Method: apiclient.AddPoint, Quantity: 1})
					} else {
						_, err = c.GetCard(b.Context(), sandbox.DemoStampCard)
					}
					if err != nil {
						failed.Add(1)
						b.Errorf("call: %v", err)
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		st := srv.API.Stats()
		srv.Close()
		rate += float64(total) / elapsed.Seconds()
		limited += float64(st.RateLimited)
		requests += float64(st.Requests)
	}
	n := float64(b.N)
	b.ReportMetric(rate/n, "req/s")
	b.ReportMetric(limited/n, "429s")
	b.ReportMetric(requests/n, "sent")
	b.ReportMetric(0, "ns/op") // one op is a whole run; the rate is the figure
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// BenchmarkTills runs several tills, each its own Client on the same key
// sending one request at a time (like the worker), against the sandbox's
// 10 requests/second per key, with the fixed rate and with Config.Adaptive.
// It reports the tills' combined rate as a share of the limit and the share
// of requests answered 429. About 20 s per sub-benchmark with the defaults:
//
//	go test -run '^$' -bench BenchmarkTills -benchtime 1x ./apiclient/
//
// TILLSCAN_BENCH_TILLS sets the number of tills (default 2),
// TILLSCAN_BENCH_REQUESTS the successful requests per till (default 100).
func BenchmarkTills(b *testing.B) {
	tills := envInt(b, "TILLSCAN_BENCH_TILLS", 2)
	each := envInt(b, "TILLSCAN_BENCH_REQUESTS", 100)
	for _, adaptive := range []bool{false, true} {
		name := "fixed"
		if adaptive {
			name = "adaptive"
		}
		b.Run(name, func(b *testing.B) {
			var share, limited float64
			for range b.N {
				srv, err := sandbox.NewServer(sandbox.Options{APIKeys: []string{testKey}})
				if err != nil {
					b.Fatal(err)
				}
				var wg sync.WaitGroup
				start := time.Now()
				for range tills {
					c, err := apiclient.New(apiclient.Config{BaseURL: srv.URL, APIKey: testKey, Adaptive: adaptive}, zerolog.Nop())
					if err != nil {
						b.Fatal(err)
					}
					wg.Go(func() {
						for done := 0; done < each; {
							if _, err := c.GetCard(b.Context(), sandbox.DemoStampCard); err == nil {
								done++
							}
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				st := srv.API.Stats()
				srv.Close()
				share += float64(tills*each) / elapsed.Seconds() / 10 // the sandbox's default limit
				limited += float64(st.RateLimited) / float64(st.Requests)
			}
			n := float64(b.N)
			b.ReportMetric(100*share/n, "%limit")
			b.ReportMetric(100*limited/n, "%429")
			b.ReportMetric(0, "ns/op")
		})
	}
}
