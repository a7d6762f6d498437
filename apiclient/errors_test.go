package apiclient_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
)

var classes = []error{apiclient.ErrNotSent, apiclient.ErrRateLimited, apiclient.ErrRejected,
	apiclient.ErrUnauthorized, apiclient.ErrAmbiguous}

// checkClass fails unless err matches want and no other outcome class.
func checkClass(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("err = %v; want %v", err, want)
	}
	for _, c := range classes {
		if c != want && errors.Is(err, c) {
			t.Errorf("err = %v matches %v as well as %v", err, c, want)
		}
	}
	noKey(t, "error", err.Error())
	noKey(t, "error %+v", fmt.Sprintf("%+v %#v", err, err))
}

func stamp(card string) apiclient.Action {
	return apiclient.Action{Card: card, Method: apiclient.AddStamp, Quantity: 1, Comment: "tillscan:till-1:1"}
}

// Each HTTP answer maps to one outcome class, and only not-applied answers
// are sent again.
func TestApply_StatusClasses(t *testing.T) {
	tests := []struct {
		status  int
		msg     string
		want    error
		wantReq int // requests the server sees with Tries = 3
	}{
		{400, "Irrelevant accrual type", apiclient.ErrRejected, 1},
		{404, "Card not found", apiclient.ErrRejected, 1},
		{409, "visit has already been registered", apiclient.ErrRejected, 1},
		{422, "Not enough points", apiclient.ErrRejected, 1},
		{401, "Unauthorized", apiclient.ErrUnauthorized, 1},
		{403, "Forbidden", apiclient.ErrUnauthorized, 1},
		{429, "Too Many Requests", apiclient.ErrRateLimited, 3},
		{500, "Internal Server Error", apiclient.ErrAmbiguous, 1},
		{502, "", apiclient.ErrAmbiguous, 1},
		{503, "", apiclient.ErrAmbiguous, 1},
		{504, "", apiclient.ErrAmbiguous, 1},
		{408, "", apiclient.ErrAmbiguous, 1},
		{405, "Method Not Allowed", apiclient.ErrRejected, 1},
		{303, "", apiclient.ErrAmbiguous, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				if tt.status == 303 {
					w.Header().Set("Location", "/elsewhere")
				}
				apiError(w, tt.status, tt.msg)
			})
			c, logs := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.Tries = 3 })
			card, err := c.Apply(t.Context(), stamp("544256-439-856"))
			if card != nil {
				t.Errorf("card = %+v; want nil on error", card)
			}
			checkClass(t, err, tt.want)
			se, ok := errors.AsType[*apiclient.StatusError](err)
			if !ok {
				t.Fatalf("err = %v; want a *StatusError", err)
			}
			if se.Status != tt.status || se.Message != tt.msg || se.Op != "add-stamp 544256-439-856" {
				t.Errorf("StatusError = %+v; want status %d, message %q", se, tt.status, tt.msg)
			}
			if got := len(f.requests()); got != tt.wantReq {
				t.Errorf("server got %d requests; want %d", got, tt.wantReq)
			}
			noKey(t, "log", logs.String())
		})
	}
}

// A 429 is retried after the pause and the call then succeeds.
func TestApply_429ThenApplied(t *testing.T) {
	var n atomic.Int32
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			apiError(w, 429, "Too Many Requests") // no Retry-After: jittered backoff (ms here)
			return
		}
		envelope(w, 200, sampleCard, nil)
	})
	c, _ := newClient(t, f.base(), nil)
	card, err := c.Apply(t.Context(), stamp("544256-439-856"))
	if err != nil || card == nil || card.ID != "544256-439-856" {
		t.Fatalf("Apply() = %+v, %v; want the card", card, err)
	}
	if got := len(f.requests()); got != 3 {
		t.Errorf("server got %d requests; want 3", got)
	}
}

