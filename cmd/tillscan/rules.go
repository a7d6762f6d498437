package main

import (
	"fmt"
	"maps"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/pos"
)

// buildRules turns the config's rules, templates and modes into pos.Rules,
// on top of pos.DefaultRules: a config that names only stamp cards still
// does the right thing for the other seven types.
func buildRules(c *config.Config) (pos.Rules, error) {
	r := pos.DefaultRules()
	r.ByType = maps.Clone(r.ByType)
	r.Modes = maps.Clone(r.Modes)
	r.ByTemplate = map[int]pos.Rule{}
	r.Mechanics = map[int]pos.Mechanics{}
	r.Comment = c.Comment
	var err error
	if r.Rounding, err = pos.ParseRounding(c.Till.Rounding); err != nil {
		return pos.Rules{}, fmt.Errorf("till.rounding: %w", err)
	}
	if err := addTypeRules(r.ByType, c.Rules); err != nil {
		return pos.Rules{}, fmt.Errorf("rules: %w", err)
	}
	if err := addTemplates(&r, r.ByTemplate, c.Templates); err != nil {
		return pos.Rules{}, fmt.Errorf("templates: %w", err)
	}
	for name, m := range c.Modes {
		mr := r.Modes[name]
		mr.ByType = maps.Clone(mr.ByType)
		if mr.ByType == nil {
			mr.ByType = map[apiclient.CardType]pos.Rule{}
		}
		mr.ByTemplate = maps.Clone(mr.ByTemplate)
		if mr.ByTemplate == nil {
			mr.ByTemplate = map[int]pos.Rule{}
		}
		if err := addTypeRules(mr.ByType, m.Rules); err != nil {
			return pos.Rules{}, fmt.Errorf("modes.%s.rules: %w", name, err)
		}
		if err := addTemplates(&r, mr.ByTemplate, m.Templates); err != nil {
			return pos.Rules{}, fmt.Errorf("modes.%s.templates: %w", name, err)
		}
		if r.Modes == nil {
			r.Modes = map[string]pos.ModeRules{}
		}
		r.Modes[name] = mr
	}
	if err := r.Validate(); err != nil {
		return pos.Rules{}, err
	}
	return r, nil
}

func addTypeRules(dst map[apiclient.CardType]pos.Rule, src map[string]config.Rule) error {
	for name, cr := range src {
		t, err := apiclient.ParseCardType(name)
		if err != nil {
			return err
		}
		r, err := cr.PosRule()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		dst[t] = r
	}
	return nil
}

func addTemplates(all *pos.Rules, dst map[int]pos.Rule, src map[int]config.TemplateRule) error {
	for id, tr := range src {
		if tr.Mechanics != "" {
			m, err := pos.ParseMechanics(tr.Mechanics)
			if err != nil {
				return fmt.Errorf("%d: %w", id, err)
			}
			all.Mechanics[id] = m
		}
		if tr.Action == "" {
			continue
		}
		r, err := tr.Rule.PosRule()
		if err != nil {
			return fmt.Errorf("%d: %w", id, err)
		}
		dst[id] = r
	}
	return nil
}

// newTillConfig is the till's config as the daemon runs it (Cards and
// Jobs left for the caller), validated by pos: check-config builds it too, so both
// refuse the same things.
func newTillConfig(cfg *config.Config, rules func() pos.Rules) (pos.TillConfig, error) {
	ex, err := pos.NewExtractor(cfg.CardPattern)
	if err != nil {
		return pos.TillConfig{}, fmt.Errorf("config: card_pattern: %w", err)
	}
	commands := pos.DefaultCommands() // TILLSCAN:REDEEM, TILLSCAN:SUM:<amount>, TILLSCAN:CANCEL
	for name, m := range cfg.Modes {
		commands[m.Barcode] = pos.Command{Mode: name}
	}
	caps, err := cfg.Till.PosCaps()
	if err != nil {
		return pos.TillConfig{}, fmt.Errorf("config: %w", err)
	}
	amount, err := cfg.Till.AmountBarcodeParsed()
	if err != nil {
		return pos.TillConfig{}, fmt.Errorf("config: till.amount_barcode: %w", err)
	}
	tc := pos.TillConfig{
		TillID:        cfg.TillID,
		Extractor:     ex,
		DedupeWindow:  cfg.DedupeWindow,
		Commands:      commands,
		Rules:         rules,
		Currency:      cfg.Currency,
		Caps:          caps,
		AmountBarcode: amount,
		UndoRepeat:    cfg.Till.UndoRepeat,
	}
	if err := tc.Validate(); err != nil {
		return pos.TillConfig{}, fmt.Errorf("config: %w", err)
	}
	return tc, nil
}
