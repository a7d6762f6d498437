package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/pos"
)

// checkConfigCmd is `tillscan check-config`.
type checkConfigCmd struct {
	Config     string `short:"c" default:"/etc/tillscan/tillscan.yaml" env:"TILLSCAN_CONFIG" help:"Config file." type:"path"`
	NoKeyCheck bool   `help:"Do not require the API key and the POS token to be readable (checking a config on another machine)."`
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
	for _, s := range cfg.Scanners {
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
