package apiclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"
)

// Config configures a Client. Zero fields mean the documented default.
//
// Printing a Config (any fmt verb, JSON) shows "[redacted]" for the key.
type Config struct {
	BaseURL   string  // required, e.g. "https://api.highlightcards.co.uk/api/v2"
	APIKey    string  // required; sent as x-api-key, never logged or printed
	RateLimit float64 // requests per second for this key, every request counted; 0 means 10
	// Headroom is the fraction of RateLimit left unused; 0 means 0.03, a
	// negative value means none. The server counts requests as they
	// arrive: sent exactly 1/RateLimit apart, jitter still lands an 11th
	// request inside some 1-second window now and then (measured against
	// the sandbox: 18 429s in 200 requests at exactly 10/s; see
	// docs/api.md, "Rate limit"). 3 % paces starts 3 ms more than the
	// limit's interval apart; counted from when each request was written,
	// none follows the last by less than the interval and 1.5 % (see
	// window): through nginx at burst 0, 4 429s in 8008 requests of four
	// 2000-scan drains at 0 to 1 s answer time, where 4 % held a drain at
	// 94 %.
	Headroom float64
	// Burst is the limiter's burst; 0 means 1. Whatever the burst, no
	// more than ⌈RateLimit⌉ requests start within one second and 1.5 %
	// (the Headroom, if less; see window).
	Burst   int
	Timeout time.Duration // per attempt: connecting, sending and reading the whole answer; 0 means 10s
	// HTTPClient is used if set (tests pass a loopback client); its
	// transport must not retry POSTs. The Client uses a copy of it that
	// never follows redirects (net/http would carry x-api-key to the new
	// host). nil means a Transport of its own (see newTransport).
	HTTPClient *http.Client `json:"-"`

	// Tries is how many times one call is sent when the answer proves it
	// was not applied (not sent, or 429); 0 means 4. Everything else is
	// sent once.
	Tries int
	// BackoffBase and BackoffCap shape the wait before re-sending a request
	// that was not sent, and the pause after a 429 without Retry-After:
	// full jitter, uniform in [0, min(BackoffCap, BackoffBase·2ⁿ)).
	// 0 means 500ms and 30s.
	BackoffBase time.Duration
	BackoffCap  time.Duration
	// RetryAfterCap bounds how long a 429's Retry-After pauses the client;
	// 0 means 60s. A longer Retry-After pauses for the cap and ends the
	// call with ErrRateLimited, so the caller's durable queue waits instead
	// of a goroutine.
	RetryAfterCap time.Duration
	// MaxBodyBytes bounds the answer body read into memory; 0 means 1 MiB.
	MaxBodyBytes int64
	// Adaptive lets the send rate follow the server, for several tills
	// sharing one key: a 429 cuts the rate to 90 % of what was being sent
	// (a first 429 straight to the till's estimated share of the key; one
	// fewer than 10 answers after the last cut, to a till sending the part
	// x ≤ 45 % of the ceiling, keeps 1 − 5x² of the rate, at least 40 %),
	// and it grows back by 0.01 requests/s each second (less for a till
	// whose share is under 45 % of the key), never below
	// 0.5/s nor above RateLimit less Headroom. The pause after a 429 is a
	// random part of one interval (added to Retry-After, if sent, so that
	// tills refused together do not resume together) until 3 come in a
	// row; a new Client keeps the window its previous process left (see
	// Handover), and adds a random part of an interval to each of its
	// first 20 starts that waited half an interval or more for the
	// limiter. false (the default) keeps the fixed rate. See adaptive.go.
	Adaptive bool
	// Shared, if set, paces every request start across all the tills that
	// use the key (see SharedLimiter; apiclient/redislimit keeps the
	// schedule in Redis). The Client's own limiter stays the ceiling, and
	// the fallback while Shared cannot answer, then adaptive as if
	// Adaptive were set. With Shared, RateLimit is the whole key's limit.
	Shared SharedLimiter `json:"-"`
	// Handover is what the Client of this till's previous process left
	// (see Client.Handover, SaveHandover and TakeHandover): when its last
	// requests were written. The server counts a key's requests across a
	// restart, so an adaptive or shared Client sends into none of that
	// window. nil means unknown (the previous process crashed, or this is
	// the first): it assumes the whole last window was used and waits
	// about a second before its first request.
	Handover *Handover `json:"-"`
	// Observer, if set, is told about every limiter wait and request, for
	// metrics.
	Observer Observer `json:"-"`
}

