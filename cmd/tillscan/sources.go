package main

import (
	"context"
	"fmt"
	"io"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/scanner"
)

// buildSources makes a scanner.Source for every configured scanner.
func buildSources(cfg *config.Config, stdin io.Reader, log zerolog.Logger) ([]*source, error) {
	var out []*source
	for i, sc := range cfg.Scanners {
		key := fmt.Sprintf("scanners[%d] (%s)", i, sc.Name)
		term, err := scanner.ParseTerminator(sc.Terminator)
		if err != nil {
			return nil, fmt.Errorf("config: %s: %w", key, err)
		}
		frame := scanner.FrameConfig{Terminator: term, IdleTimeout: sc.IdleTimeout, Prefix: sc.Prefix, Suffix: sc.Suffix}
		s := &source{typ: sc.Type, term: passTerminator(term)}
		switch sc.Type {
		case "stdin":
			if stdin == nil {
				return nil, fmt.Errorf("config: %s: a stdin scanner needs the daemon's standard input (not available here)", key)
			}
			s.src = scanner.NewStdin(sc.Name, stdin, log.With().Str("scanner", sc.Name).Logger())
		case "serial":
			stop := 1.0
			if sc.StopBits == "2" {
				stop = 2
			}
			src, err := scanner.NewSerial(scanner.SerialConfig{
				Name: sc.Name, Path: sc.Path, Baud: sc.Baud, DataBits: sc.DataBits,
				Parity: sc.Parity, StopBits: stop, Frame: frame,
				GoodRead: sc.Feedback.Good, BadRead: sc.Feedback.Bad,
			}, log.With().Str("scanner", sc.Name).Logger())
			if err != nil {
				return nil, fmt.Errorf("config: %s: %w", key, err)
			}
			s.src = src
		case "hid":
			src, err := newHIDSource(sc, frame, log)
			if err != nil {
				return nil, fmt.Errorf("config: %s: %w", key, err)
			}
			s.src = src
		default:
			return nil, fmt.Errorf("config: %s: unknown type %q", key, sc.Type)
		}
		if sc.Passthrough {
			layout := sc.PassLayout
			if layout == "" {
				layout = sc.Layout
			}
			if layout == "" {
				layout = "us"
			}
			// Types on its own goroutine: the scanner's reader never waits.
			kb, err := openPassTyper("tillscan pass-through "+sc.Name, layout, log.With().Str("scanner", sc.Name).Logger())
			if err != nil {
				closeSources(out)
				return nil, fmt.Errorf("config: %s: passthrough: %w", key, err)
			}
			s.pass = kb
		}
		out = append(out, s)
	}
	return out, nil
}

func closeSources(ss []*source) {
	for _, s := range ss {
		if s.pass != nil {
			s.pass.Close()
		}
	}
}

// endNotifier calls end when its source ends by itself (stdin reached
// EOF), not when it is stopped.
type endNotifier struct {
	scanner.Source
	end func()
}

func (e *endNotifier) Run(ctx context.Context, emit func(scanner.Scan)) error {
	err := e.Source.Run(ctx, emit)
	if err == nil && ctx.Err() == nil {
		e.end()
	}
	return err
}
