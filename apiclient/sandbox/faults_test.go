package sandbox_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// sleeps records the waits the API asks for instead of sleeping.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(_ context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return nil
}

func (s *sleeps) total() (time.Duration, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var t time.Duration
	for _, d := range s.d {
		t += d
	}
	return t, len(s.d)
}

func stamp(comment string) map[string]any { return map[string]any{"stamps": 1, "comment": comment} }

func TestFaults_FailNext(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	s.API.SetFaults(sandbox.Faults{RetryAfter: "1"})
	s.API.FailNext(503, 500, 429)
	tests := []struct {
		status  int
		bodyHas string
		header  string
		applied int
		limited int
	}{
		{503, "<h1>503 Service Unavailable</h1>", "", 0, 0},
		{500, `"code":500`, "", 0, 0},
		{429, `"code":429`, "1", 0, 1},
		{200, `"code":200`, "", 1, 1},
	}
	for i, tt := range tests {
		r := s.act(sandbox.DemoStampCard, "add-stamp", stamp("x"))
		if r.status != tt.status || !strings.Contains(string(r.body), tt.bodyHas) || r.header.Get("Retry-After") != tt.header {
			t.Errorf("request %d = %d %q (Retry-After %q), want %d containing %q (Retry-After %q)",
				i, r.status, r.body, r.header.Get("Retry-After"), tt.status, tt.bodyHas, tt.header)
		}
		st := s.API.Stats()
		if st.Applied[sandbox.DemoStampCard] != tt.applied || st.RateLimited != tt.limited {
			t.Errorf("after request %d: Stats = %+v, want %d applied, %d rate limited", i, st, tt.applied, tt.limited)
		}
	}
	s.API.FailNext(0)
	if _, err := s.try(sandbox.DemoAPIKey, "POST", "/cards/"+sandbox.DemoStampCard+"/add-stamp", stamp("x")); err == nil {
		t.Error("FailNext(0): answered, want a dropped connection")
	}
	if c, _ := s.API.Card(sandbox.DemoStampCard); c.Balance.CurrentNumberOfUses != 8 {
		t.Errorf("stamps = %v, want 8: failed requests must not apply", c.Balance.CurrentNumberOfUses)
	}
}

func TestFaults_ApplyThenFail(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	s.API.ApplyThenFail(http.StatusBadGateway, 0)

	// A rejected action does not consume the fault.
	s.act(sandbox.DemoStampCard, "add-visit", map[string]any{"visits": 1}).fail(t, 400, "Irrelevant accrual type")

	r := s.act(sandbox.DemoStampCard, "add-stamp", stamp("tillscan:t:1"))
	if r.status != http.StatusBadGateway {
		t.Fatalf("first action = %d %s, want 502", r.status, r.body)
	}
	if _, err := s.try(sandbox.DemoAPIKey, "POST", "/cards/"+sandbox.DemoStampCard+"/add-stamp", stamp("tillscan:t:2")); err == nil {
		t.Fatalf("second action answered, want a dropped connection")
	}
	s.act(sandbox.DemoStampCard, "add-stamp", stamp("tillscan:t:3")).ok(t, nil)

	var comments []string
	for _, op := range s.API.Operations() {
		comments = append(comments, *op.Comment)
	}
	if want := "tillscan:t:1 tillscan:t:2 tillscan:t:3"; strings.Join(comments, " ") != want {
		t.Errorf("operations log comments = %v, want %s: failed answers must still apply", comments, want)
	}
	if c, _ := s.API.Card(sandbox.DemoStampCard); c.Balance.CurrentNumberOfUses != 0 || c.Balance.NumberRewardsUnused != 1 {
		t.Errorf("balance = %+v, want 3 stamps applied (7+3 = a reward and 0 stamps)", c.Balance)
	}
}

