package sandbox

import (
	"math"
	"time"
)

// window is a sliding-window log: it admits a request if fewer than n
// requests were admitted in the span before it. With a limit of L
// requests/second, n = ceil(L) and span = n/L seconds, so for L = 10 no
// 1-second window ever holds more than 10 admitted requests, while a client
// sending exactly one request every 100 ms is never refused (the request
// 1 s earlier has just left the window). There is no burst beyond the limit.
//
// Only admitted requests are logged: a refused request does not extend the
// lock-out (how the real API counts refused requests is UNKNOWN).
type window struct {
	span  time.Duration
	times []time.Time // ring of the last n admitted times
	next  int         // index of the oldest entry once the ring is full
}

// newWindow returns nil (unlimited) for limit < 0.
func newWindow(limit float64) *window {
	if limit < 0 {
		return nil
	}
	n := max(1, int(math.Ceil(limit)))
	return &window{
		span:  time.Duration(float64(n) / limit * float64(time.Second)),
		times: make([]time.Time, 0, n),
	}
}

// allow reports whether a request at now is admitted, and logs it if so.
func (w *window) allow(now time.Time) bool {
	if w == nil {
		return true
	}
	if len(w.times) < cap(w.times) {
		w.times = append(w.times, now)
		return true
	}
	if now.Sub(w.times[w.next]) < w.span {
		return false
	}
	w.times[w.next] = now
	w.next = (w.next + 1) % len(w.times)
	return true
}

// windowLocked returns the key's window, creating it on first use.
func (a *API) windowLocked(key string) *window {
	w, ok := a.windows[key]
	if !ok {
		w = newWindow(a.limit)
		a.windows[key] = w
	}
	return w
}
