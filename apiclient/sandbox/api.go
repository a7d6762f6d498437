package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// DemoAPIKey is the key the demo data set and tests use when Options.APIKeys
// is empty.
const DemoAPIKey = "sandbox-key"

// maxBody bounds every request body; larger bodies answer 413.
const maxBody = 1 << 20

// Options configures an API. Zero fields mean the documented default.
type Options struct {
	APIKeys   []string         // accepted x-api-key values; empty means []string{DemoAPIKey}
	RateLimit float64          // requests/second enforced per key with 429; 0 means 10; <0 means unlimited
	Seed      *Seed            // nil means DemoSeed()
	Now       func() time.Time // nil means time.Now; drives timestamps, visit limits and the rate limit
	// RandSeed seeds the sandbox's one random source (fault draws and
	// generated ids, e.g. new card numbers). 0 means a fixed default, so
	// runs repeat.
	RandSeed uint64
}

// API is the fake Highlight Cards API v2: an http.Handler serving every path
// under /api/v2/. Create one with New. It is safe for concurrent use; all of
// its state sits behind one mutex, so requests are applied one at a time, in
// the order they take the lock.
type API struct {
	now   func() time.Time
	keys  map[string]bool
	mux   *http.ServeMux
	limit float64

	mu sync.Mutex // guards everything that follows
	// sleep waits d or until ctx is done (latency and slow-body faults);
	// tests replace it so that no test sleeps.
	sleep         func(ctx context.Context, d time.Duration) error
	rng           *rand.Rand
	windows       map[string]*window // per API key
	faults        Faults
	failNext      []int
	applyThenFail []int
	requests      int
	busy          int // requests being handled now
	rateLimited   int
	unauthorized  int
	revoked       map[string]bool // keys answered 401 until RestoreKey
	stormUntil    time.Time       // every authenticated request answers 429 before this
	// stormRetryAfter makes a storm's 429s carry the seconds left in it.
	stormRetryAfter bool
	applied         map[string]int
	templates       map[int]*Template
	customers       map[string]*Customer
	cards           map[string]*cardState
	ops             []opRecord
	nextOpID        int64
	pushes          []Push
	nextPushID      int
}

// New returns an API loaded with opts.Seed (the demo set if nil). It fails
// only if the seed is inconsistent.
func New(opts Options) (*API, error) {
	a := &API{
		now:        opts.Now,
		keys:       map[string]bool{},
		limit:      opts.RateLimit,
		sleep:      sleepCtx,
		windows:    map[string]*window{},
		revoked:    map[string]bool{},
		applied:    map[string]int{},
		nextOpID:   1000,
		nextPushID: 1,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.limit == 0 {
		a.limit = 10
	}
	keys := opts.APIKeys
	if len(keys) == 0 {
		keys = []string{DemoAPIKey}
	}
	for _, k := range keys {
		if k == "" {
			return nil, errors.New("sandbox: empty API key in Options.APIKeys")
		}
		a.keys[k] = true
	}
	rs := opts.RandSeed
	if rs == 0 {
		rs = 0x7115ca4
	}
	a.rng = rand.New(rand.NewPCG(rs, rs^0x9e3779b97f4a7c15))
	seed := opts.Seed
	if seed == nil {
		seed = DemoSeed()
	}
	if err := a.load(seed); err != nil {
		return nil, err
	}
	a.routes()
	return a, nil
}

func (a *API) routes() {
	m := http.NewServeMux()
	const p = "/api/v2"
	m.HandleFunc("GET "+p+"/cards", a.listCards)
	m.HandleFunc("POST "+p+"/cards", a.createCard)
	m.HandleFunc("GET "+p+"/cards/{id}", a.getCard)
	m.HandleFunc("PATCH "+p+"/cards/{id}", a.patchCard)
	m.HandleFunc("DELETE "+p+"/cards/{id}", a.deleteCard)
	m.HandleFunc("POST "+p+"/cards/{id}/{action}", a.cardAction)
	m.HandleFunc("GET "+p+"/customers", a.listCustomers)
	m.HandleFunc("POST "+p+"/customers", a.createCustomer)
	m.HandleFunc("GET "+p+"/customers/{id}", a.getCustomer)
	m.HandleFunc("PATCH "+p+"/customers/{id}", a.patchCustomer)
	m.HandleFunc("DELETE "+p+"/customers/{id}", a.deleteCustomer)
	m.HandleFunc("GET "+p+"/templates", a.listTemplates)
	m.HandleFunc("GET "+p+"/templates/{id}", a.getTemplate)
	m.HandleFunc("GET "+p+"/operations", a.listOperations)
	m.HandleFunc("GET "+p+"/pushes", a.listPushes)
	m.HandleFunc("POST "+p+"/pushes", a.createPush)
	m.HandleFunc("GET "+p+"/pushes/{id}", a.getPush)
	// Everything else, wrong methods included, is a JSON 404 (Symfony's
	// "No route found" wording; the real text is UNKNOWN).
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("No route found for \"%s %s\"", r.Method, r.URL.Path))
	})
	a.mux = m
}

