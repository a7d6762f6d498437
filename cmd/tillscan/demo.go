package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/pos"
)

// demoCmd is `tillscan demo`: the whole daemon against the embedded sandbox
// API with the demo cards, reading scans from standard input. No API key,
// no hardware, no config file.
type demoCmd struct {
	StateDir string `help:"Keep the queue here instead of a temporary directory."`
	Verbose  bool   `short:"v" help:"Show the daemon's log lines too."`
}

// The demo's command texts: short to type, with the built-in
// TILLSCAN:SUM:<amount> and TILLSCAN:CANCEL beside them.
const (
	demoRedeem   = "REDEEM"
	demoSubtract = "SUBTRACT"
	demoSum      = "TILLSCAN:SUM:20"
	demoCancel   = "TILLSCAN:CANCEL"
	demoUndo     = "TILLSCAN:UNDO"
)

// demoCommands are the commands the demo's intro lists, in the order a
// cashier meets them: every command the demo till understands.
var demoCommands = []struct{ text, does string }{
	{demoSum, "the next card's purchase sum is 20 (cashback, discount, gift and spend cards need one)"},
	{demoRedeem, "the next card redeems instead of earning (a reward, a coupon)"},
	{demoSubtract, "the next card gets one stamp, visit or point taken off"},
	{demoCancel, "forget a sum or mode typed by mistake"},
	{demoUndo, "take back the last action on the last card (typed after the card)"},
}

func (c *demoCmd) Run(g *globals) error {
	ctx, cancel := context.WithCancel(g.Ctx)
	defer cancel()
	sb, err := sandbox.NewServer(sandbox.Options{})
	if err != nil {
		return fmt.Errorf("demo: start sandbox: %w", err)
	}
	defer sb.Close()

	stateDir := c.StateDir
	if stateDir == "" {
		stateDir, err = os.MkdirTemp("", "tillscan-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(stateDir)
	}
	cfg, err := config.Parse("demo", []byte(demoConfig(stateDir, sb.URL)))
	if err != nil {
		return fmt.Errorf("demo: built-in config: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:8765")
	if err != nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0") // a daemon already has 8765
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	log := zerolog.Nop()
	if c.Verbose {
		log = zerolog.New(zerolog.ConsoleWriter{Out: g.Stderr, TimeFormat: time.TimeOnly}).With().Timestamp().Logger()
	}
	out := &syncWriter{w: g.Stdout}
	// g.Stdin goes to the stdin source as it is: a terminal or pipe
	// (*os.File) is polled, so Ctrl-C ends the demo without waiting for
	// another line.
	eof := make(chan struct{})
	token := rand.Text() // the POS endpoints' token, for this run only
	d, err := newDaemon(cfg, daemonOptions{
		APIKey: sandbox.DemoAPIKey, Log: log, Stdin: g.Stdin, StatusListener: ln, POSToken: token,
		OnEvent:    func(ev pos.Event) { out.printf("%s %s\n", eventMark(ev.Kind), ev.Message) },
		OnInputEnd: func() { close(eof) }, // the demo has one stdin scanner
	})
	if err != nil {
		return err
	}
	out.printf("tillscan demo — a till with a keyboard scanner, talking to the built-in sandbox API.\n")
	out.printf("Status page: http://%s/\n", ln.Addr())
	out.printf("POS API (docs/pos-api.md): TILLSCAN=http://%s TOKEN=%s\n\nDemo cards:\n", ln.Addr(), token)
	rules, err := buildRules(cfg)
	if err != nil {
		return fmt.Errorf("demo: built-in rules: %w", err)
	}
	printCardsNoted(out, sb.API.Cards(), firstScanNote(rules, sandbox.DemoSeed()))
	out.printf("\nType or scan a card number (or a URL containing one) and press Enter.\n")
	out.printf("Commands:\n")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	for _, c := range demoCommands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.text, c.does)
	}
	tw.Flush()
	out.printf("Ctrl-D to finish.\n\n")

	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-eof:
		// Input ended (piped scans): let the queue drain, then stop.
		d.waitDrained(ctx, 30*time.Second)
		cancel()
		return <-done
	}
}

