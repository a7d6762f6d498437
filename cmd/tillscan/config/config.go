// Package config reads and validates tillscan's YAML configuration file.
// It owns the file format (keys, defaults, line:column errors) and the
// lookup of the API key, which never lives in the file itself. It does not
// build scanners, rules or clients: cmd/tillscan turns a valid Config into
// those.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"

	"github.com/tillscan/tillscan/configs/safeyaml"
)

// DefaultPath is where the packaged daemon looks for its config file.
const DefaultPath = "/etc/tillscan/tillscan.yaml"

// Defaults for zero fields.
const (
	DefaultBaseURL      = "https://api.highlightcards.co.uk/api/v2"
	DefaultStateDir     = "/var/lib/tillscan"
	DefaultStatusListen = "127.0.0.1:8765"
	DefaultDedupe       = 10 * time.Second
	DefaultRateLimit    = 10
	DefaultAdaptive     = true
	DefaultTimeout      = 10 * time.Second
)

// Config is the whole configuration file. Zero fields get the defaults
// listed in configs/tillscan.yaml.
type Config struct {
	TillID       string               `yaml:"till_id"`
	StateDir     string               `yaml:"state_dir"`
	Log          Log                  `yaml:"log"`
	API          API                  `yaml:"api"`
	Scanners     []Scanner            `yaml:"scanners"`
	CardPattern  string               `yaml:"card_pattern"`
	DedupeWindow time.Duration        `yaml:"dedupe_window"` // 0: 10s; negative: off
	Rules        map[string]Rule      `yaml:"rules"`         // card type name → default action
	Templates    map[int]TemplateRule `yaml:"templates"`     // template id → mechanics and/or action
	Modes        map[string]Mode      `yaml:"modes"`         // mode name → command barcode and rules
	Comment      string               `yaml:"comment"`       // text added after the marker in every action's comment
	Currency     string               `yaml:"currency"`      // prefix for money in messages, e.g. "£"
	Status       Status               `yaml:"status"`
	Queue        Queue                `yaml:"queue"`
	Worker       Worker               `yaml:"worker"`
	Till         Till                 `yaml:"till"` // caps, amounts, the shop's day: see till.go
}

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error; default info
	Format string `yaml:"format"` // console, json or journald; default: journald under systemd, console on a terminal, else json
}

// API configures the Highlight Cards client.
type API struct {
	BaseURL   string        `yaml:"base_url"`
	KeyFile   string        `yaml:"key_file"`
	RateLimit float64       `yaml:"rate_limit"` // requests/second for this till's share of the key
	Timeout   time.Duration `yaml:"timeout"`
	// Adaptive lets the till lower its rate on a 429 and probe back up,
	// for tills sharing a key (apiclient.Config.Adaptive); nil means
	// DefaultAdaptive.
	Adaptive *bool `yaml:"adaptive"`
	// SharedLimiter, "redis://HOST:PORT/DB", paces every request of every
	// till that names the same Redis at rate_limit together (then the
	// key's whole limit, not a share); "" means none.
	SharedLimiter string `yaml:"shared_limiter"`
}

// AdaptiveOn is api.adaptive with its default applied.
func (a API) AdaptiveOn() bool {
	if a.Adaptive == nil {
		return DefaultAdaptive
	}
	return *a.Adaptive
}

// Scanner is one configured scanner. Which fields apply depends on Type.
type Scanner struct {
	Name string `yaml:"name"`
	Type string `yaml:"type"` // serial, hid or stdin

	// serial
	Path     string `yaml:"path"`
	Baud     int    `yaml:"baud"`
	DataBits int    `yaml:"data_bits"`
	Parity   string `yaml:"parity"`
	StopBits string `yaml:"stop_bits"` // "1" or "2"

	// hid
	VID       HexID  `yaml:"vid"`
	PID       HexID  `yaml:"pid"`
	Serial    string `yaml:"serial"`
	Interface *int   `yaml:"interface"`
	USBPath   string `yaml:"usb_path"`
	Layout    string `yaml:"layout"`
	HIDMode   string `yaml:"hid_mode"` // keyboard, pos or auto

	// framing, all types
	Terminator  string        `yaml:"terminator"` // cr, lf, crlf, any, tab, none
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	Prefix      string        `yaml:"prefix"`
	Suffix      string        `yaml:"suffix"`

	Passthrough bool     `yaml:"passthrough"` // re-type non-card scans on a virtual keyboard
	PassLayout  string   `yaml:"pass_layout"` // the POS keyboard layout for pass-through; default: layout
	Feedback    Feedback `yaml:"feedback"`
}

