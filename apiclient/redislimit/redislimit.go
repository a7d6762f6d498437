// Package redislimit is an apiclient.SharedLimiter that keeps one GCRA
// schedule per API key in Redis (github.com/go-redis/redis_rate/v10, a
// Lua script run atomically by Redis on Redis's clock), so every till
// that reaches the same Redis shares the key's rate limit without
// hand-splitting it: each till books its next start on the schedule and
// the tills with a backlog take their turns. It owns the Redis
// connection and the limit's shape; the fallback when Redis cannot
// answer belongs to apiclient.Client.
package redislimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Limiter paces request starts per key id at one rate across every
// process using the same Redis. It is safe for concurrent use.
type Limiter struct {
	rdb   *redis.Client
	lim   *redis_rate.Limiter
	limit redis_rate.Limit
}

// Connection timeouts: a till asks Redis before each request and must not
// wait long on a Redis that is gone (the Client then paces by itself).
const (
	dialTimeout = 250 * time.Millisecond
	ioTimeout   = 250 * time.Millisecond
)

// bookAhead is how far ahead of now a start may be booked. Each till
// holds one booking at a time, so the schedule is a queue of the tills
// waiting for the key, in the order they asked; bookAhead of queue takes
// bookAhead × rate tills and one more (30 at 9.7/s) before the rest are
// told to ask again.
const bookAhead = 3 * time.Second

// New connects to the Redis at url ("redis://HOST:PORT/DB", see
// redis.ParseURL) and paces every key at rate requests per second, with no
// burst: starts are at least 1/rate apart on Redis's clock. Pass the key's
// limit less a headroom for the time between Redis's decision and the
// request reaching the API. New does not contact Redis: a Redis that is
// down at start is a fallback, not an error.
func New(url string, rate float64) (*Limiter, error) {
	if !(rate > 0) || math.IsInf(rate, 0) {
		return nil, fmt.Errorf("redislimit: rate %v: want a positive number of requests per second", rate)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redislimit: %w (want redis://HOST:PORT/DB)", err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
	opts.MaxRetries = -1 // a failed decision falls back at once; a retry would only add delay
	rdb := redis.NewClient(opts)
	interval := time.Duration(float64(time.Second) / rate)
	return &Limiter{
		rdb: rdb,
		lim: redis_rate.NewLimiter(rdb),
		// GCRA's emission interval is Period/Rate: one start per interval.
		// Its burst is the booking's horizon (see Reserve): the starts
		// themselves stay an interval apart.
		limit: redis_rate.Limit{Rate: 1, Period: interval, Burst: 1 + int(bookAhead/interval)},
	}, nil
}

// ErrNoKeyID is returned for an empty key id.
var ErrNoKeyID = errors.New("redislimit: empty key id")

// Reserve books the next free start of keyID and returns how long from
// now until it, or, if the schedule is booked bookAhead ahead, how long
// until it is not (booking nothing). keyID names the key in Redis: pass a
// hash, never the key.
//
// GCRA keeps the key's theoretical arrival time (TAT): the end of the
// last booked interval. A request it allows books the interval that
// starts at max(TAT, now) and moves TAT one interval on; redis_rate
// reports the new TAT as ResetAfter, so the booked start is one interval
// before it. Its burst admits a booking while that start is at most
// burst − 1 intervals ahead.
func (l *Limiter) Reserve(ctx context.Context, keyID string) (time.Duration, bool, error) {
	if keyID == "" {
		return 0, false, ErrNoKeyID
	}
	res, err := l.lim.Allow(ctx, "tillscan:"+keyID, l.limit)
	if err != nil {
		return 0, false, fmt.Errorf("redislimit: %w", err)
	}
	if res.Allowed > 0 {
		return max(res.ResetAfter-l.limit.Period, 0), true, nil
	}
	return max(res.RetryAfter, time.Millisecond), false, nil
}

// Close closes the connections to Redis.
func (l *Limiter) Close() error { return l.rdb.Close() }
