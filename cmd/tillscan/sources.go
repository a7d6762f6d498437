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
		frame, err := sc.FrameConfig()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		s := &source{typ: sc.Type, term: passTerminator(frame.Terminator)}
		switch sc.Type {
		case config.TypeStdin:
			if stdin == nil {
				return nil, fmt.Errorf("%s: a stdin scanner needs the daemon's standard input (not available here)", key)
			}
			s.src = scanner.NewStdin(sc.Name, stdin, log.With().Str("scanner", sc.Name).Logger())
		case config.TypeSerial:
			scfg, err := sc.SerialConfig()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			src, err := scanner.NewSerial(scfg, log.With().Str("scanner", sc.Name).Logger())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			s.src = src
		case config.TypeHID:
			src, err := newHIDSource(sc, frame, log)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			s.src = src
		default:
			return nil, fmt.Errorf("%s: unknown type %q", key, sc.Type)
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
				return nil, fmt.Errorf("%s: %w", key, err) // the error names pass-through
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