// Feedback holds the bytes that make a scanner beep good or bad, written in
// YAML as hex strings ("1b 07") so control bytes survive editing.
type Feedback struct {
	Good HexBytes `yaml:"good"`
	Bad  HexBytes `yaml:"bad"`
}

// Rule is an action for a card type, template or mode.
type Rule struct {
	Action   string  `yaml:"action"`   // an API action, e.g. add-stamp
	Quantity float64 `yaml:"quantity"` // default 1 where the action takes a quantity
	// QuantityFrom "purchase_sum" takes the quantity from the purchase sum
	// entered before the scan (spend mechanics, cashback amounts).
	QuantityFrom string `yaml:"quantity_from"`
	RewardTier   int    `yaml:"reward_tier"` // receive-reward: tier id; 0 = best affordable
}

// TemplateRule overrides the card type's rule for one template, and says
// how its Stamp or Reward mechanics work (the API does not tell).
type TemplateRule struct {
	Mechanics string `yaml:"mechanics"` // stamps, visits, spend or points
	Rule      `yaml:",inline"`
}

// Mode is a cashier-selectable mode: scanning Barcode makes the next card
// scan use Rules (keyed by card type name) instead of the defaults.
type Mode struct {
	Barcode   string               `yaml:"barcode"`
	Rules     map[string]Rule      `yaml:"rules"`
	Templates map[int]TemplateRule `yaml:"templates"`
}

// Status configures the local status page and API.
type Status struct {
	Listen string `yaml:"listen"` // host:port; default 127.0.0.1:8765; "off" disables it
	// TokenFile holds the bearer token of the POS endpoints (POST
	// /api/v1/scans, /api/v1/next); without it they are off.
	TokenFile string `yaml:"token_file"`
	// Socket is the operator socket: `tillscan queue` and `tillscan
	// status` talk to the daemon there. Default: control.sock in state_dir
	// (the package sets /run/tillscan/control.sock); "off" disables it.
	Socket string `yaml:"socket"`
}

// Queue configures the durable queue.
type Queue struct {
	Retention time.Duration `yaml:"retention"` // how long applied jobs are kept; default 720h
}

// Worker tunes the sender.
type Worker struct {
	Settle    time.Duration `yaml:"settle"`     // wait before reading back an uncertain send; default 30s
	Looks     int           `yaml:"looks"`      // reads that must miss before re-sending; default 3
	RetryBase time.Duration `yaml:"retry_base"` // default 2s
	RetryCap  time.Duration `yaml:"retry_cap"`  // default 5m
	// InFlight is how many scans (of different cards) may be sent at once;
	// default pos.DefaultInFlight, enough to keep the key's 10 requests a
	// second when each answer takes a second. 1 sends one at a time.
	InFlight int `yaml:"in_flight"`
	// OnRejected "park" is an opt-in for shops that want an operator to
	// look at every refusal: a refused scan is parked as needing an
	// operator and holds its card's later scans until retried or dropped.
	// By default ("" or the old "drop") a refusal is final, the cashier is
	// told why, and it holds nothing.
	OnRejected string `yaml:"on_rejected"`
}

// Load reads, decodes and validates the file at path. Errors name the file
// and, for syntax and unknown keys, the line and column.
func Load(path string) (*Config, error) {
	// Checked before opening: opening a FIFO blocks until a writer comes.
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("config: %s is not a regular file (%s)", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, safeyaml.MaxBytes+1)) // bounded: Parse refuses more
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return Parse(path, b)
}

