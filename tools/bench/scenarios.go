package main

// The scenarios of issue 11's targets, each measured through nginx's
// limit_req (the independent limiter) in front of the sandbox, whose own
// limiter is off and whose latency fault sets the API's answer time.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/pos"
)

// limit is the key's rate limit the nginx zone enforces, requests/s.
const limit = 10

// rig is what every scenario shares: the binary and a scratch directory.
type rig struct {
	bin string
	dir string
	n   int // scenarios run so far, for unique directories
}

func (r *rig) scratch(name string) string {
	r.n++
	return filepath.Join(r.dir, fmt.Sprintf("%02d-%s", r.n, name))
}

// stampCards is a seed of n stamp cards (prefix tells fleets apart) and
// their numbers.
func stampCards(prefix, n int) (*sandbox.Seed, []string) {
	s := &sandbox.Seed{Templates: []sandbox.Template{{ID: 1, CompanyID: 1, Name: "Coffee", Type: 0, StampsPerReward: 1_000_000}}}
	var ids []string
	for i := range n {
		id := fmt.Sprintf("7%02d%03d-%03d-%03d", prefix, i/1_000_000, (i/1000)%1000, i%1000)
		s.Cards = append(s.Cards, sandbox.Card{ID: id, TemplateID: 1, CompanyID: 1, Type: "stamp"})
		ids = append(ids, id)
	}
	return s, ids
}

// api is the sandbox (own limiter off, latency as asked) behind nginx.
type api struct {
	sb  *sandbox.Server
	lim *limiter
}

func startAPI(dir string, seed *sandbox.Seed, latency time.Duration, tills, burst int) (*api, error) {
	sb, err := sandbox.NewServer(sandbox.Options{Seed: seed, RateLimit: -1})
	if err != nil {
		return nil, err
	}
	sb.API.SetFaults(sandbox.Faults{Latency: latency})
	lim, err := startLimiter(dir, tills, limit, burst, hostPort(sb.URL))
	if err != nil {
		sb.Close()
		return nil, err
	}
	return &api{sb: sb, lim: lim}, nil
}

// hostPort is the host:port of a URL the sandbox gave.
func hostPort(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}

func (a *api) close() { a.lim.stop(); a.sb.Close() }

func (a *api) url(i int) string { return a.lim.url(i, "/api/v2") }

// tally is what nginx answered in a time window, per till.
type tally struct {
	window   time.Duration
	accepted []int // answers other than 429, per till
	limited  []int // 429s, per till
}

