package apiclient

// How long to wait after a failure: full-jitter backoff and the
// Retry-After header.

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// backoff is full jitter: uniform in [0, min(ceiling, base·2ⁿ)), given r
// uniform in [0, 1).
func backoff(n int, base, ceiling time.Duration, r float64) time.Duration {
	d := ceiling
	if n < 62 && base <= ceiling>>n { // base·2ⁿ does not overflow and stays under the cap
		d = min(base<<n, ceiling)
	}
	return time.Duration(r * float64(d))
}

// parseRetryAfter reads a Retry-After header (RFC 9110 §10.2.3): delay-seconds,
// or an HTTP-date measured against the answer's Date header (falling back to
// now when Date is missing) so the local clock's skew does not matter. It
// reports false when the header is absent or malformed (negative numbers
// included), and 0 for a date in the past.
func parseRetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if strings.Trim(v, "0123456789") == "" {
				return time.Duration(1<<63 - 1), true // absurdly large: the caller caps it
			}
			return 0, false
		}
		if secs > uint64((1<<63-1)/time.Second) {
			return time.Duration(1<<63 - 1), true
		}
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(v) // IMF-fixdate, RFC 850 and asctime
	if err != nil {
		return 0, false
	}
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
		now = date
	}
	return max(at.Sub(now), 0), true
}