// Defaults of the zero Config fields.
const (
	DefaultRateLimit     = 10
	DefaultBurst         = 1
	DefaultHeadroom      = 0.03
	DefaultTimeout       = 10 * time.Second
	DefaultTries         = 4
	DefaultBackoffBase   = 500 * time.Millisecond
	DefaultBackoffCap    = 30 * time.Second
	DefaultRetryAfterCap = 60 * time.Second
	DefaultMaxBodyBytes  = 1 << 20
)

const redacted = "[redacted]"

// redactedConfig has Config's fields but none of its methods, so printing it
// does not recurse into Config.Format.
type redactedConfig Config

func (c Config) redact() redactedConfig {
	r := redactedConfig(c)
	if r.APIKey != "" {
		r.APIKey = redacted
	}
	return r
}

// Format prints the Config with the API key replaced by "[redacted]", for
// every verb (%v, %+v, %#v, %s, %q…).
func (c Config) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, fmt.FormatString(f, verb), c.redact())
}

// String is the Config with the API key redacted.
func (c Config) String() string { return fmt.Sprintf("%+v", c.redact()) }

// GoString is the Config with the API key redacted.
func (c Config) GoString() string { return fmt.Sprintf("%#v", c.redact()) }

// MarshalJSON encodes the Config with the API key redacted, so a logger's
// Interface field cannot leak it.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain redactedConfig // drops MarshalJSON: no recursion
	return json.Marshal(plain(c.redact()))
}

// Client talks to the Highlight Cards API. It is safe for concurrent use and
// should be shared: one Client, one rate limiter per API key. The zero value
// is not usable; create one with New.
type Client struct {
	base          string  // BaseURL without a trailing slash
	rateLimit     float64 // as configured; lim runs a little below it
	hc            *http.Client
	lim           *rate.Limiter
	log           zerolog.Logger
	timeout       time.Duration
	tries         int
	backoffBase   time.Duration
	backoffCap    time.Duration
	retryAfterCap time.Duration
	maxBody       int64
	obs           Observer // nil: none

	mu          sync.Mutex     // guards the fields below
	key         string         // never printed: Client has its own Format
	gen         uint64         // bumped by every SetAPIKey: answers to older requests cannot refuse the key
	refused     error          // non-nil: the current key is refused (401/403) or unusable; fail fast
	refusedAt   time.Time      // when refused was set
	pausedUntil time.Time      // no request starts before this (429, 503 with Retry-After)
	pausedBy    int            // the HTTP status that set pausedUntil
	streak      int            // 429s in a row, for the backoff when Retry-After is absent
	starts      *window        // recent request starts (see wait)
	adapt       *aimd          // the adaptive rate; nil unless Config.Adaptive
	cutSeq      uint64         // the last start seq before the adaptive rate's last cut
	paced       float64        // the configured pace: RateLimit less the headroom (see paceLocked)
	spread      float64        // this interval's length over the paced one (see spreadLocked)
	jitter      func() float64 // uniform in [0, 1): the pause after a 429 (see rateLimited)
	// turn is held by the one goroutine inside wait, the only one that
	// holds a token: it keeps the token through a 429's pause. Goroutines
	// queued on the limiter each held one, gave it up inside a pause and
	// queued again, each costing one interval (TestWait_PausesDoNotBurnTurns).
	turn chan struct{}

	shared        SharedLimiter // nil: none
	keyID         string        // the key's name for shared: a hash (see keyID)
	sharedState   SharedState
	sharedErr     error     // why the shared limiter was last unreachable
	sharedRetryAt time.Time // the shared limiter is not asked before this after a failure
}