func TestFaults_ApplyThenDropRate(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	var sl sleeps
	s.API.SetSleep(sl.sleep)
	// SlowBody too: the drop must reach the connection through the trickle writer.
	s.API.SetFaults(sandbox.Faults{ApplyThenDropRate: 1, SlowBody: time.Second})
	_, err := s.try(sandbox.DemoAPIKey, "POST", "/cards/"+sandbox.DemoStampCard+"/add-stamp", stamp("tillscan:till-1:77"))
	if err == nil || !(errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("POST = %v, want a broken connection (EOF or reset)", err)
	}
	ops := s.API.Operations()
	if len(ops) != 1 || ops[0].Comment == nil || *ops[0].Comment != "tillscan:till-1:77" {
		t.Fatalf("operations = %+v, want the dropped action logged with its comment", ops)
	}
	// GETs are not actions: they are answered normally.
	var c sandbox.Card
	s.req("GET", "/cards/"+sandbox.DemoStampCard, nil).ok(t, &c)
	if c.Balance.CurrentNumberOfUses != 8 {
		t.Errorf("stamps = %v, want 8", c.Balance.CurrentNumberOfUses)
	}
}

// TestFaults_ErrorRate checks that with a seeded source some requests fail
// with a 5xx and exactly the others apply.
func TestFaults_ErrorRate(t *testing.T) {
	s := newServer(t, sandbox.Options{RandSeed: 42})
	s.API.SetFaults(sandbox.Faults{ErrorRate: 0.5})
	ok, failed := 0, map[int]int{}
	for range 60 {
		r := s.act(sandbox.DemoGiftCard, "add-point", map[string]any{"points": 1})
		switch {
		case r.status == 200:
			ok++
		case r.status >= 500 && r.status <= 504:
			failed[r.status]++
		default:
			t.Fatalf("status %d (%s), want 200 or 500–504", r.status, r.body)
		}
	}
	if ok == 0 || len(failed) < 2 {
		t.Errorf("%d ok, failures %v: want both outcomes and several 5xx codes", ok, failed)
	}
	if got := s.API.Stats().Applied[sandbox.DemoGiftCard]; got != ok {
		t.Errorf("Applied = %d, want %d (only the 200s)", got, ok)
	}
	c, _ := s.API.Card(sandbox.DemoGiftCard)
	if c.Balance.BonusBalance != float64(50+ok) {
		t.Errorf("points = %v, want %d", c.Balance.BonusBalance, 50+ok)
	}
}

func TestFaults_LatencyAndSlowBody(t *testing.T) {
	tests := []struct {
		name   string
		faults sandbox.Faults
		total  time.Duration
		waits  int
	}{
		{"latency", sandbox.Faults{Latency: 250 * time.Millisecond}, 250 * time.Millisecond, 1},
		{"slow body", sandbox.Faults{SlowBody: 800 * time.Millisecond}, 800 * time.Millisecond, 8},
		{"both", sandbox.Faults{Latency: time.Second, SlowBody: 800 * time.Millisecond}, 1800 * time.Millisecond, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, sandbox.Options{})
			var sl sleeps
			s.API.SetSleep(sl.sleep)
			s.API.SetFaults(tt.faults)
			c := s.card(sandbox.DemoStampCard) // the body survives the trickle intact
			if c.ID != sandbox.DemoStampCard || c.Balance.CurrentNumberOfUses != 7 {
				t.Errorf("card = %s %+v, want the demo stamp card at 7", c.ID, c.Balance)
			}
			if total, n := sl.total(); total != tt.total || n != tt.waits {
				t.Errorf("waited %v in %d waits, want %v in %d", total, n, tt.total, tt.waits)
			}
		})
	}
}

// TestFaults_LatencyCancelled checks that a request whose wait is cut short
// is not applied and gets no answer.
func TestFaults_LatencyCancelled(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	s.API.SetSleep(func(context.Context, time.Duration) error { return context.Canceled })
	s.API.SetFaults(sandbox.Faults{Latency: time.Second})
	if _, err := s.try(sandbox.DemoAPIKey, "POST", "/cards/"+sandbox.DemoStampCard+"/add-stamp", stamp("x")); err == nil {
		t.Fatal("answered, want the connection dropped")
	}
	if n := len(s.API.Operations()); n != 0 {
		t.Errorf("%d operations, want 0", n)
	}
}

