package redislimit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tillscan/tillscan/apiclient/redislimit"
	"github.com/tillscan/tillscan/apiclient/redislimit/redistest"
)

// Tills on one Redis book one schedule per key id, in the order they
// ask: each booking is the next free start, one interval after the last;
// once the schedule is booked bookAhead (3 s) ahead a till is told when
// to ask again, booking nothing; another key id has its own schedule.
func TestReserve_BooksInTheOrderAsked(t *testing.T) {
	srv := redistest.Start(t)
	// 1/s: an interval of 1 s, so the test's own pace cannot matter.
	a, err := redislimit.New(srv.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := redislimit.New(srv.URL, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := t.Context()
	// Within slack of the booked second: the calls themselves take a
	// little of Redis's time.
	const slack = 500 * time.Millisecond
	for i, l := range []*redislimit.Limiter{a, b, a, b} {
		want := time.Duration(i) * time.Second
		d, booked, err := l.Reserve(ctx, "key1")
		if err != nil || !booked || d > want || d < want-slack {
			t.Fatalf("booking %d = %v, %v, %v; want booked, %v ahead (less the calls' time)", i, d, booked, err, want)
		}
	}
	d, booked, err := a.Reserve(ctx, "key1")
	if err != nil || booked || d > time.Second || d < time.Second-slack {
		t.Errorf("booking with the schedule full = %v, %v, %v; want not booked, ask again in about 1s", d, booked, err)
	}
	// Nothing was booked: the schedule still ends where it did.
	if d2, booked, err := b.Reserve(ctx, "key1"); err != nil || booked || d2 > d {
		t.Errorf("asking again at once = %v, %v, %v; want not booked, ask again in at most %v", d2, booked, err, d)
	}
	if d, booked, err := b.Reserve(ctx, "key2"); err != nil || !booked || d != 0 {
		t.Errorf("booking another key = %v, %v, %v; want booked now (its own schedule)", d, booked, err)
	}
	// Redis holds the key id it was given, nothing else.
	rdb := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(strings.TrimSuffix(srv.URL, "/0"), "redis://")})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k != "rate:tillscan:key1" && k != "rate:tillscan:key2" {
			t.Errorf("unexpected Redis key %q", k)
		}
	}
}

func TestReserve_Errors(t *testing.T) {
	srv := redistest.Start(t)
	l, err := redislimit.New(srv.URL, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, _, err := l.Reserve(t.Context(), ""); !errors.Is(err, redislimit.ErrNoKeyID) {
		t.Errorf("Reserve(\"\") = %v; want ErrNoKeyID", err)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, _, err := l.Reserve(ctx, "key"); err == nil || ctx.Err() != nil {
		t.Errorf("Reserve with Redis gone = %v (ctx %v); want an error before the context ends", err, ctx.Err())
	}
}

func TestNew_Invalid(t *testing.T) {
	tests := []struct {
		url  string
		rate float64
	}{{"redis://127.0.0.1:6379/0", 0}, {"redis://127.0.0.1:6379/0", -1}, {"http://127.0.0.1/", 10}, {"redis://127.0.0.1:6379/x", 10}}
	for _, tt := range tests {
		if l, err := redislimit.New(tt.url, tt.rate); err == nil {
			l.Close()
			t.Errorf("New(%q, %v) = nil error; want one", tt.url, tt.rate)
		}
	}
}
