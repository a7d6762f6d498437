package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/pos"
)

// checkConfigCmd is `tillscan check-config`.
type checkConfigCmd struct {
	Config     string `short:"c" default:"/etc/tillscan/tillscan.yaml" env:"TILLSCAN_CONFIG" help:"Config file." type:"path"`
	NoKeyCheck bool   `help:"Do not require the API key and the POS token to be readable (checking a config on another machine)."`
	NoDevices  bool   `name:"no-device-check" help:"Do not open the pass-through keyboards (/dev/uinput) as run does (checking a config on another machine)."`
}

func (c *checkConfigCmd) Run(g *globals) error {
	cfg, err := config.Load(c.Config)
	if err != nil {
		return err
	}
	rules, err := buildRules(cfg)
	if err != nil {
		return fmt.Errorf("config: %s: %w", c.Config, err)
	}
	if _, err := newTillConfig(cfg, func() pos.Rules { return rules }); err != nil {
		return fmt.Errorf("%s: %w", c.Config, err)
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(g.Stdout, "warning:", w)
	}
	if _, err := newLogger(cfg.Log.Level, cfg.Log.Format, g.Stderr, g.Env); err != nil {
		return fmt.Errorf("config: %s: %w", c.Config, err)
	}
	var problems []error
	if !c.NoKeyCheck {
		if key, err := cfg.APIKey(g.Env); err != nil {
			problems = append(problems, err)
		} else {
			fmt.Fprintf(g.Stdout, "api key: found (%s)\n", key.Source)
			for _, w := range key.Warnings {
				fmt.Fprintln(g.Stdout, "warning:", w)
			}
		}
		if cfg.Status.Listen != "off" && cfg.Status.TokenFile != "" {
			if _, err := cfg.POSToken(); err != nil {
				problems = append(problems, err)
			} else {
				fmt.Fprintf(g.Stdout, "pos token: found (%s)\n", cfg.Status.TokenFile)
			}
		}
	}
	// The scanners as run builds them (pass-through keyboards included,
	// opened and closed again), so check-config fails where run would.
	check := cfg
	if c.NoDevices {
		check = withoutPassthrough(cfg)
	}
	if srcs, err := buildSources(check, strings.NewReader(""), zerolog.Nop()); err != nil {
		problems = append(problems, err)
	} else {
		for _, s := range srcs {
			if s.pass != nil {
				s.pass.Close()
			}
		}
	}
	for _, s := range cfg.Scanners {
		fmt.Fprintf(g.Stdout, "scanner %s: %s\n", s.Name, scannerOpens(s))
		if s.Type == "serial" {
			if _, err := os.Stat(s.Path); err != nil {
				fmt.Fprintf(g.Stdout, "note: scanner %s: %s is not there now (not plugged in?); tillscan opens it when it appears\n", s.Name, s.Path)
			}
		}
	}
	if err := errors.Join(problems...); err != nil {
		return fmt.Errorf("config: %s: %w", c.Config, err)
	}
	fmt.Fprintf(g.Stdout, "config OK: %s (till %s, %d scanner(s), %d mode(s), state in %s, status on %s)\n",
		c.Config, cfg.TillID, len(cfg.Scanners), len(cfg.Modes), cfg.StateDir, cfg.Status.Listen)
	return nil
}

// scannerOpens says what run will open for s, in the installer's terms.
func scannerOpens(s config.Scanner) string {
	var what string
	switch s.Type {
	case "serial":
		what = fmt.Sprintf("serial port %s at %d baud", s.Path, s.Baud)
	case "hid":
		what = fmt.Sprintf("USB-HID scanner %s:%s", s.VID, s.PID)
		if s.Serial != "" {
			what += " serial " + s.Serial
		}
		if s.USBPath != "" {
			what += " at USB port " + s.USBPath
		}
		what += ", keyboard layout " + s.Layout
		if s.HIDMode != "" {
			what += ", mode " + s.HIDMode
		}
	case "stdin":
		what = "standard input (one scan per line)"
	default:
		what = s.Type
	}
	if s.Passthrough {
		what += "; other barcodes re-typed to the POS through /dev/uinput"
	}
	return what
}

// withoutPassthrough is a copy of cfg whose scanners open no pass-through
// keyboard.
func withoutPassthrough(cfg *config.Config) *config.Config {
	c := *cfg
	c.Scanners = append([]config.Scanner(nil), cfg.Scanners...)
	for i := range c.Scanners {
		c.Scanners[i].Passthrough = false
	}
	return &c
}
