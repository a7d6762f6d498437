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

// Two tills on one Redis share one schedule per key id: right after one
// is granted a start, the other is told to wait, and another key id is
// not affected.
func TestReserve_OneScheduleAcrossTills(t *testing.T) {
	srv := redistest.Start(t)
	// 0.5/s: an interval of 2 s, so the test's own pace cannot matter.
	a, err := redislimit.New(srv.URL, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := redislimit.New(srv.URL, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := t.Context()
	if d, err := a.Reserve(ctx, "key1"); err != nil || d != 0 {
		t.Fatalf("first Reserve = %v, %v; want 0 (granted)", d, err)
	}
	d, err := b.Reserve(ctx, "key1")
	if err != nil || d <= 0 || d > 2*time.Second {
		t.Fatalf("the other till's Reserve = %v, %v; want a wait in (0, 2s]", d, err)
	}
	if d, err := b.Reserve(ctx, "key2"); err != nil || d != 0 {
		t.Errorf("Reserve of another key = %v, %v; want 0 (its own schedule)", d, err)
	}
	// A refusal counts nothing: the first till is refused for the same
	// reason, not pushed further back.
	if d2, err := a.Reserve(ctx, "key1"); err != nil || d2 <= 0 || d2 > d {
		t.Errorf("Reserve after a refusal = %v, %v; want a wait in (0, %v]", d2, err, d)
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
	if _, err := l.Reserve(t.Context(), ""); !errors.Is(err, redislimit.ErrNoKeyID) {
		t.Errorf("Reserve(\"\") = %v; want ErrNoKeyID", err)
	}
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := l.Reserve(ctx, "key"); err == nil || ctx.Err() != nil {
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
