package pos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/queue"
)

// The worker's unit tests run the real queue (a bbolt file), the real API
// client and the sandbox; only the wire is replaced, by inProcess, so that
// they also run in synctest bubbles (which may not use the network).

// inProcess is an http.RoundTripper that serves each request with the
// sandbox's handler in process. It behaves like net/http's transport where
// the client looks: a request counts as written once handed over
// (httptrace's WroteRequest), and one whose context ends before the answer
// fails. While down, every request fails before it is written, like a dead
// network.
type inProcess struct {
	h    http.Handler
	down atomic.Bool

	mu    sync.Mutex
	log   []string            // "METHOD /path?query" of every request, sent or not
	hook  func(*http.Request) // if set, runs before each request is served (an operator acting meanwhile)
	calls chan string         // if set, gets every log line
}

func (t *inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	line := r.Method + " " + strings.TrimPrefix(r.URL.Path, "/api/v2")
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	t.mu.Lock()
	t.log = append(t.log, line)
	hook, calls := t.hook, t.calls
	t.mu.Unlock()
	if calls != nil {
		calls <- line
	}
	if t.down.Load() {
		if hook != nil {
			hook(r)
		}
		return nil, errors.New("dial tcp 127.0.0.1:443: connect: connection refused")
	}
	// Written first, then served: the hook's time is the server's, as a
	// real request's answer time comes after its write.
	if tr := httptrace.ContextClientTrace(r.Context()); tr != nil && tr.WroteRequest != nil {
		tr.WroteRequest(httptrace.WroteRequestInfo{})
	}
	if hook != nil {
		hook(r)
	}
	rec := httptest.NewRecorder()
	if dropped := serve(t.h, rec, r); dropped {
		return nil, errors.New("read tcp: connection reset by peer") // the server hung up without an answer
	}
	if err := r.Context().Err(); err != nil {
		return nil, err // the answer came too late: cut off, as a real transport would
	}
	return rec.Result(), nil
}

// serve runs h; dropped reports that h hung up (panicked with
// http.ErrAbortHandler, as net/http's server lets a handler do).
func serve(h http.Handler, w http.ResponseWriter, r *http.Request) (dropped bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			dropped = true
		}
	}()
	h.ServeHTTP(w, r)
	return false
}

// all returns every request so far.
func (t *inProcess) all() []string { return t.requests("") }

// requests returns the requests whose log line starts with prefix.
func (t *inProcess) requests(prefix string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for _, l := range t.log {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// actions returns the card actions requested, e.g. "add-stamp".
func (t *inProcess) actions() []string {
	var out []string
	for _, l := range t.requests("POST /cards/") {
		out = append(out, l[strings.LastIndex(l, "/")+1:])
	}
	return out
}

// recQueue is the real bbolt queue, recording each verb the worker uses
// (only those that succeed), so a test reads the worker's decisions in
// order. The state machine and per-card order are the queue's own.
type recQueue struct {
	*queue.Queue
	mu    sync.Mutex
	verbs []string
}

func openRecQueue(tb testing.TB) *recQueue {
	tb.Helper()
	q, err := queue.Open(filepath.Join(tb.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		tb.Fatalf("queue.Open: %v", err)
	}
	tb.Cleanup(func() { q.Close() })
	return &recQueue{Queue: q}
}

func (q *recQueue) record(err error, verb string) error {
	if err == nil {
		q.mu.Lock()
		q.verbs = append(q.verbs, verb)
		q.mu.Unlock()
	}
	return err
}

func (q *recQueue) log() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.verbs)
}

func (q *recQueue) forget() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.verbs = nil
}

func (q *recQueue) Sending(id, action string, now time.Time) error {
	return q.record(q.Queue.Sending(id, action, now), "sending "+action)
}

func (q *recQueue) Done(id string, a queue.Attempt, result string) error {
	return q.record(q.Queue.Done(id, a, result), "done "+result)
}