// demoConfig is the demo's config file: the example rules with command
// barcodes that are easy to type.
func demoConfig(stateDir, apiURL string) string {
	return fmt.Sprintf(`till_id: demo
state_dir: %q
api:
  base_url: %q
scanners:
  - {name: keyboard, type: stdin}
dedupe_window: 10s
modes:
  redeem:
    barcode: %s
  subtract:
    barcode: %s
    rules:
      stamp:      {action: subtract-stamp}
      membership: {action: subtract-visit}
      reward:     {action: subtract-scores}
status:
  listen: 127.0.0.1:0
  socket: %q
worker:
  settle: 2s
  retry_base: 1s
  retry_cap: 10s
`, stateDir, apiURL, demoRedeem, demoSubtract, demoSocket())
}

func eventMark(k pos.EventKind) string {
	switch k {
	case pos.EventApplied:
		return "✔"
	case pos.EventSaved, pos.EventMode, pos.EventUndone:
		return "·"
	case pos.EventNotSaved, pos.EventRefused, pos.EventDead, pos.EventUnauthorized:
		return "✘"
	}
	return "…"
}

// printCards lists the sandbox's cards, one line each.
func printCards(w io.Writer, cards []sandbox.Card) { printCardsNoted(w, cards, nil) }

// printCardsNoted is printCards with what a card needs before a plain scan
// does something (note, if not nil) at the end of its line.
func printCardsNoted(w io.Writer, cards []sandbox.Card, note func(sandbox.Card) string) {
	var buf strings.Builder
	tw := tabwriter.NewWriter(&buf, 2, 4, 2, ' ', 0)
	for _, c := range cards {
		typ := c.Type
		if t, err := apiclient.ParseCardType(c.Type); err == nil {
			typ = t.String() // the API says "subscription" for multipass
		}
		line := "  " + c.ID + "\t" + typ + "\t" + cardSummary(c)
		if note != nil {
			line += "\t" // every line has the cell, so tabwriter aligns the column
			if n := note(c); n != "" {
				line += "— " + n
			}
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	for l := range strings.Lines(buf.String()) {
		io.WriteString(w, strings.TrimRight(l, " \n")+"\n") // an empty note cell leaves padding behind
	}
}

// firstScanNote returns what a demo card needs before a plain scan does
// something, by the demo's own rules and the seed's template mechanics:
// "" when a plain scan applies an action.
func firstScanNote(rules pos.Rules, seed *sandbox.Seed) func(sandbox.Card) string {
	mech := map[int]pos.Mechanics{}
	for _, t := range seed.Templates {
		if m, err := pos.ParseMechanics(t.Mechanics); err == nil {
			mech[t.ID] = m
		}
	}
	return func(c sandbox.Card) string {
		typ, err := apiclient.ParseCardType(c.Type)
		if err != nil {
			return ""
		}
		card := apiclient.Card{ID: c.ID, Type: typ, TemplateID: c.TemplateID}
		if _, err := rules.Decide(card, mech[c.TemplateID], "", nil); errors.Is(err, pos.ErrNeedPurchaseSum) {
			return "needs a sum: type " + demoSum + " first"
		}
		return ""
	}
}

func cardSummary(c sandbox.Card) string {
	b := c.Balance
	switch c.Type {
	case "stamp":
		return fmt.Sprintf("%g/%g stamps, %g reward(s) ready", b.CurrentNumberOfUses, b.NumberStampsTotal, b.NumberRewardsUnused)
	case "cashback":
		return fmt.Sprintf("balance %.2f, %g points", b.Balance, b.BonusBalance)
	case "subscription", "multipass":
		return fmt.Sprintf("%g visits available", b.CurrentNumberOfUses)
	case "coupon":
		if c.CouponRedeemed {
			return "redeemed"
		}
		return "not redeemed"
	case "discount":
		return fmt.Sprintf("%g%% discount", b.DiscountPercentage)
	case "membership":
		name := ""
		if c.MembershipTier != nil {
			name = c.MembershipTier.Name
		}
		return strings.TrimSpace("member " + name)
	default:
		return fmt.Sprintf("%g points", b.BonusBalance)
	}
}

// syncWriter serialises writes from the event feed and the banner.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) printf(format string, args ...any) { fmt.Fprintf(s, format, args...) }