// Retry-After is read in both forms and reported, capped, on the error; an
// over-cap value ends the call at once (the caller's queue waits).
func TestApply_RetryAfter(t *testing.T) {
	serverNow := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, retryAfter string
		cap              time.Duration
		want             time.Duration
		wantReq          int
	}{
		{"delta seconds", "3", 0, 3 * time.Second, 1},
		{"HTTP-date against Date", serverNow.Add(42 * time.Second).Format(http.TimeFormat), 0, 42 * time.Second, 1},
		{"over the cap", "7200", 0, 60 * time.Second, 1},
		{"custom cap", "7200", 90 * time.Second, 90 * time.Second, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Date", serverNow.Format(http.TimeFormat)) // far from the local clock on purpose
				w.Header().Set("Retry-After", tt.retryAfter)
				apiError(w, 429, "Too Many Requests")
			})
			// Tries = 1 so the test does not wait out the pause; the over-cap
			// cases must stop after one request even with more tries.
			tries := 1
			if tt.want >= time.Minute {
				tries = 4
			}
			c, _ := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.Tries = tries; cfg.RetryAfterCap = tt.cap })
			before := time.Now()
			_, err := c.Apply(t.Context(), stamp("544256-439-856"))
			checkClass(t, err, apiclient.ErrRateLimited)
			se, _ := errors.AsType[*apiclient.StatusError](err)
			if se == nil || se.RetryAfter != tt.want {
				t.Errorf("StatusError = %+v; want RetryAfter %v", se, tt.want)
			}
			if got := len(f.requests()); got != tt.wantReq {
				t.Errorf("server got %d requests; want %d", got, tt.wantReq)
			}
			// The whole client is paused, not just this call.
			if until := c.Status().PausedUntil; until.Before(before.Add(tt.want)) {
				t.Errorf("PausedUntil = %v; want >= %v", until, before.Add(tt.want))
			}
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			if _, err := c.GetCard(ctx, "544256-439-856"); !errors.Is(err, apiclient.ErrNotSent) {
				t.Errorf("GetCard() during the pause = %v; want ErrNotSent (ctx ends before the pause)", err)
			}
			if got := len(f.requests()); got != tt.wantReq {
				t.Errorf("server got %d requests after the paused call; want %d", got, tt.wantReq)
			}
		})
	}
}

// 401 stops all sending until SetAPIKey; SetAPIKey ends the stop even with
// the same key (the vendor may have re-enabled it: a reload says "try
// again"), and a server still refusing it stops sending again after one
// request.
func TestUnauthorized_StopsUntilKeySet(t *testing.T) {
	const otherKey = "tk-new-1234"
	var revoked atomic.Bool // the server refuses testKey while set
	revoked.Store(true)
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		if key := r.Header.Get("X-Api-Key"); key != otherKey && (key != testKey || revoked.Load()) {
			apiError(w, 401, "Invalid API key "+key) // a server echoing the key
			return
		}
		envelope(w, 200, sampleCard, nil)
	})
	c, logs := newClient(t, f.base(), nil)
	ctx := t.Context()
	before := time.Now()
	_, err := c.Apply(ctx, stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrUnauthorized)
	st := c.Status()
	if !errors.Is(st.Refused, apiclient.ErrUnauthorized) || st.RefusedSince.Before(before) {
		t.Errorf("Status() = %+v; want Refused matching ErrUnauthorized since the 401", st)
	}
	if !strings.Contains(st.Refused.Error(), "Invalid API key") {
		t.Errorf("Status().Refused = %q; want the API's reason", st.Refused)
	}
	for range 3 {
		_, err = c.GetCard(ctx, "544256-439-856")
		checkClass(t, err, apiclient.ErrUnauthorized)
	}
	wantRequests := func(n int, why string) {
		t.Helper()
		if got := len(f.requests()); got != n {
			t.Errorf("server got %d requests; want %d (%s)", got, n, why)
		}
	}
	wantRequests(1, "nothing sent after the 401")

	c.SetAPIKey(testKey) // the same key, still revoked: one request, then stopped again
	if st := c.Status(); st.Refused != nil {
		t.Errorf("Status().Refused after SetAPIKey = %v; want nil", st.Refused)
	}
	_, err = c.GetCard(ctx, "544256-439-856")
	checkClass(t, err, apiclient.ErrUnauthorized)
	_, err = c.GetCard(ctx, "544256-439-856")
	checkClass(t, err, apiclient.ErrUnauthorized)
	wantRequests(2, "one request after SetAPIKey with the refused key, then stopped again")

	revoked.Store(false) // the vendor re-enabled the key; the operator reloads
	c.SetAPIKey(testKey)
	if _, err := c.Apply(ctx, stamp("544256-439-856")); err != nil {
		t.Fatalf("Apply() after SetAPIKey with the re-enabled key = %v; want nil", err)
	}
	if st := c.Status(); st.Refused != nil || !st.RefusedSince.IsZero() {
		t.Errorf("Status() = %+v; want neither Refused nor RefusedSince", st)
	}
	wantRequests(3, "the re-enabled key sends")
	if !strings.Contains(logs.String(), "sending resumed") {
		t.Errorf("log does not say sending resumed: %s", logs)
	}

	revoked.Store(true)
	_, err = c.Apply(ctx, stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrUnauthorized)
	c.SetAPIKey(otherKey)
	if _, err := c.Apply(ctx, stamp("544256-439-856")); err != nil {
		t.Fatalf("Apply() after SetAPIKey with another key = %v; want nil", err)
	}
	reqs := f.requests()
	if len(reqs) != 5 || reqs[4].Key != otherKey {
		t.Errorf("got %d requests; want 5, the last with the new key", len(reqs))
	}
	noKey(t, "log", logs.String())
	if strings.Contains(logs.String(), otherKey) {
		t.Errorf("log contains the new key: %s", logs)
	}
}