// ServeHTTP checks the key and the rate limit, applies the request-level
// faults, then routes. Every request is counted in Stats.Requests.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	now := a.now() // under the lock, so the rate windows see times in order
	a.requests++
	a.busy++
	defer func() {
		a.mu.Lock()
		a.busy--
		a.mu.Unlock()
	}()
	f, sleep := a.faults, a.sleep
	fail := -1 // none; 0 drops the connection
	retryAfter := f.RetryAfter
	key := r.Header.Get("x-api-key")
	switch {
	case !a.keys[key] || a.revoked[key]:
		// Unauthenticated requests never touch a key's rate window.
		a.unauthorized++
		fail = http.StatusUnauthorized
	case now.Before(a.stormUntil):
		a.rateLimited++
		fail = http.StatusTooManyRequests
		if a.stormRetryAfter {
			retryAfter = strconv.FormatInt(int64(math.Ceil(a.stormUntil.Sub(now).Seconds())), 10)
		}
	case !a.windowLocked(key).allow(now):
		a.rateLimited++
		fail = http.StatusTooManyRequests
	case len(a.failNext) > 0:
		fail, a.failNext = a.failNext[0], a.failNext[1:]
		if fail == http.StatusTooManyRequests {
			a.rateLimited++
		}
	case f.ErrorRate > 0 && a.rng.Float64() < f.ErrorRate:
		fail = serverErrors[a.rng.IntN(len(serverErrors))]
	}
	a.mu.Unlock()

	if f.Latency > 0 && sleep(r.Context(), f.Latency) != nil {
		// The client gave up or the server is closing; nothing was
		// applied. Never let net/http turn this into an empty 200.
		drop(w)
		return
	}
	if f.SlowBody > 0 {
		w = &slowWriter{ResponseWriter: w, ctx: r.Context(), total: f.SlowBody, sleep: sleep}
	}
	switch fail {
	case -1:
		a.mux.ServeHTTP(w, r)
	case 0:
		drop(w)
	case http.StatusUnauthorized:
		writeError(w, http.StatusUnauthorized, "Invalid API key")
	case http.StatusTooManyRequests:
		tooMany(w, retryAfter)
	default:
		writeFault(w, fail)
	}
}

var serverErrors = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// tooMany answers 429, with retryAfter as the Retry-After header if set. The
// real API's Retry-After behaviour is UNKNOWN (docs/api.md, "Rate limit"),
// so none is sent unless Faults.RetryAfter or RateLimitStorm asks.
func tooMany(w http.ResponseWriter, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	writeError(w, http.StatusTooManyRequests, "Too many requests")
}

// reply writes a success envelope. meta is nil for single objects.
func (a *API) reply(w http.ResponseWriter, data any, meta *Meta) {
	a.mu.Lock()
	id := a.uuidLocked(a.now())
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, envelope{
		ResponseID: id,
		CreatedAt:  a.now().UTC().Format(phpTime),
		Code:       http.StatusOK,
		Data:       data,
		Meta:       meta,
	})
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Code: status, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only wire types are marshalled; this is a bug
		status, b = http.StatusInternalServerError, []byte(`{"code":500,"message":"sandbox: cannot encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b) // a write error means the client went away
}

// deleteByID serves a DELETE /…/{id}: it removes the entity id from m (a
// map of a's state, made once by New; a.mu guards its content) and answers
// {"id": id} as the API does, or 404 with notFound if there was none.
func deleteByID[V any](a *API, w http.ResponseWriter, r *http.Request, m map[string]V, notFound string) {
	id := r.PathValue("id")
	a.mu.Lock()
	_, ok := m[id]
	delete(m, id)
	a.mu.Unlock()
	a.replyFound(w, map[string]string{"id": id}, ok, notFound)
}

// replyFound answers data, or 404 with notFound when found is false: the
// API's answer for an id it does not know ("Card not found", …).
func (a *API) replyFound(w http.ResponseWriter, data any, found bool, notFound string) {
	if !found {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	a.reply(w, data, nil)
}

// writeFault answers an injected 5xx. 500 carries the API's JSON error body;
// 502–504 carry an HTML page as a load balancer in front of the API would,
// so clients must classify by status, not by body.
func writeFault(w http.ResponseWriter, status int) {
	if status == http.StatusInternalServerError || status < 500 {
		writeError(w, status, http.StatusText(status))
		return
	}
	b := fmt.Appendf(nil, "<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>\n",
		status, http.StatusText(status), status, http.StatusText(status))
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// sleepCtx waits d, or less if ctx is done first (then it returns ctx.Err()).
// apiclient has its own: the sandbox imports nothing of the client's.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// uuidLocked returns a UUIDv7-shaped id (time-ordered, like the API's ids)
// from the seeded source.
func (a *API) uuidLocked(now time.Time) string {
	ms := uint64(now.UnixMilli())
	r1, r2 := a.rng.Uint64(), a.rng.Uint64()
	return fmt.Sprintf("%08x-%04x-7%03x-%04x-%012x",
		ms>>16, ms&0xffff, r1&0xfff, 0x8000|(r1>>12)&0x3fff, r2&0xffffffffffff)
}

// Stats counts what the API has seen. It is a copy.
type Stats struct {
	Requests     int            // every request received, 401s and 429s included
	Busy         int            // requests received and not yet answered or dropped
	RateLimited  int            // 429 answers
	Unauthorized int            // 401 answers (unknown or revoked key)
	Applied      map[string]int // applied card actions per card number (one per operations-log entry)
}

// Stats returns a copy of the counters.
func (a *API) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := Stats{Requests: a.requests, Busy: a.busy, RateLimited: a.rateLimited, Unauthorized: a.unauthorized, Applied: make(map[string]int, len(a.applied))}
	for k, v := range a.applied {
		s.Applied[k] = v
	}
	return s
}
