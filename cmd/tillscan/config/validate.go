package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/redislimit"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/scanner/hid"
)

// The accepted range of api.rate_limit, in requests per second. The API
// allows 10 per key; below the floor a backlog would take hours to drain,
// which is a typo, not a plan.
const (
	MinRateLimit = 0.1
	MaxRateLimit = 10
)

// FieldError is a problem with one setting: its key, and its line in the
// file when known.
type FieldError struct {
	Key  string // e.g. scanners[0].terminator
	Line int    // 0 if unknown
	Err  error
}

func (e *FieldError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %v", e.Line, e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Key, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// Validate checks the whole config and reports every problem it finds, one
// per line, each naming the key. The rules belong to the packages that use
// the values (pos, scanner, scanner/hid, apiclient): Validate asks their
// parsers and constructors, so check-config and run agree.
func (c *Config) Validate() error {
	var errs []error
	for _, p := range c.problems() {
		errs = append(errs, p)
	}
	return errors.Join(errs...)
}

// Warnings returns what is allowed but probably wrong, each naming its
// key: check-config prints them and run logs them.
func (c *Config) Warnings() []string {
	var w []string
	if u, err := url.Parse(c.API.BaseURL); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		w = append(w, fmt.Sprintf("api.base_url %q is plain http: the API key travels in clear; use https", c.API.BaseURL))
	}
	if c.CardPattern != "" {
		if re, err := regexp.Compile(c.CardPattern); err == nil {
			switch {
			case re.MatchString("") || re.MatchString("x"):
				w = append(w, fmt.Sprintf("card_pattern %q matches almost any text (it matches %q): every scan would be taken for a card", c.CardPattern, map[bool]string{true: "", false: "x"}[re.MatchString("")]))
			case re.NumSubexp() > 0 && re.SubexpIndex("card") < 0:
				w = append(w, fmt.Sprintf("card_pattern %q has groups but none named card: the whole match is taken as the card number; name the number's group (?P<card>…)", c.CardPattern))
			}
		}
	}
	if c.Worker.OnRejected == "drop" {
		w = append(w, "worker.on_rejected: drop is what always happens now (a refused scan never holds its card's later scans): remove the setting")
	}
	return w
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

// problems returns every problem, keys in file order where it matters.
func (c *Config) problems() []*FieldError {
	var errs []*FieldError
	bad := func(key string, err error) { errs = append(errs, &FieldError{Key: key, Err: err}) }
	badf := func(key, format string, args ...any) { bad(key, fmt.Errorf(format, args...)) }

	if err := pos.ValidTillID(c.TillID); err != nil {
		bad("till_id", fmt.Errorf("%w (it is written into every action's comment to recognise this till's operations)", err))
	}
	if err := checkBaseURL(c.API.BaseURL); err != nil {
		bad("api.base_url", err)
	}
	if r := c.API.RateLimit; math.IsNaN(r) || r < MinRateLimit || r > MaxRateLimit {
		badf("api.rate_limit", "%v: want %v to %v requests per second (the API allows 10 per key; tills sharing a key split it)", r, MinRateLimit, MaxRateLimit)
	}
	if c.API.Timeout < 0 {
		badf("api.timeout", "must be positive, like 10s")
	}
	if s := c.API.SharedLimiter; s != "" {
		if l, err := redislimit.New(s, DefaultRateLimit); err != nil {
			badf("api.shared_limiter", "%q: %v", s, err)
		} else {
			l.Close()
		}
	}
	if _, err := pos.NewExtractor(c.CardPattern); err != nil {
		bad("card_pattern", err)
	}
	if c.Status.Listen != "off" {
		host, _, err := net.SplitHostPort(c.Status.Listen)
		if err != nil {
			badf("status.listen", "%q: %v (want host:port, e.g. 127.0.0.1:8765, or \"off\")", c.Status.Listen, err)
		} else if !isLoopback(host) {
			badf("status.listen", "%q is not a loopback address: the status API takes scans and must stay on this machine", c.Status.Listen)
		}
	}
	names := map[string]bool{}
	for i, s := range c.Scanners {
		key := fmt.Sprintf("scanners[%d]", i)
		if names[s.Name] {
			badf(key+".name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
		s.check(func(sub string, err error) { bad(key+sub, err) })
		if s.PassLayout != "" {
			if _, err := hid.LayoutByName(s.PassLayout); err != nil {
				bad(key+".pass_layout", err)
			}
		}
	}
	c.ruleProblems(bad)
	c.Till.problems(bad)
	barcodes := map[string]string{}
	for name, m := range c.Modes {
		key := "modes." + name
		if name == "" || name == "default" {
			badf(key, "mode names must be non-empty and not \"default\"")
		}
		if m.Barcode == "" {
			badf(key+".barcode", "a mode needs the command barcode text that selects it")
		} else if other, dup := barcodes[m.Barcode]; dup {
			badf(key+".barcode", "%q also selects mode %q", m.Barcode, other)
		}
		barcodes[m.Barcode] = name
	}
	if c.Worker.OnRejected != "" && c.Worker.OnRejected != "park" && c.Worker.OnRejected != "drop" {
		badf("worker.on_rejected", "%q: want park (an operator looks at every refusal), or leave it out", c.Worker.OnRejected)
	}
	if c.Worker.Looks < 0 || c.Worker.Settle < 0 || c.Worker.RetryBase < 0 || c.Worker.RetryCap < 0 {
		badf("worker", "durations and counts must not be negative")
	}
	if c.Worker.InFlight < 0 || c.Worker.InFlight > pos.MaxInFlight {
		badf("worker.in_flight", "%d: want 1 to %d (leave it out for the default, %d)", c.Worker.InFlight, pos.MaxInFlight, pos.DefaultInFlight)
	}
	return errs
}

// checkBaseURL refuses what would leak the key or be sent somewhere else
// than meant: credentials, a query or a fragment in the URL.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %w", s, err)
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "":
		return fmt.Errorf("%q is not an http(s) URL, like %s", s, DefaultBaseURL)
	case u.User != nil:
		return fmt.Errorf("the URL holds a user name or password: the key goes in api.key_file, never in the URL")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return fmt.Errorf("%q has a query or fragment: give the API's base address only, like %s", s, DefaultBaseURL)
	}
	return nil
}

// ruleProblems checks rules, templates and modes' rules through pos: each
// rule is converted as the daemon does and validated by pos.Rules.
func (c *Config) ruleProblems(bad func(key string, err error)) {
	typeRules := func(key string, rules map[string]Rule) {
		for name, r := range rules {
			t, err := apiclient.ParseCardType(name)
			if err != nil {
				bad(key+"."+name, err)
				continue
			}
			pr, err := r.PosRule()
			if err == nil {
				err = pos.Rules{ByType: map[apiclient.CardType]pos.Rule{t: pr}}.Validate()
			}
			if err != nil {
				bad(key+"."+name, err)
			}
		}
	}
	templates := func(key string, ts map[int]TemplateRule) {
		for id, tr := range ts {
			k := fmt.Sprintf("%s.%d", key, id)
			if id <= 0 {
				bad(k, errors.New("template ids are positive numbers (see GET /templates)"))
			}
			if tr.Mechanics != "" {
				if _, err := pos.ParseMechanics(tr.Mechanics); err != nil {
					bad(k+".mechanics", err)
				}
			}
			if tr.Action == "" {
				continue
			}
			pr, err := tr.Rule.PosRule()
			if err == nil {
				err = pos.Rules{ByTemplate: map[int]pos.Rule{id: pr}}.Validate()
			}
			if err != nil {
				bad(k, err)
			}
		}
	}
	typeRules("rules", c.Rules)
	templates("templates", c.Templates)
	for name, m := range c.Modes {
		typeRules("modes."+name+".rules", m.Rules)
		templates("modes."+name+".templates", m.Templates)
	}
}

// PosRule converts a configured rule to the rule pos applies: quantity
// 1 when none is given, the quantity from the purchase sum on request.
func (r Rule) PosRule() (pos.Rule, error) {
	m, err := apiclient.ParseMethod(r.Action)
	if err != nil {
		return pos.Rule{}, err
	}
	if r.QuantityFrom != "" && r.QuantityFrom != "purchase_sum" {
		return pos.Rule{}, fmt.Errorf("quantity_from %q: the only source is purchase_sum", r.QuantityFrom)
	}
	q := r.Quantity
	if q == 0 {
		q = 1
	}
	return pos.Rule{Method: m, Quantity: q, QuantityFromPurchase: r.QuantityFrom == "purchase_sum", RewardTier: r.RewardTier}, nil
}
