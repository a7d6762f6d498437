// Command tillscan reads loyalty-card scans at a shop till and applies the
// configured action to each card through the Highlight Cards API, through a
// durable on-disk queue. This package only parses the command line and wires
// the packages together; the packages decide.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// globals is what every command's Run receives.
type globals struct {
	Ctx    context.Context
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Env    func(string) string // os.Getenv in production; tests pass their own
}

// cli is the command line. Each command is a struct with
// Run(*globals) error, in a file of its own.
type cli struct {
	VersionFlag kong.VersionFlag `name:"version" help:"Print the version and exit."`

	Run         runCmd         `cmd:"" help:"Run the daemon (as the systemd service does)."`
	Demo        demoCmd        `cmd:"" help:"Try tillscan: the daemon with a built-in sandbox API and demo cards, scans from the keyboard."`
	Sandbox     sandboxCmd     `cmd:"" help:"Serve the fake Highlight Cards API on its own."`
	CheckConfig checkConfigCmd `cmd:"" name:"check-config" help:"Check a config file and exit."`
	Status      statusCmd      `cmd:"" help:"Show what the running daemon is doing; exits 1 if something needs attention."`
	Queue       queueCmd       `cmd:"" help:"Inspect and fix the queue of saved scans."`
	Report      reportCmd      `cmd:"" help:"Every scan at this till on one day, with its result, and totals (text, CSV or JSON)."`
	Barcodes    barcodesCmd    `cmd:"" help:"Print a sheet of command barcodes for the till."`
	Devices     devicesCmd     `cmd:"" help:"List USB-HID and serial devices (likely scanners marked)."`
	Listen      listenCmd      `cmd:"" help:"Print decoded scans live until interrupted (for setting up a scanner)."`
	Version     versionCmd     `cmd:"" help:"Print the version and exit."`
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop() // not deferred: os.Exit skips deferred calls
	if err != nil {
		writeBounded(os.Stderr, "tillscan: "+err.Error()+"\n", exitWriteLimit)
		os.Exit(1)
	}
}

// exitWriteLimit bounds the last error line: a stderr nobody reads (a
// stalled journal) must not keep a failed start from exiting.
const exitWriteLimit = 5 * time.Second

// writeBounded writes s to w, waiting at most limit; a write still blocked
// then is abandoned (the process is about to exit).
func writeBounded(w io.Writer, s string, limit time.Duration) {
	done := make(chan struct{})
	go func() {
		io.WriteString(w, s)
		close(done)
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// run parses args and runs the chosen command. Tests call it directly.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, env func(string) string) error {
	var c cli
	exited := false
	parser, err := kong.New(&c,
		kong.Name("tillscan"),
		kong.Description("Loyalty-card scans at the till, applied once and never lost."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(int) { exited = true }),
		kong.UsageOnError(),
		kong.Vars{"demo_key": sandbox.DemoAPIKey, "version": "tillscan " + version},
	)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		args = []string{"--help"} // `tillscan` alone: what it can do, not an error
	}
	kctx, err := parser.Parse(args)
	if exited {
		return nil // --help printed
	}
	if err != nil {
		return err
	}
	g := &globals{Ctx: ctx, Stdin: stdin, Stdout: stdout, Stderr: stderr, Env: env}
	if err := kctx.Run(g); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

type versionCmd struct{}

func (versionCmd) Run(g *globals) error {
	_, err := fmt.Fprintf(g.Stdout, "tillscan %s\n", version)
	return err
}
