package apiclient_test

import (
	"context"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/internal/logtest"

	"github.com/tillscan/tillscan/apiclient/redislimit"
	"github.com/tillscan/tillscan/apiclient/redislimit/redistest"
	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// counting is a SharedLimiter that records what the real one decided.
type counting struct {
	apiclient.SharedLimiter
	mu            sync.Mutex
	booked, later int // starts booked; of them, or refused, those not now
	ids           map[string]bool
}

func (c *counting) Reserve(ctx context.Context, id string) (time.Duration, bool, error) {
	d, booked, err := c.SharedLimiter.Reserve(ctx, id)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ids == nil {
		c.ids = map[string]bool{}
	}
	c.ids[id] = true
	if err == nil && booked {
		c.booked++
	}
	if err == nil && d > 0 {
		c.later++
	}
	return d, booked, err
}

// Two tills on one key with a shared limiter on Redis: every request that
// reaches the API was booked on Redis, the tills waited for their turns
// when the other had just started one, and Redis only ever saw a hash of
// the key.
func TestShared_EveryStartBookedOnRedis(t *testing.T) {
	rs := redistest.Start(t)
	srv, err := sandbox.NewServer(sandbox.Options{APIKeys: []string{testKey}, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var limiters []*counting
	var wg sync.WaitGroup
	const tills, each = 2, 6
	for range tills {
		rl, err := redislimit.New(rs.URL, 20) // the key's 20/s shared by both
		if err != nil {
			t.Fatal(err)
		}
		defer rl.Close()
		cl := &counting{SharedLimiter: rl}
		limiters = append(limiters, cl)
		// Each till alone may send 100/s: only the shared limit holds them back.
		c, err := apiclient.New(apiclient.Config{BaseURL: srv.URL, APIKey: testKey, RateLimit: 100, Shared: cl}, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for range each {
				if _, err := c.GetCard(t.Context(), sandbox.DemoStampCard); err != nil {
					t.Errorf("GetCard: %v", err)
				}
			}
			if st := c.Status(); st.Shared != apiclient.SharedOK {
				t.Errorf("Status().Shared = %q; want %q", st.Shared, apiclient.SharedOK)
			}
		})
	}
	wg.Wait()
	booked, later := 0, 0
	for _, cl := range limiters {
		booked += cl.booked
		later += cl.later
		for id := range cl.ids {
			if id != apiclient.KeyID(testKey) || strings.Contains(id, testKey) {
				t.Errorf("key id %q sent to the shared limiter; want the key's hash %q", id, apiclient.KeyID(testKey))
			}
		}
	}
	if st := srv.API.Stats(); booked != st.Requests || st.Requests != tills*each {
		t.Errorf("Redis booked %d starts, the API got %d requests; want both %d", booked, st.Requests, tills*each)
	}
	if later == 0 {
		t.Error("no till ever waited for its turn: the shared schedule did not pace them")
	}
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimSuffix(strings.TrimPrefix(rs.URL, "redis://"), "/0")})
	defer rdb.Close()
	keys, err := rdb.Keys(t.Context(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	hashed := regexp.MustCompile(`^rate:tillscan:[0-9a-f]{32}$`)
	if len(keys) != 1 || !hashed.MatchString(keys[0]) {
		t.Errorf("Redis keys %q; want one rate:tillscan:<32 hex digits>", keys)
	}
}

// With Redis unreachable the till keeps sending, paced by itself, says so
// once, and goes back to the shared schedule when Redis answers again.
func TestShared_FallsBackWhileRedisIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close() // nothing listens there until Redis is started below
	srv, err := sandbox.NewServer(sandbox.Options{APIKeys: []string{testKey}, RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rl, err := redislimit.New("redis://127.0.0.1:"+strconv.Itoa(port)+"/0", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	var logs logtest.Buffer
	c, err := apiclient.New(apiclient.Config{BaseURL: srv.URL, APIKey: testKey, RateLimit: 100, Shared: rl}, zerolog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	if !apiclient.Adaptive(c) {
		t.Error("a Client with a shared limiter has no adaptive rate to fall back on")
	}
	for range 3 {
		if _, err := c.GetCard(t.Context(), sandbox.DemoStampCard); err != nil {
			t.Fatalf("GetCard with Redis down: %v; want the till to keep sending", err)
		}
	}
	st := c.Status()
	if st.Shared != apiclient.SharedUnreachable || st.SharedErr == nil {
		t.Errorf("Status() = Shared %q, SharedErr %v; want %q with the reason", st.Shared, st.SharedErr, apiclient.SharedUnreachable)
	}
	if n := strings.Count(logs.String(), "shared rate limiter unreachable"); n != 1 {
		t.Errorf("%d log lines say the shared limiter is unreachable; want 1 (one per transition)\n%s", n, logs.String())
	}

	redistest.StartAt(t, port)
	apiclient.RetrySharedNow(c) // the retry interval has passed
	if _, err := c.GetCard(t.Context(), sandbox.DemoStampCard); err != nil {
		t.Fatal(err)
	}
	if st := c.Status(); st.Shared != apiclient.SharedOK || st.SharedErr != nil {
		t.Errorf("after Redis came back: Status() = Shared %q, SharedErr %v; want %q", st.Shared, st.SharedErr, apiclient.SharedOK)
	}
	if n := strings.Count(logs.String(), "shared rate limiter reachable again"); n != 1 {
		t.Errorf("%d log lines say the shared limiter is back; want 1", n)
	}
	if strings.Contains(logs.String(), testKey) {
		t.Error("the log holds the API key")
	}
}