func TestServer_Outage(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	s.req("GET", "/cards/"+sandbox.DemoStampCard, nil).ok(t, nil) // leaves an idle keep-alive connection
	addr := strings.TrimSuffix(strings.TrimPrefix(s.URL, "http://"), "/api/v2")

	s.Outage(time.Hour)
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("dial during the outage succeeded, want refused")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial during the outage = %v, want connection refused", err)
	}
	if _, err := s.try(sandbox.DemoAPIKey, "GET", "/cards/"+sandbox.DemoStampCard, nil); err == nil {
		t.Fatal("request during the outage answered (over a kept-alive connection?), want an error")
	}
	if err := s.Restore(); err != nil {
		t.Fatalf("Restore() = %v", err)
	}
	s.req("GET", "/cards/"+sandbox.DemoStampCard, nil).ok(t, nil)
	if got := s.URL; !strings.Contains(got, addr) {
		t.Errorf("URL = %s, want the same address %s", got, addr)
	}

	// An outage that ends by itself.
	done := make(chan struct{})
	s.OnRelisten(func() { close(done) })
	s.Outage(time.Millisecond)
	<-done
	s.req("GET", "/cards/"+sandbox.DemoStampCard, nil).ok(t, nil)
}

// TestServer_CloseDuringOutage checks that Close ends an outage and returns.
func TestServer_CloseDuringOutage(t *testing.T) {
	s, err := sandbox.NewServer(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Outage(time.Hour)
	s.Close()
	s.Close()           // idempotent
	s.Outage(time.Hour) // after Close: nothing
	if err := s.Restore(); err != nil {
		t.Errorf("Restore after Close = %v, want nil", err)
	}
}

// TestNewServerAt checks the URL and the constructor's errors.
func TestNewServerAt(t *testing.T) {
	s, err := sandbox.NewServerAt("127.0.0.1:0", sandbox.Options{})
	if err != nil {
		t.Fatalf("NewServerAt = %v", err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || !strings.HasSuffix(s.URL, "/api/v2") {
		t.Errorf("URL = %s, want http://127.0.0.1:PORT/api/v2", s.URL)
	}
	if _, err := sandbox.NewServerAt("127.0.0.1:99999", sandbox.Options{}); err == nil {
		t.Error("NewServerAt(bad port) = nil error")
	}
	if _, err := sandbox.NewServer(sandbox.Options{APIKeys: []string{""}}); err == nil {
		t.Error("NewServer(empty key) = nil error")
	}
}

// A revoked key answers 401 and applies nothing until restored; other keys
// are not affected.
func TestFaults_RevokeKey(t *testing.T) {
	const other = "other-key"
	s := newServer(t, sandbox.Options{APIKeys: []string{sandbox.DemoAPIKey, other}})
	if s.API.RevokeKey("never-configured") {
		t.Error("RevokeKey(unknown key) = true, want false")
	}
	if s.API.RestoreKey(sandbox.DemoAPIKey) {
		t.Error("RestoreKey(a key not revoked) = true, want false")
	}
	if !s.API.RevokeKey(sandbox.DemoAPIKey) {
		t.Fatal("RevokeKey(demo key) = false, want true")
	}
	s.act(sandbox.DemoStampCard, "add-stamp", stamp("revoked")).fail(t, http.StatusUnauthorized, "Invalid API key")
	s.req("GET", "/cards/"+sandbox.DemoStampCard, nil).fail(t, http.StatusUnauthorized, "Invalid API key")
	s.reqKey(other, "GET", "/cards/"+sandbox.DemoStampCard, nil).ok(t, nil)
	if n := len(s.API.Operations()); n != 0 {
		t.Errorf("%d operations while revoked, want 0", n)
	}
	if !s.API.RestoreKey(sandbox.DemoAPIKey) {
		t.Fatal("RestoreKey(demo key) = false, want true")
	}
	s.act(sandbox.DemoStampCard, "add-stamp", stamp("restored")).ok(t, nil)
	if st := s.API.Stats(); st.Unauthorized != 2 || st.Applied[sandbox.DemoStampCard] != 1 {
		t.Errorf("Stats = %+v, want 2 unauthorised and 1 applied", st)
	}
}

// A 429 storm refuses every request with a valid key for its duration, on
// the API's clock, with or without Retry-After; unknown keys still get 401.
func TestFaults_RateLimitStorm(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter bool
		faults     string // Faults.RetryAfter
		want       []string
	}{
		{"seconds left", true, "", []string{"90", "31", "1"}},
		{"seconds left over Faults", true, "7", []string{"90", "31", "1"}},
		{"Faults.RetryAfter", false, "7", []string{"7", "7", "7"}},
		{"no header", false, "", []string{"", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, sandbox.Options{})
			s.API.SetFaults(sandbox.Faults{RetryAfter: tt.faults})
			s.API.RateLimitStorm(90*time.Second, tt.retryAfter)
			for i, step := range []time.Duration{0, 59*time.Second + 500*time.Millisecond, 30 * time.Second} {
				s.clk.Add(step)
				r := s.act(sandbox.DemoStampCard, "add-stamp", stamp("storm"))
				r.fail(t, http.StatusTooManyRequests, "Too many requests")
				if got := r.header.Get("Retry-After"); got != tt.want[i] {
					t.Errorf("429 #%d: Retry-After = %q, want %q", i+1, got, tt.want[i])
				}
			}
			s.reqKey("wrong", "GET", "/cards/"+sandbox.DemoStampCard, nil).fail(t, http.StatusUnauthorized, "Invalid API key")
			s.clk.Add(500 * time.Millisecond) // the storm's end
			s.act(sandbox.DemoStampCard, "add-stamp", stamp("after")).ok(t, nil)
			if st := s.API.Stats(); st.RateLimited != 3 || st.Applied[sandbox.DemoStampCard] != 1 {
				t.Errorf("Stats = %+v, want 3 rate limited and 1 applied", st)
			}
		})
	}

	s := newServer(t, sandbox.Options{})
	s.API.RateLimitStorm(time.Hour, true)
	s.API.RateLimitStorm(0, false) // ends it early
	s.act(sandbox.DemoStampCard, "add-stamp", stamp("ended")).ok(t, nil)
}

// Latency delays every answer, refusals included, as the network would.
func TestFaults_LatencyOnRefusals(t *testing.T) {
	s := newServer(t, sandbox.Options{RateLimit: 1})
	var sl sleeps
	s.API.SetSleep(sl.sleep)
	s.API.SetFaults(sandbox.Faults{Latency: time.Second})
	s.reqKey("wrong", "GET", "/cards/"+sandbox.DemoStampCard, nil).fail(t, http.StatusUnauthorized, "Invalid API key")
	s.req("GET", "/cards/"+sandbox.DemoStampCard, nil).ok(t, nil)
	s.req("GET", "/cards/"+sandbox.DemoStampCard, nil).fail(t, http.StatusTooManyRequests, "Too many")
	s.API.RateLimitStorm(time.Minute, true)
	s.req("GET", "/cards/"+sandbox.DemoStampCard, nil).fail(t, http.StatusTooManyRequests, "Too many")
	if total, n := sl.total(); total != 4*time.Second || n != 4 {
		t.Errorf("waited %v in %d waits, want 4s in 4 (401, 200, window 429, storm 429)", total, n)
	}
}

// A request stays Busy while it is handled, and the client leaving does
// not stop an action the server has received: it is applied after the
// latency all the same, as a real server finishes what it started. A
// till killed with requests in flight must find them by their markers.
func TestFaults_BusyAndAppliedAfterTheClientLeft(t *testing.T) {
	s := newServer(t, sandbox.Options{})
	release := make(chan struct{})
	s.API.SetSleep(func(context.Context, time.Duration) error { <-release; return nil })
	s.API.SetFaults(sandbox.Faults{Latency: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "POST", s.URL+"/cards/"+sandbox.DemoStampCard+"/add-stamp", strings.NewReader(`{"stamps": 1, "comment": "x"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-api-key", sandbox.DemoAPIKey)
	req.Header.Set("Content-Type", "application/json")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for s.API.Stats().Busy != 1 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("answered, want the client's own cancellation")
	}
	close(release)
	for s.API.Stats().Busy != 0 {
		time.Sleep(time.Millisecond)
	}
	if n := len(s.API.Operations()); n != 1 {
		t.Errorf("%d operations after the client left, want 1", n)
	}
}