// An empty or malformed key fails fast as unauthorised, without sending.
func TestUnusableKey(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { envelope(w, 200, sampleCard, nil) })
	for _, key := range []string{"", testKey + "\n", " " + testKey, "tk-\x00-" + testKey, "tk-clé-" + testKey,
		testKey + strings.Repeat("k", apiclient.MaxKeyLen)} {
		c, logs := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.APIKey = key })
		_, err := c.GetCard(t.Context(), "544256-439-856")
		checkClass(t, err, apiclient.ErrUnauthorized)
		// The client applies CheckKey's rule and says why.
		if want := apiclient.CheckKey(key); want == nil || !strings.Contains(c.Status().Refused.Error(), want.Error()) {
			t.Errorf("key %q: Status().Refused = %v; want CheckKey's reason %v", key, c.Status().Refused, want)
		}
		noKey(t, "log", logs.String())
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("server got %d requests; want 0", n)
	}
}

// Connection refused: the request was never written; retried, then ErrNotSent.
func TestApply_ConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, logs := newClient(t, "http://"+addr+"/api/v2", func(cfg *apiclient.Config) { cfg.Tries = 3 })
	_, err = c.Apply(t.Context(), stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrNotSent)
	if !strings.Contains(logs.String(), `"try":2`) {
		t.Errorf("log shows no second try: %s", logs)
	}
	noKey(t, "log", logs.String())
}

// The context ends before a token is free: not sent, nothing written.
func TestApply_ContextEndsInLimiter(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { envelope(w, 200, sampleCard, nil) })
	c, _ := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.RateLimit = 0.01 }) // one token per 100s
	if _, err := c.GetCard(t.Context(), "544256-439-856"); err != nil {
		t.Fatalf("first GetCard() = %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second) // the next token is ~100s away
	defer cancel()
	_, err := c.Apply(ctx, stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrNotSent)
	cctx, ccancel := context.WithCancel(t.Context())
	ccancel()
	_, err = c.Apply(cctx, stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrNotSent)
	if n := len(f.requests()); n != 1 {
		t.Errorf("server got %d requests; want 1", n)
	}
}

// hijackAfterRead reads the whole request, then drops the connection without
// answering: the request was written, so the outcome is unknown. With reset,
// the close sends a TCP RST instead of a FIN.
func hijackAfterRead(reset bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			envelope(w, 200, sampleCard, nil) // warms a keep-alive connection
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			panic(err)
		}
		if tc, ok := conn.(*net.TCPConn); ok && reset {
			tc.SetLinger(0)
		}
		conn.Close()
	}
}

