package apiclient_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
)

// recorder is an Observer that remembers what it was told.
type recorder struct {
	mu       sync.Mutex
	waits    int
	answered []answer
}

type answer struct {
	endpoint apiclient.Endpoint
	status   int
}

func (r *recorder) Waited(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d < 0 {
		panic("negative wait")
	}
	r.waits++
}

func (r *recorder) Answered(e apiclient.Endpoint, status int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answered = append(r.answered, answer{e, status})
}

func (r *recorder) take() (int, []answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w, a := r.waits, r.answered
	r.waits, r.answered = 0, nil
	return w, a
}

// TestObserver_EndpointsAndStatuses checks each request reaches the
// Observer once, under its endpoint class and the HTTP status answered, and
// that a 429 re-sent is two requests.
func TestObserver_EndpointsAndStatuses(t *testing.T) {
	var mu sync.Mutex
	limited := 0
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v2/operations":
			apiError(w, http.StatusBadGateway, "upstream")
		case r.Method == http.MethodPost:
			mu.Lock()
			first := limited == 0
			limited++
			mu.Unlock()
			if first {
				apiError(w, http.StatusTooManyRequests, "slow down")
				return
			}
			envelope(w, http.StatusOK, sampleCard, nil)
		case r.URL.Path == "/api/v2/templates":
			envelope(w, http.StatusOK, []any{}, nil)
		default:
			envelope(w, http.StatusOK, sampleCard, nil)
		}
	})
	rec := &recorder{}
	c, _ := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.Observer = rec })
	ctx := context.Background()

	tests := []struct {
		name  string
		call  func() error
		wants []answer
	}{
		{"get card", func() error { _, err := c.GetCard(ctx, "544256-439-856"); return err },
			[]answer{{apiclient.EndpointCard, 200}}},
		{"action, 429 then applied", func() error {
			_, err := c.Apply(ctx, apiclient.Action{Card: "544256-439-856", Method: apiclient.AddStamp, Quantity: 1})
			return err
		}, []answer{{apiclient.EndpointAction, 429}, {apiclient.EndpointAction, 200}}},
		{"operations, 502", func() error {
			_, _, err := c.ListOperations(ctx, apiclient.OperationsQuery{Page: 1})
			if !errors.Is(err, apiclient.ErrAmbiguous) {
				return err
			}
			return nil
		}, []answer{{apiclient.EndpointOperations, 502}}},
		{"templates", func() error { _, _, err := c.ListTemplates(ctx, apiclient.PageQuery{Page: 1}); return err },
			[]answer{{apiclient.EndpointOther, 200}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			waits, got := rec.take()
			if !slices.Equal(got, tt.wants) {
				t.Errorf("answered %v, want %v", got, tt.wants)
			}
			if waits != len(tt.wants) {
				t.Errorf("%d limiter waits observed, want one per request (%d)", waits, len(tt.wants))
			}
		})
	}
}

// TestObserver_NoAnswer checks a request that got no answer is reported
// with status 0.
func TestObserver_NoAnswer(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {})
	base := f.base()
	f.Close() // connection refused from now on
	rec := &recorder{}
	c, _ := newClient(t, base, func(cfg *apiclient.Config) { cfg.Observer = rec; cfg.Tries = 1 })
	if _, err := c.GetCard(context.Background(), "544256-439-856"); !errors.Is(err, apiclient.ErrNotSent) {
		t.Fatalf("GetCard on a closed server = %v, want ErrNotSent", err)
	}
	if _, got := rec.take(); !slices.Equal(got, []answer{{apiclient.EndpointCard, 0}}) {
		t.Errorf("answered %v, want one card request with status 0", got)
	}
}
