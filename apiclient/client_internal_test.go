package apiclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

func TestBackoff(t *testing.T) {
	const base, ceiling = 500 * time.Millisecond, 30 * time.Second
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{0, 0, 0},
		{0, 0.5, 250 * time.Millisecond},
		{1, 0.5, 500 * time.Millisecond},
		{3, 0.999, time.Duration(0.999 * float64(4*time.Second))},
		{6, 0.5, 15 * time.Second}, // 32s capped to 30s
		{62, 0.5, 15 * time.Second},
		{1000, 0.5, 15 * time.Second}, // no overflow
	}
	for _, tt := range tests {
		if got := backoff(tt.n, base, ceiling, tt.r); got != tt.want {
			t.Errorf("backoff(%d, r=%v) = %v; want %v", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	date := "Wed, 25 Nov 2026 12:00:00 GMT" // the server's clock; the local one is 5 minutes off below
	tests := []struct {
		name   string
		header map[string]string
		now    time.Time
		want   time.Duration
		wantOK bool
	}{
		{"absent", nil, now, 0, false},
		{"seconds", map[string]string{"Retry-After": "7"}, now, 7 * time.Second, true},
		{"zero", map[string]string{"Retry-After": "0"}, now, 0, true},
		{"negative", map[string]string{"Retry-After": "-3"}, now, 0, false},
		{"garbage", map[string]string{"Retry-After": "soon"}, now, 0, false},
		{"fraction", map[string]string{"Retry-After": "1.5"}, now, 0, false},
		{"huge seconds", map[string]string{"Retry-After": "99999999999999999999999"}, now, 1<<63 - 1, true},
		{"IMF date against Date", map[string]string{"Retry-After": "Wed, 25 Nov 2026 12:00:30 GMT", "Date": date}, now.Add(5 * time.Minute), 30 * time.Second, true},
		{"RFC 850 date", map[string]string{"Retry-After": "Wednesday, 25-Nov-26 12:00:10 GMT", "Date": date}, now, 10 * time.Second, true},
		{"asctime date", map[string]string{"Retry-After": "Wed Nov 25 12:00:20 2026", "Date": date}, now, 20 * time.Second, true},
		{"date without Date header", map[string]string{"Retry-After": "Wed, 25 Nov 2026 12:00:30 GMT"}, now, 30 * time.Second, true},
		{"date in the past", map[string]string{"Retry-After": "Wed, 25 Nov 2026 11:59:00 GMT", "Date": date}, now, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			got, ok := parseRetryAfter(h, tt.now)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseRetryAfter(%v) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		status int
		want   error
	}{
		{400, ErrRejected}, {404, ErrRejected}, {409, ErrRejected}, {422, ErrRejected},
		{405, ErrRejected}, {413, ErrRejected},
		{401, ErrUnauthorized}, {403, ErrUnauthorized},
		{429, ErrRateLimited},
		{408, ErrAmbiguous},
		{500, ErrAmbiguous}, {502, ErrAmbiguous}, {503, ErrAmbiguous}, {504, ErrAmbiguous},
		{501, ErrAmbiguous}, {522, ErrAmbiguous},
		{301, ErrAmbiguous}, {303, ErrAmbiguous}, {307, ErrAmbiguous}, {102, ErrAmbiguous},
	}
	for _, tt := range tests {
		if got := classify(tt.status); got != tt.want {
			t.Errorf("classify(%d) = %v; want %v", tt.status, got, tt.want)
		}
	}
}

func TestActionBody(t *testing.T) {
	sum := 12.5
	big := 1234567.25
	tests := []struct {
		a    Action
		want string
	}{
		{Action{Method: AddStamp, Quantity: 1}, `{"stamps":1}`},
		{Action{Method: AddStamp, Quantity: 2, Comment: "tillscan:till-1:7"}, `{"comment":"tillscan:till-1:7","stamps":2}`},
		{Action{Method: AddTransactionAmount, Quantity: 1500, PurchaseSum: &sum}, `{"amount":1500,"purchaseSum":12.5}`},
		{Action{Method: AddPoint, Quantity: 2.75}, `{"points":2.75}`},
		{Action{Method: AddPurchase, Quantity: big}, `{"amount":1234567.25}`},
		{Action{Method: AddScores, Quantity: 1e9}, `{"scores":1000000000}`}, // never 1e+09
		{Action{Method: ReceiveReward, Quantity: 42}, `{"id":42}`},
		{Action{Method: RedeemCoupon}, `{}`},
		{Action{Method: RedeemCoupon, Quantity: 3, Comment: "c"}, `{"comment":"c"}`},
		{Action{Method: AddVisit, Quantity: 1, PurchaseSum: &big}, `{"purchaseSum":1234567.25,"visits":1}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(actionBody(tt.a))
		if err != nil || string(b) != tt.want {
			t.Errorf("actionBody(%+v) = %s, %v; want %s", tt.a, b, err, tt.want)
		}
	}
}

func testClient(t *testing.T, cfg Config) *Client {
	t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://127.0.0.1:1/api/v2"
	}
	if cfg.APIKey == "" {
		cfg.APIKey = "k"
	}
	if cfg.Headroom == 0 {
		cfg.Headroom = -1 // exact rates make exact fake-clock figures
	}
	c, err := New(cfg, zerolog.Nop())
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return c
}

// The limiter paces every waiter: 20 goroutines at 10/s, burst 1, take 1.9s
// of (fake) time, and no two tokens are closer than 100ms.
func TestWait_LimiterShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{})
		start := time.Now()
		at := startMany(t, c, 20)()
		if got, want := time.Since(start), 1900*time.Millisecond; got != want {
			t.Errorf("20 waits took %v; want %v", got, want)
		}
		seen := map[time.Duration]bool{}
		for _, d := range at {
			if seen[d] {
				t.Errorf("two tokens granted at %v", d)
			}
			seen[d] = true
		}
	})
}

// By default the client paces 3 % below RateLimit.
func TestWait_DefaultHeadroom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{Headroom: DefaultHeadroom})
		start := time.Now()
		for range 98 {
			if _, err := c.waitSent(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		// 97 gaps at 9.7/s: 10s.
		if got, want := time.Since(start), 10*time.Second; got < want-time.Millisecond || got > want+time.Millisecond {
			t.Errorf("97 waits took %v; want %v", got, want)
		}
	})
}

// Each request is written a little after its start. The gap counts from
// the write, so it must not add that lateness to the pace: 98 starts,
// each written 1 ms late, still take 97 paced intervals (10 s at 9.7/s),
// and none follows the last write by less than the server's interval and
// gapMargin.
func TestWait_LateWritesKeepThePace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{Headroom: DefaultHeadroom})
		limit := 10.0
		if want := time.Duration(float64(time.Second) / limit * (1 + gapMargin)); c.starts.gap != want {
			t.Fatalf("gap at 10/s with 3 %% headroom = %v; want %v", c.starts.gap, want)
		}
		start := time.Now()
		var written time.Time
		for i := range 98 {
			seq, err := c.wait(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 && time.Since(written) < c.starts.gap {
				t.Fatalf("start %d came %v after the last write; want at least %v", i, time.Since(written), c.starts.gap)
			}
			time.Sleep(time.Millisecond)
			written = time.Now()
			c.wrote(seq, written)
			c.sent(seq)
		}
		if got, want := written.Sub(start), 10*time.Second+time.Millisecond; got < want-time.Millisecond || got > want+time.Millisecond {
			t.Errorf("98 starts written 1 ms late took %v; want %v", got, want)
		}
	})
}

// The start window is the server's rule: at most n starts in any span.
func TestWindow(t *testing.T) {
	w := newWindow(10, 10) // 10 starts per 1s
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	// Start 0 went out 60ms late; 1..9 kept to the 100ms grid.
	w.add(ms(60))
	for i := 1; i < 10; i++ {
		if d := w.delay(ms(i * 100)); d != 0 {
			t.Fatalf("delay(start %d) = %v; want 0", i, d)
		}
		w.add(ms(i * 100))
	}
	// The grid says 1000ms, but start 0 was at 60ms: wait until 1060ms.
	if got, want := w.delay(ms(1000)), 60*time.Millisecond; got != want {
		t.Errorf("delay(1000ms) = %v; want %v", got, want)
	}
	if got := w.delay(ms(1060)); got != 0 {
		t.Errorf("delay(1060ms) = %v; want 0", got)
	}
	w.add(ms(1060))
	if got, want := w.delay(ms(1100)), 0*time.Millisecond; got != want { // start 1 was at 100ms
		t.Errorf("delay(1100ms) = %v; want %v", got, want)
	}

	// A start whose request was written late counts from the write.
	w = newWindow(2, 2) // 2 starts per 1s
	first := w.add(ms(0))
	w.add(ms(500))
	w.move(first, ms(80))
	w.move(first, ms(40)) // earlier: ignored
	if got, want := w.delay(ms(1000)), 80*time.Millisecond; got != want {
		t.Errorf("delay after a late write = %v; want %v", got, want)
	}
	w.add(ms(1080))
	w.move(first, ms(2000)) // forgotten: ignored
	if got, want := w.delay(ms(1500)), 0*time.Millisecond; got != want {
		t.Errorf("delay(1500ms) = %v; want %v", got, want)
	}
}

// With a burst of 1 the Client keeps consecutive starts one interval
// apart, so a start late by 60 ms pushes the next one instead of letting
// it follow 40 ms behind (a strict limiter refuses that one).
func TestWindow_GapAfterALateStart(t *testing.T) {
	c, err := New(Config{BaseURL: "http://127.0.0.1:1", Headroom: -1}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	w := c.starts
	if w.gap != 100*time.Millisecond {
		t.Fatalf("gap at 10/s with burst 1 = %v; want 100ms", w.gap)
	}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	w.add(ms(0))
	w.add(ms(160)) // due at 100 ms, 60 ms late
	tests := []struct {
		at   int
		want time.Duration
	}{{200, 60 * time.Millisecond}, {259, time.Millisecond}, {260, 0}, {400, 0}}
	for _, tt := range tests {
		if got := w.delay(ms(tt.at)); got != tt.want {
			t.Errorf("delay(%d ms) = %v; want %v", tt.at, got, tt.want)
		}
	}
	burst, err := New(Config{BaseURL: "http://127.0.0.1:1", Burst: 5}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if burst.starts.gap != 0 {
		t.Errorf("gap with Burst 5 = %v; want none (a configured burst may start together)", burst.starts.gap)
	}
}

func TestNewWindow_Extremes(t *testing.T) {
	if w := newWindow(1e12, 1e12); cap(w.at) != 1000 || w.span != time.Nanosecond {
		t.Errorf("newWindow(1e12) = n %d, span %v; want 1000, 1ns (1000 starts per 1000/1e12 s)", cap(w.at), w.span)
	}
	if w := newWindow(1e-300, 1e-300); cap(w.at) != 1 || w.span <= 0 {
		t.Errorf("newWindow(1e-300) = n %d, span %v; want 1 and a positive span", cap(w.at), w.span)
	}
}

// A burst larger than the limit is capped by the start window: 20 requests
// with Burst 20 at 10/s take 1s, never 11 in one second.
func TestWait_BurstCappedByWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{RateLimit: 10, Burst: 20})
		start := time.Now()
		var at []time.Duration
		for range 20 {
			if _, err := c.waitSent(t.Context()); err != nil {
				t.Fatal(err)
			}
			at = append(at, time.Since(start))
		}
		for i := 10; i < len(at); i++ {
			if d := at[i] - at[i-10]; d < time.Second {
				t.Errorf("starts %d and %d are %v apart; want >= 1s", i-10, i, d)
			}
		}
		if got := at[19]; got != time.Second {
			t.Errorf("20th start at %v; want 1s", got)
		}
	})
}

// A 429 pauses every goroutine, including those already queued on the
// limiter; Retry-After decides how long, capped.
func TestWait_PauseAfter429(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter string
		want       time.Duration
		wantOver   bool
	}{
		{"seconds", "5", 5 * time.Second, false},
		{"date", "Wed, 25 Nov 2026 12:00:07 GMT", 7 * time.Second, false},
		{"over cap", "3600", 60 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := testClient(t, Config{})
				h := http.Header{"Retry-After": {tt.retryAfter}, "Date": {"Wed, 25 Nov 2026 12:00:00 GMT"}}
				start := time.Now()
				d, over := c.rateLimited(h, start, 0)
				if d != tt.want || over != tt.wantOver {
					t.Fatalf("rateLimited() = %v, %v; want %v, %v", d, over, tt.want, tt.wantOver)
				}
				if got := c.Status().PausedUntil; !got.Equal(start.Add(tt.want)) {
					t.Errorf("Status().PausedUntil = %v; want %v", got, start.Add(tt.want))
				}
				var wg sync.WaitGroup
				for range 3 {
					wg.Go(func() {
						if _, err := c.waitSent(t.Context()); err != nil {
							t.Errorf("wait() = %v", err)
						}
						if el := time.Since(start); el < tt.want {
							t.Errorf("wait() returned after %v; want >= %v", el, tt.want)
						}
					})
				}
				wg.Wait()
				// After the pause the limiter paces again: 3 waiters, 200ms.
				if got, want := time.Since(start), tt.want+200*time.Millisecond; got != want {
					t.Errorf("3 waits took %v; want %v", got, want)
				}
			})
		})
	}
}

// Without Retry-After the pause grows with the 429 streak and is reset by
// any other answer.
func TestRateLimited_BackoffStreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{BackoffBase: time.Second, BackoffCap: 8 * time.Second})
		for n := range 6 {
			d, over := c.rateLimited(http.Header{}, time.Now(), 0)
			ceil := min(time.Second<<n, 8*time.Second)
			if d < 0 || d >= ceil || over {
				t.Errorf("429 #%d: pause %v, over cap %v; want in [0, %v), false", n+1, d, over, ceil)
			}
		}
		c.answered(time.Now())
		if c.streak != 0 {
			t.Errorf("streak after an answer = %d; want 0", c.streak)
		}
	})
}

// startMany starts n goroutines that each wait for a start, and returns a
// function that waits for all of them and returns when each start came,
// counted from the call.
func startMany(t *testing.T, c *Client, n int) func() []time.Duration {
	start := time.Now()
	var mu sync.Mutex
	var at []time.Duration
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := c.waitSent(t.Context()); err != nil {
				t.Errorf("wait() = %v", err)
			}
			mu.Lock()
			at = append(at, time.Since(start))
			mu.Unlock()
		})
	}
	return func() []time.Duration {
		wg.Wait()
		return at
	}
}

// waitSent is a start whose request reaches the wire at once: wait, then
// sent, as once does.
func (c *Client) waitSent(ctx context.Context) (uint64, error) {
	seq, err := c.wait(ctx)
	if err == nil {
		c.sent(seq)
	}
	return seq, err
}

// With several requests in flight, a start waits until the last one was
// written and keeps the gap from that write: a strict limiter sees the
// arrivals, not the grants.
func TestWait_AfterTheLastWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{})
		gap := c.starts.gap
		first, err := c.wait(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan time.Time, 1)
		go func() {
			if _, err := c.waitSent(t.Context()); err != nil {
				t.Errorf("wait() = %v", err)
			}
			done <- time.Now()
		}()
		time.Sleep(3 * gap) // the first request is late: its goroutine ran late, or it dials
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("the second start did not wait for the first one's write")
		default:
		}
		written := time.Now()
		c.wrote(first, written)
		c.sent(first)
		if got := (<-done).Sub(written); got != gap {
			t.Errorf("second start %v after the first was written, want the gap %v", got, gap)
		}

		third, err := c.wait(t.Context()) // never written (it failed before): sent alone ends the wait
		if err != nil {
			t.Fatal(err)
		}
		c.sent(third)
		before := time.Now()
		if _, err := c.waitSent(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := time.Since(before); got > gap {
			t.Errorf("a start after an unwritten one waited %v, want at most the gap %v", got, gap)
		}
	})
}

// A goroutine queued on the limiter when a 429 arrives does not start early.
func TestWait_PauseWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{RateLimit: 1})
		if _, err := c.waitSent(t.Context()); err != nil { // takes the only token
			t.Fatal(err)
		}
		start := time.Now()
		done := make(chan time.Duration)
		go func() {
			if _, err := c.waitSent(t.Context()); err != nil {
				t.Errorf("wait() = %v", err)
			}
			done <- time.Since(start)
		}()
		synctest.Wait() // the goroutine is blocked on the limiter (1s)
		c.pauseFor(time.Now(), 10*time.Second, http.StatusTooManyRequests)
		if got := <-done; got < 10*time.Second {
			t.Errorf("queued wait() returned after %v; want >= 10s", got)
		}
	})
}

func TestWait_ContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{})
		c.pauseFor(time.Now(), time.Minute, http.StatusTooManyRequests)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := c.waitSent(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("wait() = %v; want context.DeadlineExceeded", err)
		}
	})
}

// Goroutines queued for the limiter do not lose their turns to 429s'
// pauses: the one start whose token came keeps it through a pause, the
// others wait for theirs outside the limiter. Before, every queued
// goroutine held a reservation, gave its token up when it woke inside a
// pause and queued again behind the others: here, ten pauses each cost
// one interval, the 16th start 10 s later.
func TestWait_PausesDoNotBurnTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := testClient(t, Config{RateLimit: 1})
		start := time.Now()
		done := startMany(t, c, 16)
		// A short pause around each of the next ten token times.
		for k := 1; k <= 10; k++ {
			time.Sleep(time.Duration(k)*time.Second - 100*time.Millisecond - time.Since(start))
			c.pauseFor(time.Now(), 200*time.Millisecond, http.StatusTooManyRequests)
		}
		last := slices.Max(done())
		if want := 16 * time.Second; last > want {
			t.Errorf("the 16th start came %v after the first; want at most %v (15 intervals and the pauses' 0.1 s)", last, want)
		}
	})
}