// A POST that was written and then lost is ErrAmbiguous and is sent exactly
// once — also on a reused keep-alive connection, where net/http re-sends
// only requests it never wrote.
func TestApply_DroppedAfterWrite(t *testing.T) {
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprintf("reset=%v", reset), func(t *testing.T) {
			f := newFake(t, hijackAfterRead(reset))
			c, _ := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.Tries = 4 })
			if _, err := c.GetCard(t.Context(), "544256-439-856"); err != nil {
				t.Fatalf("GetCard() = %v", err)
			}
			_, err := c.Apply(t.Context(), stamp("544256-439-856"))
			checkClass(t, err, apiclient.ErrAmbiguous)
			posts := 0
			for _, r := range f.requests() {
				if r.Method == http.MethodPost {
					posts++
				}
			}
			if posts != 1 {
				t.Errorf("server got %d POSTs; want exactly 1", posts)
			}
		})
	}
}

// No answer within the timeout after the request was written: ambiguous.
func TestApply_Timeout(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // answers only when the client gives up
	})
	c, _ := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.Timeout = 50 * time.Millisecond })
	_, err := c.Apply(t.Context(), stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrAmbiguous)
	if n := len(f.requests()); n != 1 {
		t.Errorf("server got %d requests; want 1", n)
	}
}

