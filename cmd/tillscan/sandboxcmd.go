package main

import (
	"fmt"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// sandboxCmd is `tillscan sandbox`: the fake Highlight Cards API on its own,
// for trying a config or a POS integration without a real account.
type sandboxCmd struct {
	Listen    string   `default:"127.0.0.1:8080" help:"Address to serve on (loopback)."`
	Seed      string   `type:"existingfile" help:"Seed data (YAML or JSON); default: the demo cards."`
	Key       []string `help:"Accepted API keys (repeatable); default: ${demo_key}."`
	RateLimit float64  `default:"10" help:"Requests per second per key before 429; negative: unlimited."`
}

func (c *sandboxCmd) Run(g *globals) error {
	opts := sandbox.Options{APIKeys: c.Key, RateLimit: c.RateLimit}
	if c.Seed != "" {
		seed, err := sandbox.LoadSeed(c.Seed)
		if err != nil {
			return err
		}
		opts.Seed = seed
	}
	srv, err := sandbox.NewServerAt(c.Listen, opts)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer srv.Close()
	keys := c.Key
	if len(keys) == 0 {
		keys = []string{sandbox.DemoAPIKey}
	}
	fmt.Fprintf(g.Stdout, "sandbox API at %s (x-api-key: %v, %v req/s)\n", srv.URL, keys, c.RateLimit)
	printCards(g.Stdout, srv.API.Cards())
	<-g.Ctx.Done()
	return nil
}
