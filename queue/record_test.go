package queue

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// FuzzDecodeJob feeds damaged records to the decoder Open's audit and every
// read use: it never panics, refuses with errBadRecord, or returns a job
// that satisfies what the queue relies on and survives a round trip.
// Long run: go test ./queue -run '^$' -fuzz FuzzDecodeJob -fuzztime 1000000x
func FuzzDecodeJob(f *testing.F) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	sum := 12.5
	j := Job{ID: "01KB0Z6V8Q2D7N4W9X3Y5Z6A7B", Scan: Scan{Card: "544256-439-856", TillID: "till-1", Scanner: "front",
		Raw: "https://x/c/544256-439-856", ScannedAt: at, Mode: "redeem", PurchaseSum: &sum},
		State: Ambiguous, CreatedAt: at, UpdatedAt: at, NextAttempt: at.Add(time.Minute), Misses: 1, SentAt: at,
		Attempts: []Attempt{{At: at, Kind: "send", Outcome: "ambiguous", Error: "timeout", HTTPStatus: 504}},
		Action:   "add-stamp 1", Uncertain: true}
	good, err := json.Marshal(j)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(j.ID), good)
	f.Add([]byte(j.ID), good[:len(good)-1])
	f.Add([]byte(j.ID), bytes.Replace(good, []byte(`"state":"ambiguous"`), []byte(`"state":"refused"`), 1))
	f.Add([]byte(j.ID), bytes.Replace(good, []byte("2026-11-25T12"), []byte("2026-11-25X12"), 1))
	f.Add([]byte("x"), []byte(`{"id":"x"}`))
	f.Add([]byte(j.ID), []byte("null"))
	f.Fuzz(func(t *testing.T, key, rec []byte) {
		got, err := decodeJob(key, rec)
		if err != nil {
			if !errors.Is(err, errBadRecord) {
				t.Fatalf("decodeJob() = %v, want errBadRecord", err)
			}
			return
		}
		if got.ID != string(key) || len(got.ID) != idLen || !got.State.valid() || checkScan(got.Scan) != nil {
			t.Fatalf("decodeJob() accepted %+v under key %q", got, key)
		}
		again, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decodeJob(key, again)
		if err != nil || back.ID != got.ID || back.State != got.State || back.Card != got.Card || !back.NextAttempt.Equal(got.NextAttempt) {
			t.Fatalf("round trip: %+v, %v; want %+v", back, err, got)
		}
	})
}
