package apiclient

// The handover between two processes of one till: the server counts a
// key's requests across a restart, so a new Client must not send into the
// second its previous process used. Without word from that process it
// assumes the whole last window was used and waits about a second before
// its first request; with a Handover it keeps only the window the previous
// process really left.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// HandoverFile is the name a process keeps its Handover under in its state
// directory (see SaveHandover and TakeHandover).
const HandoverFile = "api-handover.json"

// Handover is what a Client leaves for the next Client of the same till
// and key, as Client.Handover returns it when the Client has stopped
// sending: when its most recent requests reached the wire.
type Handover struct {
	// Written are the wall-clock times of the Client's most recent
	// requests (at most one window of them), each when it was written; a
	// start the Client had to assume (its own previous process's) counts
	// as written.
	Written []time.Time `json:"written"`
}

// Handover returns the Client's writes of the last window, for
// Config.Handover of the next Client. Call it once nothing is being sent
// any more: a request started after it is not in it.
func (c *Client) Handover() Handover {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := Handover{Written: []time.Time{}}
	now := time.Now()
	for i, t := range c.starts.at {
		if c.starts.wrote[i] && now.Sub(t) < c.starts.span {
			h.Written = append(h.Written, t.Round(0)) // wall clock: the next process has its own monotonic one
		}
	}
	slices.SortFunc(h.Written, time.Time.Compare)
	return h
}

// SaveHandover writes h to path for the next process, replacing the file
// at once (a write to a temporary file renamed over it): a reader sees a
// whole Handover or none.
func SaveHandover(path string, h Handover) error {
	b, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("apiclient: handover: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("apiclient: handover: %w", err)
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("apiclient: handover: %w", err)
	}
	return nil
}

// TakeHandover reads the Handover a previous process left at path and
// removes the file, so that a process that ends without leaving one (a
// crash, a power cut) is not mistaken for one that did. It returns nil
// and no error if there is none: then the new Client assumes the last
// window was used. It returns nil and an error if the file cannot be read
// or removed, or does not hold a Handover; the caller logs it, and the
// Client assumes the same.
func TakeHandover(path string) (*Handover, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("apiclient: handover: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("apiclient: handover: %w (remove it: a stale one would let a restart after a crash send too soon)", err)
	}
	var h Handover
	if err := json.Unmarshal(b, &h); err != nil || h.Written == nil {
		return nil, fmt.Errorf("apiclient: handover %s: not a handover (%d bytes): the first request waits about a second", path, len(b))
	}
	return &h, nil
}

// fill records a full window of starts at now: a Client that has just
// started and has no Handover assumes its previous process used the whole
// last window, so its first request cannot land in the same second as the
// last ones sent before the restart.
func (w *window) fill(now time.Time) {
	for len(w.at) < cap(w.at) {
		w.assume(now)
	}
}

// handOver fills the window with the writes a previous process left, as
// of now (see fill). A write older than the span is over; one dated after
// now (the wall clock was stepped back since) counts as now; only the
// latest writes that fit in the window are kept. Each is turned into a
// time on this process's monotonic clock, so that a later step of the
// wall clock cannot stretch a wait.
func (w *window) handOver(now time.Time, h Handover) {
	wall := now.Round(0)
	ages := make([]time.Duration, 0, len(h.Written))
	for _, t := range h.Written {
		if age := max(wall.Sub(t), 0); age < w.span {
			ages = append(ages, age)
		}
	}
	slices.Sort(ages) // youngest first
	for _, age := range ages[:min(len(ages), cap(w.at))] {
		w.assume(now.Add(-age))
	}
}
