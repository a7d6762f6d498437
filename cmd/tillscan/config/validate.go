package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/tillscan/tillscan/apiclient"
)

var (
	tillIDRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$`)
	terminators = []string{"", "cr", "lf", "crlf", "any", "tab", "none"}
	layouts     = []string{"us", "uk", "de", "fr"}
	mechanics   = []string{"stamps", "visits", "spend", "points"}
)

// Validate checks the whole config and reports every problem it finds, one
// per line, each naming the key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if !tillIDRE.MatchString(c.TillID) {
		bad("till_id", "%q must be 1-32 letters, digits, '.', '_' or '-' (it is written into every action's comment to recognise this till's operations)", c.TillID)
	}
	if u, err := url.Parse(c.API.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		bad("api.base_url", "%q is not an http(s) URL", c.API.BaseURL)
	}
	if c.API.RateLimit < 0 || c.API.RateLimit > 10 {
		bad("api.rate_limit", "%v must be between 0 and 10 requests/second (the API allows 10 per key; tills sharing a key split it)", c.API.RateLimit)
	}
	if c.API.Timeout < 0 {
		bad("api.timeout", "must be positive")
	}
	if c.CardPattern != "" {
		if _, err := regexp.Compile(c.CardPattern); err != nil {
			bad("card_pattern", "%v", err)
		}
	}
	if c.Status.Listen != "off" {
		host, _, err := net.SplitHostPort(c.Status.Listen)
		if err != nil {
			bad("status.listen", "%q: %v (want host:port, e.g. 127.0.0.1:8765, or \"off\")", c.Status.Listen, err)
		} else if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			bad("status.listen", "%q is not a loopback address: the status API can change the queue and must stay on this machine", c.Status.Listen)
		}
	}
	names := map[string]bool{}
	for i, s := range c.Scanners {
		key := fmt.Sprintf("scanners[%d]", i)
		if names[s.Name] {
			bad(key+".name", "%q is used twice", s.Name)
		}
		names[s.Name] = true
		switch s.Type {
		case "serial":
			if s.Path == "" {
				bad(key+".path", "a serial scanner needs a port path, e.g. /dev/serial/by-id/usb-…-if00 (see `tillscan devices`)")
			}
			if s.Baud <= 0 {
				bad(key+".baud", "must be positive")
			}
			if !slices.Contains([]string{"", "none", "odd", "even", "mark", "space"}, s.Parity) {
				bad(key+".parity", "%q: want none, odd, even, mark or space", s.Parity)
			}
			if !slices.Contains([]string{"", "1", "2"}, s.StopBits) {
				bad(key+".stop_bits", "%q: want 1 or 2 (Linux cannot set 1.5)", s.StopBits)
			}
			if s.DataBits != 0 && (s.DataBits < 5 || s.DataBits > 8) {
				bad(key+".data_bits", "%d: want 5 to 8", s.DataBits)
			}
		case "hid":
			if s.VID == 0 || s.PID == 0 {
				bad(key, "a hid scanner needs vid and pid, e.g. vid: 0x0c2e, pid: 0x0b61 (see `tillscan devices`)")
			}
			if !slices.Contains(layouts, s.Layout) {
				bad(key+".layout", "%q: want one of %s", s.Layout, strings.Join(layouts, ", "))
			}
			if !slices.Contains([]string{"", "keyboard", "pos", "auto"}, s.HIDMode) {
				bad(key+".hid_mode", "%q: want keyboard, pos or auto", s.HIDMode)
			}
		case "stdin":
		default:
			bad(key+".type", "%q: want serial, hid or stdin", s.Type)
		}
		if !slices.Contains(terminators, s.Terminator) {
			bad(key+".terminator", "%q: want one of cr, lf, crlf, any, tab, none", s.Terminator)
		}
		if s.Terminator == "none" && s.IdleTimeout <= 0 {
			bad(key+".idle_timeout", "terminator none needs an idle_timeout (e.g. 50ms) to know where a scan ends")
		}
		if s.PassLayout != "" && !slices.Contains(layouts, s.PassLayout) {
			bad(key+".pass_layout", "%q: want one of %s", s.PassLayout, strings.Join(layouts, ", "))
		}
	}
	validRules := func(key string, rules map[string]Rule) {
		for name, r := range rules {
			t, err := apiclient.ParseCardType(name)
			if err != nil {
				bad(key+"."+name, "unknown card type: want stamp, cashback, multipass, coupon, discount, gift, membership or reward")
				continue
			}
			checkRule(bad, key+"."+name, r, &t)
		}
	}
	validRules("rules", c.Rules)
	validTemplates := func(key string, ts map[int]TemplateRule) {
		for id, tr := range ts {
			k := fmt.Sprintf("%s.%d", key, id)
			if id <= 0 {
				bad(k, "template ids are positive numbers (see GET /templates)")
			}
			if tr.Mechanics != "" && !slices.Contains(mechanics, tr.Mechanics) {
				bad(k+".mechanics", "%q: want stamps, visits, spend or points", tr.Mechanics)
			}
			if tr.Action != "" {
				checkRule(bad, k, tr.Rule, nil)
			}
		}
	}
	validTemplates("templates", c.Templates)
	barcodes := map[string]string{}
	for name, m := range c.Modes {
		key := "modes." + name
		if name == "" || name == "default" {
			bad(key, "mode names must be non-empty and not \"default\"")
		}
		if m.Barcode == "" {
			bad(key+".barcode", "a mode needs the command barcode text that selects it")
		} else if other, dup := barcodes[m.Barcode]; dup {
			bad(key+".barcode", "%q also selects mode %q", m.Barcode, other)
		}
		barcodes[m.Barcode] = name
		validRules(key+".rules", m.Rules)
		validTemplates(key+".templates", m.Templates)
	}
	if !slices.Contains([]string{"", "park", "drop"}, c.Worker.OnRejected) {
		bad("worker.on_rejected", "%q: want park or drop", c.Worker.OnRejected)
	}
	if c.Worker.Looks < 0 || c.Worker.Settle < 0 || c.Worker.RetryBase < 0 || c.Worker.RetryCap < 0 {
		bad("worker", "durations and counts must not be negative")
	}
	return errors.Join(errs...)
}

func checkRule(bad func(key, format string, args ...any), key string, r Rule, t *apiclient.CardType) {
	m, err := apiclient.ParseMethod(r.Action)
	if err != nil {
		bad(key+".action", "%v", err)
		return
	}
	if t != nil && !m.AppliesTo(*t) {
		bad(key+".action", "%s does not apply to %s cards", m, t)
	}
	if r.QuantityFrom != "" && r.QuantityFrom != "purchase_sum" {
		bad(key+".quantity_from", "%q: the only source is purchase_sum", r.QuantityFrom)
	}
	if r.Quantity < 0 || math.IsNaN(r.Quantity) {
		bad(key+".quantity", "must be positive")
	}
	if m.IntegerQuantity() && r.Quantity != math.Trunc(r.Quantity) {
		bad(key+".quantity", "%s takes a whole number, not %v", m, r.Quantity)
	}
	if r.RewardTier != 0 && m != apiclient.ReceiveReward {
		bad(key+".reward_tier", "only receive-reward takes a reward tier")
	}
}
