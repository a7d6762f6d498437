package apiclient

// Client-side throttling, with the adaptive rate (Config.Adaptive), after
// the adaptive throttling of Google's SRE book ("Handling Overload"): a
// till counts, over the last throttleSpan, the requests the server answered
// (429s included) and those it accepted (any answer but 429), and gives up
// a start with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// so it sends less while more than about 1 in 1/(K−1) of its requests are
// refused. A till alone that meets a 429 now and then (1 in 100) is never
// throttled. Unlike the book, a start given up is not counted as a request:
// behind a token bucket every till meets about the same share of 429s, and
// counting them made a throttled till throttle itself further. Measured
// through nginx burst=10 nodelay with in-process clients over 60 s
// (go run ./tools/bench -only fleet -drivers adaptive -window 60s): 10 tills
// 17 % of requests 429 with the worst till at 43 % of its fair share, where
// counting them gave 11 % but starved one till (2 %); 5 tills 9 % (67 %).
// The adaptive rate alone left 13 % (5 tills) and 25 % (10 tills) over 30 s.

import (
	"time"
)

const (
	// throttleK is K: the requests the server may see per one it accepts.
	throttleK = 1.03
	// throttleSpan is how far back the counts go; each bucket is a second.
	throttleSpan = 60 * time.Second
)

// throttle keeps the counts in one-second buckets, oldest overwritten. It
// holds no clock and no lock: Client.mu guards it.
type throttle struct {
	sec      []int64 // the Unix second each bucket counts
	requests []int   // answered, 429s and starts given up
	accepts  []int   // answered but not 429
}

func newThrottle() *throttle {
	n := int(throttleSpan / time.Second)
	return &throttle{sec: make([]int64, n), requests: make([]int, n), accepts: make([]int, n)}
}

// bucket returns the index of now's bucket, emptied if it held an older
// second.
func (t *throttle) bucket(now time.Time) int {
	s := now.Unix()
	i := int(s % int64(len(t.sec)))
	if i < 0 {
		i += len(t.sec)
	}
	if t.sec[i] != s {
		t.sec[i], t.requests[i], t.accepts[i] = s, 0, 0
	}
	return i
}

// answered counts a request the server answered; accepted is false for a
// 429.
func (t *throttle) answered(now time.Time, accepted bool) {
	i := t.bucket(now)
	t.requests[i]++
	if accepted {
		t.accepts[i]++
	}
}

// skip reports whether to give up a start at now; r is a uniform random
// number in [0,1).
func (t *throttle) skip(now time.Time, r float64) bool {
	return r < t.rejectProbability(now)
}

// rejectProbability is the rule's probability at now.
func (t *throttle) rejectProbability(now time.Time) float64 {
	oldest := now.Unix() - int64(len(t.sec)) + 1
	var req, acc int
	for i, s := range t.sec {
		if s >= oldest && s <= now.Unix() {
			req += t.requests[i]
			acc += t.accepts[i]
		}
	}
	return max(0, (float64(req)-throttleK*float64(acc))/float64(req+1))
}