func (a *api) tally(tills int, from, to time.Time) (tally, error) {
	ans, err := a.lim.answers()
	if err != nil {
		return tally{}, err
	}
	t := tally{window: to.Sub(from), accepted: make([]int, tills), limited: make([]int, tills)}
	for _, x := range ans {
		if x.at.Before(from.Truncate(time.Millisecond)) || x.at.After(to) {
			continue
		}
		if x.status == 429 {
			t.limited[x.till]++
		} else {
			t.accepted[x.till]++
		}
	}
	return t, nil
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// share is the accepted requests per second as a fraction of the limit.
func (t tally) share() float64 {
	return float64(sum(t.accepted)) / t.window.Seconds() / limit
}

// limitedShare is the 429s as a fraction of all requests.
func (t tally) limitedShare() float64 {
	all := sum(t.accepted) + sum(t.limited)
	if all == 0 {
		return 0
	}
	return float64(sum(t.limited)) / float64(all)
}

// worstFair is the lowest till's accepted rate as a fraction of its fair
// share (limit / tills).
func (t tally) worstFair() float64 {
	fair := t.window.Seconds() * limit / float64(len(t.accepted))
	worst := math.Inf(1)
	for _, a := range t.accepted {
		worst = min(worst, float64(a)/fair)
	}
	return worst
}

// fill queues n scans of cards (round robin) on t while the API is out of
// reach, and stops the daemon: its queue holds n more pending jobs.
func fill(ctx context.Context, t *till, cards []string, n int) error {
	down, err := unreachable()
	if err != nil {
		return err
	}
	if err := t.start(down, "worker: {retry_base: 100ms, retry_cap: 500ms}\n"); err != nil {
		return err
	}
	defer t.stop()
	base := t.count("saved")
	for i := 0; i < n; {
		// In bursts the scanner's line discipline and the till keep up
		// with; every scan is acknowledged before the next burst.
		k := min(50, n-i)
		for j := range k {
			if err := t.scan(cards[(i+j)%len(cards)]); err != nil {
				return err
			}
		}
		i += k
		if err := t.waitCount(ctx, "saved", base+i, time.Minute); err != nil {
			return err
		}
	}
	return nil
}

// warm scans every card once through the API, so the till knows them.
func warm(ctx context.Context, t *till, baseURL string, cards []string) error {
	if err := t.start(baseURL, ""); err != nil {
		return err
	}
	defer t.stop()
	base := t.count("applied")
	for _, c := range cards {
		if err := t.scan(c); err != nil {
			return err
		}
	}
	return t.waitCount(ctx, "applied", base+len(cards), time.Duration(len(cards))*5*time.Second+time.Minute)
}

// drainResult is one drain of a queued backlog by one till.
type drainResult struct {
	latency  time.Duration
	scans    int
	took     time.Duration
	tally    tally
	requests int // every request nginx answered during the drain
}

func (d drainResult) share() float64 { return float64(d.scans) / d.took.Seconds() / limit }

// drain measures how fast one till drains scans queued for cards it
// knows, through a strict (burst 0) limiter at the given answer time.
func (r *rig) drain(ctx context.Context, latency time.Duration, scans int) (drainResult, error) {
	dir := r.scratch(fmt.Sprintf("drain-%v", latency))
	seed, cards := stampCards(1, 20)
	a, err := startAPI(filepath.Join(dir, "nginx"), seed, latency, 1, 0)
	if err != nil {
		return drainResult{}, err
	}
	defer a.close()
	t, err := newTill(r.bin, filepath.Join(dir, "till"), "bench")
	if err != nil {
		return drainResult{}, err
	}
	defer t.close()
	if err := warm(ctx, t, a.url(0), cards); err != nil {
		return drainResult{}, err
	}
	if err := fill(ctx, t, cards, scans); err != nil {
		return drainResult{}, err
	}
	base := t.count("applied")
	if err := t.start(a.url(0), ""); err != nil {
		return drainResult{}, err
	}
	defer t.stop()
	began := time.Now()
	budget := time.Duration(scans)*(latency+300*time.Millisecond) + time.Minute
	if err := t.waitCount(ctx, "applied", base+scans, budget); err != nil {
		return drainResult{}, err
	}
	t.mu.Lock()
	end := t.last["applied"]
	t.mu.Unlock()
	tl, err := a.tally(1, began, end.Add(latency+50*time.Millisecond))
	if err != nil {
		return drainResult{}, err
	}
	return drainResult{latency: latency, scans: scans, took: end.Sub(began), tally: tl,
		requests: sum(tl.accepted) + sum(tl.limited)}, nil
}

// answerTimes is scan → applied on an idle till, for cards it knows and
// for new ones.
type answerTimes struct {
	latency    time.Duration
	known, new []time.Duration
}

// scanToApplied scans known and new cards one at a time on an idle till
// and times each from the scanner's line to the "applied" event.
func (r *rig) scanToApplied(ctx context.Context, latency time.Duration, samples int) (answerTimes, error) {
	dir := r.scratch(fmt.Sprintf("applied-%v", latency))
	seed, cards := stampCards(2, samples*2)
	known, fresh := cards[:samples], cards[samples:]
	a, err := startAPI(filepath.Join(dir, "nginx"), seed, latency, 1, 0)
	if err != nil {
		return answerTimes{}, err
	}
	defer a.close()
	t, err := newTill(r.bin, filepath.Join(dir, "till"), "bench")
	if err != nil {
		return answerTimes{}, err
	}
	defer t.close()
	if err := warm(ctx, t, a.url(0), known); err != nil {
		return answerTimes{}, err
	}
	if err := t.start(a.url(0), ""); err != nil {
		return answerTimes{}, err
	}
	defer t.stop()
	res := answerTimes{latency: latency}
	one := func(card string) (time.Duration, error) {
		// Idle: the limiter's last start is long past.
		time.Sleep(300 * time.Millisecond)
		n := t.count("applied")
		at := time.Now()
		if err := t.scan(card); err != nil {
			return 0, err
		}
		if err := t.waitCount(ctx, "applied", n+1, 30*time.Second+4*latency); err != nil {
			return 0, err
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		times := t.byCard[card]
		return times[len(times)-1].Sub(at), nil
	}
	for i := range samples {
		d, err := one(known[i])
		if err != nil {
			return res, err
		}
		res.known = append(res.known, d)
		if d, err = one(fresh[i]); err != nil {
			return res, err
		}
		res.new = append(res.new, d)
	}
	return res, nil
}

// savedSamples is how many scans each scan → "saved" run times. Its p99
// is the tenth-largest: with 200 scans it was the second-largest, and two
// runs of the same empty till differed by more than a millisecond.
const savedSamples = 1000

// savedResult is scan → "saved" with a large state behind the till.
type savedResult struct {
	cards, jobs int
	times       []time.Duration
	rssKiB      int64
}

// scanToSaved times scan → "saved" on a till whose card cache holds cards
// entries and whose queue holds jobs pending jobs (the API out of reach,
// so they stay pending).
func (r *rig) scanToSaved(ctx context.Context, cards, jobs, samples int) (savedResult, error) {
	dir := r.scratch(fmt.Sprintf("saved-%d-%d", cards, jobs))
	t, err := newTill(r.bin, filepath.Join(dir, "till"), "bench")
	if err != nil {
		return savedResult{}, err
	}
	defer t.close()
	_, ids := stampCards(4, max(cards, 1))
	if err := writeCache(filepath.Join(t.dir, "state", "cards.json"), ids[:cards]); err != nil {
		return savedResult{}, err
	}
	if err := fill(ctx, t, ids, jobs); err != nil {
		return savedResult{}, err
	}
	down, err := unreachable()
	if err != nil {
		return savedResult{}, err
	}
	if err := t.start(down, ""); err != nil {
		return savedResult{}, err
	}
	defer t.stop()
	res := savedResult{cards: cards, jobs: jobs}
	for i := range samples {
		time.Sleep(20 * time.Millisecond)
		n := t.count("saved")
		at := time.Now()
		if err := t.scan(ids[i%len(ids)]); err != nil {
			return res, err
		}
		if err := t.waitCount(ctx, "saved", n+1, 10*time.Second); err != nil {
			return res, err
		}
		t.mu.Lock()
		res.times = append(res.times, t.last["saved"].Sub(at))
		t.mu.Unlock()
	}
	res.rssKiB = procStatus(t.pid())["VmRSS"]
	return res, nil
}

// writeCache writes an old cards.json (version 1 JSON) holding the cards,
// which the daemon imports into its queue file at its first start
// (pos.ImportCacheFile, about 0.7 s for 50 000 cards) before it is ready.
// Filling the cache through the daemon would take one API look-up per card
// at 10/s.
func writeCache(path string, cards []string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	m := make(map[string]pos.CardInfo, len(cards))
	now := time.Now().UTC()
	for _, c := range cards {
		m[c] = pos.CardInfo{Type: apiclient.Stamp, TemplateID: 1, UpdatedAt: now}
	}
	b, err := json.Marshal(struct {
		Version   int                     `json:"version"`
		Cards     map[string]pos.CardInfo `json:"cards"`
		Mechanics map[string]string       `json:"mechanics"`
	}{1, m, map[string]string{}})
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

// percentile is the p-th percentile (0..100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}