func (q *recQueue) Retry(id string, a queue.Attempt, next time.Time) error {
	return q.record(q.Queue.Retry(id, a, next), "retry "+a.Outcome)
}

func (q *recQueue) Ambiguous(id string, a queue.Attempt, recheck time.Time, misses int) error {
	return q.record(q.Queue.Ambiguous(id, a, recheck, misses), fmt.Sprintf("ambiguous %s misses=%d", a.Outcome, misses))
}

func (q *recQueue) Dead(id string, a queue.Attempt, reason string) error {
	return q.record(q.Queue.Dead(id, a, reason), "dead "+reason)
}

func (q *recQueue) Refuse(id string, a queue.Attempt, reason string) error {
	return q.record(q.Queue.Refuse(id, a, reason), "refused "+reason)
}

// The demo cards the tests use.
const (
	stampCard   = sandbox.DemoStampCard       // stamps, at 7/10
	visitsCard  = sandbox.DemoStampVisitsCard // a stamp card on visits mechanics (template 2), 1 visit a day
	spendCard   = sandbox.DemoRewardSpendCard // a reward card on spend mechanics
	cashCard    = sandbox.DemoCashbackCard    // needs a purchase sum
	pointsCard  = sandbox.DemoRewardPointsCard
	unknownCard = "544256-439-999" // not in the sandbox
)

// jobSpec is a job a test starts with, named for the test ("J1"); the
// queue gives it its real id.
type jobSpec struct {
	name, card string
	sum        *float64
	mode       string
	ambiguous  bool          // sent a minute before now, outcome unknown, due now
	misses     int           // of an ambiguous job
	due        time.Duration // > 0: tried once (not sent) and due this much later
}

func pendingJob(name, card string) jobSpec { return jobSpec{name: name, card: card} }

// ambiguousJob is a job whose send may have been applied.
func ambiguousJob(name string, misses int) jobSpec {
	return jobSpec{name: name, card: stampCard, ambiguous: true, misses: misses}
}

type workerRig struct {
	w      *Worker
	q      *recQueue
	sb     *sandbox.API
	net    *inProcess
	client *apiclient.Client
	feed   *Feed
	now    time.Time
	ids    map[string]string // jobSpec name → job id
}

type rigOpts struct {
	cfg   WorkerConfig
	rules func() Rules
	clock func() time.Time                  // nil: the rig's now (t0, moved by the test); time.Now in a synctest bubble
	api   func(c *apiclient.Client) Loyalty // wraps the client the worker gets; nil: the client itself
}

