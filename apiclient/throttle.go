package apiclient

// Client-side throttling, with the adaptive rate (Config.Adaptive): the
// rule of Google's SRE book ("Handling Overload", adaptive throttling). A
// till counts, over the last throttleSpan, the requests the server
// answered (429s included) and those it accepted (any answer but 429), and
// gives up a start with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// counting each start given up as a request too. The server then sees at
// most about K requests for each one it accepts, so 429s stay near
// 1 − 1/K of a till's requests however many tills share the key, where
// the adaptive rate alone lets each till's probe collide with the others'
// (measured through nginx burst=10 nodelay, 10 tills: 23 % of requests
// answered 429). A till alone that meets a 429 now and then (1 in 100)
// is not throttled: requests stay below K·accepts.

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
// number in [0,1). A start given up is counted as a request.
func (t *throttle) skip(now time.Time, r float64) bool {
	if r >= t.rejectProbability(now) {
		return false
	}
	t.requests[t.bucket(now)]++
	return true
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