// New returns a Client. log is used as is; pass zerolog.Nop() for silence.
// It fails if BaseURL is not an absolute http(s) URL or a number is negative.
// An empty or malformed APIKey is not an error here (a daemon may start
// before its key is configured): every call then fails with ErrUnauthorized
// until SetAPIKey gives a usable key.
func New(cfg Config, log zerolog.Logger) (*Client, error) {
	base, err := parseBase(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.RateLimit < 0 || cfg.Burst < 0 || cfg.Timeout < 0 || cfg.Tries < 0 ||
		cfg.BackoffBase < 0 || cfg.BackoffCap < 0 || cfg.RetryAfterCap < 0 || cfg.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("apiclient: config: negative value in %v", cfg)
	}
	if !finite(cfg.RateLimit) || !finite(cfg.Headroom) || cfg.Headroom >= 1 {
		return nil, fmt.Errorf("apiclient: config: RateLimit %v and Headroom %v must be finite numbers, Headroom below 1",
			cfg.RateLimit, cfg.Headroom)
	}
	c := &Client{
		base:          base,
		log:           log,
		timeout:       orDefault(cfg.Timeout, DefaultTimeout),
		tries:         orDefault(cfg.Tries, DefaultTries),
		backoffBase:   orDefault(cfg.BackoffBase, DefaultBackoffBase),
		backoffCap:    orDefault(cfg.BackoffCap, DefaultBackoffCap),
		retryAfterCap: orDefault(cfg.RetryAfterCap, DefaultRetryAfterCap),
		maxBody:       orDefault(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		obs:           cfg.Observer,
	}
	headroom := max(orDefault(cfg.Headroom, DefaultHeadroom), 0)
	c.rateLimit = orDefault(cfg.RateLimit, DefaultRateLimit)
	paced := c.rateLimit * (1 - headroom)
	c.lim = rate.NewLimiter(rate.Limit(paced), orDefault(cfg.Burst, DefaultBurst))
	c.starts = newWindow(c.rateLimit, paced)
	if c.lim.Burst() == 1 {
		c.starts.gap = c.starts.interval()
	}
	c.paced, c.spread = paced, 1
	c.jitter = rand.Float64
	c.turn = make(chan struct{}, 1)
	if cfg.Shared != nil {
		c.shared, c.sharedState = cfg.Shared, SharedOK
	}
	if cfg.Adaptive || cfg.Shared != nil {
		c.adapt = newAIMD(paced)
		if cfg.Handover != nil {
			c.starts.handOver(time.Now(), *cfg.Handover)
		} else {
			c.starts.fill(time.Now())
		}
	}
	if cfg.HTTPClient != nil {
		hc := *cfg.HTTPClient // a copy: the caller's client keeps its own redirect policy
		c.hc = &hc
	} else {
		c.hc = &http.Client{Transport: newTransport()}
	}
	// Never follow a redirect: net/http strips Authorization on a cross-host
	// redirect but not x-api-key, and turns a redirected POST into a GET.
	// A 3xx answer is classified like any other status (see classify).
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.setKeyLocked(cfg.APIKey, time.Now())
	return c, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func orDefault[T int | int64 | float64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func parseBase(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "", errors.New("apiclient: config: BaseURL is empty (want e.g. https://api.highlightcards.co.uk/api/v2)")
	case err != nil:
		return "", fmt.Errorf("apiclient: config: BaseURL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return "", fmt.Errorf("apiclient: config: BaseURL %q is not an absolute http(s) URL", u.Redacted())
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		// userinfo would be printed in every net/http error.
		return "", fmt.Errorf("apiclient: config: BaseURL %q must not carry credentials, a query or a fragment", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Format prints the Client without its key, for every verb.
func (c *Client) Format(f fmt.State, verb rune) {
	if c == nil {
		fmt.Fprint(f, "apiclient.Client(nil)")
		return
	}
	c.mu.Lock()
	pace := c.paceLocked()
	c.mu.Unlock()
	fmt.Fprintf(f, "apiclient.Client{BaseURL: %q, APIKey: %s, RateLimit: %v, Paced: %.3g/s, Burst: %d}",
		c.base, redacted, c.rateLimit, pace, c.lim.Burst())
}

// String describes the Client without its key.
func (c *Client) String() string { return fmt.Sprintf("%v", c) }

// GoString describes the Client without its key.
func (c *Client) GoString() string { return fmt.Sprintf("%v", c) }