func newRig(t *testing.T, o rigOpts, jobs ...jobSpec) *workerRig {
	t.Helper()
	r := &workerRig{q: openRecQueue(t), feed: NewFeed(100), now: t0, ids: map[string]string{}}
	clock := o.clock
	if clock == nil {
		clock = func() time.Time { return r.now }
	}
	var err error
	if r.sb, err = sandbox.New(sandbox.Options{RateLimit: -1, Now: clock}); err != nil {
		t.Fatal(err)
	}
	r.net = &inProcess{h: r.sb}
	log := zerolog.New(zerolog.NewTestWriter(t))
	r.client, err = apiclient.New(apiclient.Config{BaseURL: "https://sandbox.invalid/api/v2", APIKey: sandbox.DemoAPIKey,
		HTTPClient: &http.Client{Transport: r.net}, RateLimit: 1000, Tries: 1, Timeout: 200 * time.Millisecond}, log)
	if err != nil {
		t.Fatal(err)
	}
	var api Loyalty = r.client
	if o.api != nil {
		api = o.api(r.client)
	}
	cache, err := NewCache(nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.TillID == "" {
		o.cfg.TillID = "till-1"
	}
	r.w = NewWorker(o.cfg, r.q, api, cache, o.rules, r.feed, log)
	r.w.now = clock
	r.now = clock()
	for _, j := range jobs {
		r.add(t, j)
	}
	r.q.forget() // the verbs of the set-up are not the worker's
	return r
}

// add saves job in the queue, due at the worker's now, in its starting state.
func (r *workerRig) add(t testing.TB, j jobSpec) string {
	t.Helper()
	now := r.w.now()
	at := now
	if j.ambiguous {
		at = now.Add(-time.Minute)
	}
	job, err := r.q.Enqueue(queue.Scan{Card: j.card, TillID: "till-1", Scanner: "front", Raw: j.card, ScannedAt: at,
		PurchaseSum: j.sum, Mode: j.mode}, at)
	if err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if j.ambiguous || j.due > 0 {
		if err := r.q.Queue.Sending(job.ID, "add-stamp 1", at); err != nil {
			t.Fatal(err)
		}
	}
	switch {
	case j.ambiguous:
		err = r.q.Queue.Ambiguous(job.ID, queue.Attempt{At: at, Kind: "send", Outcome: "ambiguous"}, now, j.misses)
	case j.due > 0:
		err = r.q.Queue.Retry(job.ID, queue.Attempt{At: at, Kind: "send", Outcome: "not_sent"}, now.Add(j.due))
	}
	if err != nil {
		t.Fatal(err)
	}
	r.ids[j.name] = job.ID
	return job.ID
}

// know puts card in the card cache, as a scan of it earlier would have, so
// that a send costs the action alone.
func (r *workerRig) know(t testing.TB, card string, typ apiclient.CardType, template int) {
	t.Helper()
	if err := r.w.cache.Put(card, CardInfo{Type: typ, TemplateID: template}); err != nil {
		t.Fatal(err)
	}
}

// apply applies an action directly, as another till would, with comment.
func (r *workerRig) apply(t testing.TB, card string, m apiclient.Method, comment string) {
	t.Helper()
	a := apiclient.Action{Card: card, Method: m, Quantity: 1, Comment: comment}
	if m.Field() == "" {
		a.Quantity = 0
	}
	if _, err := r.client.Apply(context.Background(), a); err != nil {
		t.Fatalf("Apply(%s %s): %v", m, card, err)
	}
}

// get returns the job the test calls name.
func (r *workerRig) get(t testing.TB, name string) queue.Job {
	t.Helper()
	j, err := r.q.Get(r.ids[name])
	if err != nil {
		t.Fatalf("Get(%s): %v", name, err)
	}
	return j
}

// marker is the marker of the job the test calls name.
func (r *workerRig) marker(name string) string { return Marker("till-1", r.ids[name]) }

// step runs one worker step on the job Next hands out.
func (r *workerRig) step(t *testing.T) {
	t.Helper()
	job, err := r.q.Next(r.now)
	if err != nil {
		t.Fatalf("Next() = %v", err)
	}
	if err := r.w.process(t.Context(), job); err != nil {
		t.Fatalf("process(%s) = %v", job.ID, err)
	}
}

// stepJ1 runs one step on the job called J1 and checks the queue verbs
// the worker used (joined by |), J1's state after it and the one event it
// published.
func (r *workerRig) stepJ1(t *testing.T, verbs string, state queue.State, event EventKind) {
	t.Helper()
	r.step(t)
	if got := strings.Join(r.q.log(), "|"); got != verbs {
		t.Errorf("queue verbs = %q, want %q", got, verbs)
	}
	if j := r.get(t, "J1"); j.State != state {
		t.Errorf("job state = %s, want %s", j.State, state)
	}
	if k := r.kinds(); len(k) != 1 || k[0] != event {
		t.Errorf("events = %v, want [%s]", k, event)
	}
}

func (r *workerRig) kinds() []EventKind {
	var out []EventKind
	for _, e := range r.feed.Recent() {
		out = append(out, e.Kind)
	}
	return out
}

// markers counts the sandbox's operations that carry the marker of name.
func (r *workerRig) markers(name string) int {
	n := 0
	for _, op := range r.sb.Operations() {
		if op.Comment != nil {
			n += CountMarker(*op.Comment, r.marker(name))
		}
	}
	return n
}