// 2xx answers that cannot be read: the action was applied, so the error is
// ErrBadResponse and also ErrAmbiguous (never one that invites a re-send).
func TestApply_BadSuccessBody(t *testing.T) {
	tests := []struct {
		name    string
		respond http.HandlerFunc
	}{
		{"malformed JSON", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			fmt.Fprint(w, `{"data": {"id": "544256-`)
		}},
		{"HTML", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			fmt.Fprint(w, `<html>OK</html>`)
		}},
		{"no data", func(w http.ResponseWriter, r *http.Request) { envelope(w, 200, nil, nil) }},
		{"wrong data type", func(w http.ResponseWriter, r *http.Request) { envelope(w, 200, []int{1}, nil) }},
		{"unknown card type", func(w http.ResponseWriter, r *http.Request) {
			envelope(w, 200, map[string]any{"id": "544256-439-856", "type": "hologram"}, nil)
		}},
		{"50 MB body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			fmt.Fprint(w, `{"data": {"id": "`)
			chunk := []byte(strings.Repeat("x", 64<<10))
			for range 50 << 20 / len(chunk) {
				if _, err := w.Write(chunk); err != nil {
					return // the client stopped reading
				}
			}
		}},
		{"body slower than the timeout", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(200)
			fmt.Fprint(w, `{"data": `)
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, tt.respond)
			c, _ := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.Timeout = 2 * time.Second })
			if tt.name == "body slower than the timeout" {
				c, _ = newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.Timeout = 100 * time.Millisecond })
			}
			card, err := c.Apply(t.Context(), stamp("544256-439-856"))
			if card != nil {
				t.Errorf("card = %+v; want nil", card)
			}
			checkClass(t, err, apiclient.ErrAmbiguous)
			if !errors.Is(err, apiclient.ErrBadResponse) {
				t.Errorf("err = %v; want ErrBadResponse too", err)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("server got %d requests; want 1", n)
			}
		})
	}
}

// A 200 whose envelope code names a failure is not taken as applied.
func TestApply_FailureInside200(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		fmt.Fprint(w, `{"code": 400, "message": "Irrelevant accrual type"}`)
	})
	c, _ := newClient(t, f.base(), nil)
	_, err := c.Apply(t.Context(), stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrRejected)
	if se, _ := errors.AsType[*apiclient.StatusError](err); se == nil || se.Message != "Irrelevant accrual type" {
		t.Errorf("err = %v; want the API's message", err)
	}
}

// A 429 code inside a 200 is not taken as "not applied".
func TestApply_429Inside200(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		fmt.Fprint(w, `{"code": 429, "message": "slow down"}`)
	})
	c, _ := newClient(t, f.base(), nil)
	_, err := c.Apply(t.Context(), stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrAmbiguous)
	if n := len(f.requests()); n != 1 {
		t.Errorf("server got %d requests; want 1", n)
	}
}

// A huge or non-JSON error body is cut short and classified by status.
func TestApply_HugeErrorBody(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(502)
		chunk := []byte(strings.Repeat("<p>bad gateway</p>", 4096))
		for range 1000 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	c, _ := newClient(t, f.base(), nil)
	_, err := c.Apply(t.Context(), stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrAmbiguous)
	if len(err.Error()) > 500 {
		t.Errorf("error is %d bytes long; want a short one", len(err.Error()))
	}
}

// A redirect is never followed: the key must not travel to another host and
// a POST must not turn into a GET.
func TestApply_RedirectNotFollowed(t *testing.T) {
	other := newFake(t, func(w http.ResponseWriter, r *http.Request) { envelope(w, 200, sampleCard, nil) })
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/api/v2/cards/544256-439-856", http.StatusTemporaryRedirect)
	})
	c, _ := newClient(t, f.base(), nil)
	_, err := c.Apply(t.Context(), stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrAmbiguous)
	if n := len(other.requests()); n != 0 {
		t.Errorf("redirect target got %d requests; want 0", n)
	}
}

// 503 with Retry-After pauses the client, and stays ambiguous.
func TestApply_503RetryAfterPauses(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		apiError(w, 503, "maintenance")
	})
	c, _ := newClient(t, f.base(), nil)
	before := time.Now()
	_, err := c.Apply(t.Context(), stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrAmbiguous)
	if until := c.Status().PausedUntil; until.Before(before.Add(30 * time.Second)) {
		t.Errorf("PausedUntil = %v; want >= %v", until, before.Add(30*time.Second))
	}
}

// An empty 2xx is fine where no data is needed, and unreadable where a card
// is expected.
func TestEmptySuccess(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	c, _ := newClient(t, f.base(), nil)
	if err := c.DeleteCard(t.Context(), "544256-439-856"); err != nil {
		t.Errorf("DeleteCard() with 204 = %v; want nil", err)
	}
	_, err := c.Apply(t.Context(), stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrAmbiguous)
	if !errors.Is(err, apiclient.ErrBadResponse) {
		t.Errorf("Apply() with 204 = %v; want ErrBadResponse", err)
	}
}

// Sequential requests reuse one keep-alive connection.
func TestKeepAlive(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) { envelope(w, 200, sampleCard, nil) })
	c, _ := newClient(t, f.base(), nil)
	for range 5 {
		if _, err := c.Apply(t.Context(), stamp("544256-439-856")); err != nil {
			t.Fatalf("Apply() = %v", err)
		}
	}
	conns := map[string]bool{}
	for _, r := range f.requests() {
		conns[r.Remote] = true
	}
	if len(conns) != 1 {
		t.Errorf("5 requests used %d connections; want 1", len(conns))
	}
}

// A caller whose deadline ends inside a 429 pause gets the 429, at once.
func TestApply_DeadlineInsidePause(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		apiError(w, 429, "Too Many Requests")
	})
	c, _ := newClient(t, f.base(), func(cfg *apiclient.Config) { cfg.Tries = 3 })
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := c.Apply(ctx, stamp("544256-439-856"))
	checkClass(t, err, apiclient.ErrRateLimited)
	if ctx.Err() != nil {
		t.Errorf("Apply() returned only when ctx ended; want at once")
	}
	if n := len(f.requests()); n != 1 {
		t.Errorf("server got %d requests; want 1", n)
	}
}