// Parse decodes and validates a config file's text; name is used in errors.
func Parse(name string, b []byte) (*Config, error) {
	var c Config
	// Read ahead for the installer's usual mistakes, whose decoder errors
	// are cryptic; only within the decoder's bounds (a hostile file is
	// refused by Unmarshal below, with its reason).
	if safeyaml.Check(b) == nil {
		if probs := preflight(b); len(probs) > 0 {
			errs := make([]error, len(probs))
			for i, p := range probs {
				errs[i] = p
			}
			return nil, fmt.Errorf("config: %s: %w", name, errors.Join(errs...))
		}
	}
	if err := safeyaml.Unmarshal(b, &c, yaml.Strict()); err != nil {
		if errors.Is(err, safeyaml.ErrTooLarge) || errors.Is(err, safeyaml.ErrTooDeep) || errors.Is(err, safeyaml.ErrExpansion) || errors.Is(err, safeyaml.ErrDecoder) {
			return nil, fmt.Errorf("config: %s: %w", name, err)
		}
		return nil, &Error{File: name, Err: err}
	}
	c.applyDefaults()
	if probs := c.problems(); len(probs) > 0 {
		lines := lineFinder(b)
		errs := make([]error, len(probs))
		for _, p := range probs {
			p.Line = lines(p.Key)
		}
		slices.SortStableFunc(probs, func(a, b *FieldError) int { return cmp.Compare(a.Line, b.Line) })
		for i, p := range probs {
			errs[i] = p
		}
		return nil, fmt.Errorf("config: %s: %w", name, errors.Join(errs...))
	}
	return &c, nil
}

// lineFinder returns a function giving the line of a key ("scanners[0].
// terminator") in the file b, or of its nearest parent present in the
// file (a setting left out is reported where its section is), 0 if none.
func lineFinder(b []byte) func(key string) int {
	f, err := parser.ParseBytes(bytes.TrimPrefix(b, []byte("\uFEFF")), 0)
	return func(key string) int {
		if err != nil {
			return 0
		}
		for key != "" {
			if p, err := yaml.PathString("$." + key); err == nil {
				if n, err := p.FilterFile(f); err == nil && n != nil && n.GetToken() != nil {
					return n.GetToken().Position.Line
				}
			}
			i := strings.LastIndexAny(key, ".[")
			if i < 0 {
				break
			}
			key = key[:i]
		}
		return 0
	}
}

// Error is a decoding error with its position in the file.
type Error struct {
	File string
	Err  error
}

func (e *Error) Error() string {
	msg := yaml.FormatError(e.Err, false, true)
	if strings.Contains(msg, "unknown field \"key\"") || strings.Contains(msg, "unknown field \"api_key\"") {
		msg += "\n(the API key never goes in the config file: put it in a file named by api.key_file, or in TILLSCAN_API_KEY, or in the systemd credential api-key)"
	}
	return fmt.Sprintf("config: %s: %s", e.File, msg)
}

func (e *Error) Unwrap() error { return e.Err }

func (c *Config) applyDefaults() {
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.API.BaseURL == "" {
		c.API.BaseURL = DefaultBaseURL
	}
	if c.API.RateLimit == 0 {
		c.API.RateLimit = DefaultRateLimit
	}
	if c.API.Timeout == 0 {
		c.API.Timeout = DefaultTimeout
	}
	if c.DedupeWindow == 0 {
		c.DedupeWindow = DefaultDedupe
	}
	if c.Status.Listen == "" {
		c.Status.Listen = DefaultStatusListen
	}
	if c.Status.Socket == "" {
		c.Status.Socket = filepath.Join(c.StateDir, "control.sock")
	}
	if c.Queue.Retention == 0 {
		c.Queue.Retention = 30 * 24 * time.Hour
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	for i := range c.Scanners {
		s := &c.Scanners[i]
		if s.Name == "" {
			s.Name = fmt.Sprintf("%s-%d", s.Type, i+1)
		}
		if s.Type == "serial" && s.Baud == 0 {
			s.Baud = 9600
		}
		if s.Type == "hid" && s.Layout == "" {
			s.Layout = "us"
		}
	}
}

// ErrNoKey is returned by APIKey when no key is configured anywhere.
var ErrNoKey = errors.New("config: no API key")
