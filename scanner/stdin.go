package scanner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Stdin is a Source reading one scan per line: the demo, or a
// keyboard-wedge scanner typing into a terminal. A line ends at LF, CR or
// CRLF; tabs count as spaces, surrounding spaces are trimmed and empty
// lines ignored. An over-long (over 4 KiB) or binary line is logged and
// skipped.
type Stdin struct {
	name string
	r    io.Reader
	log  zerolog.Logger
}

// NewStdin returns a Source reading r (usually os.Stdin). With an
// *os.File, Run returns promptly when ctx ends; with another reader, only
// once its Read returns. log receives rejected lines; it is used as is, so
// give it the scanner's name as a field where you wire it.
func NewStdin(name string, r io.Reader, log zerolog.Logger) *Stdin {
	return &Stdin{name: name, r: r, log: log}
}

// Name returns the configured name.
func (s *Stdin) Name() string { return s.name }

// Run emits one scan per line until EOF or ctx ends (both return nil) or a
// read fails. The last line is emitted even without a newline.
func (s *Stdin) Run(ctx context.Context, emit func(Scan)) error {
	// A person types slowly, so no idle timeout; the framer still bounds
	// the line length and rejects control bytes.
	f, err := NewFramer(FrameConfig{Terminator: TermAny, IdleTimeout: -1})
	if err != nil {
		return err
	}
	r := s.r
	if file, ok := s.r.(*os.File); ok {
		fr, err := newFileReader(ctx, file)
		if err != nil {
			return fmt.Errorf("scanner: %s: %w", s.name, err)
		}
		defer fr.Close()
		r = fr
	}
	buf := make([]byte, 4096)
	for ctx.Err() == nil {
		n, err := r.Read(buf) // (0, nil) from a fileReader once ctx ended
		now := time.Now()
		for i, c := range buf[:n] {
			if c == '\t' {
				buf[i] = ' ' // whitespace on a terminal, trimmed below, not a control byte
			}
		}
		scans, rejects := f.Feed(buf[:n], now)
		if errors.Is(err, io.EOF) {
			s2, r2 := f.Flush(now)
			scans, rejects = append(scans, s2...), append(rejects, r2...)
		}
		s.deliver(emit, scans, rejects)
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return fmt.Errorf("scanner: %s: read: %w", s.name, err)
		}
	}
	return nil
}

func (s *Stdin) deliver(emit func(Scan), scans []Scan, rejects []error) {
	for _, r := range rejects {
		s.log.Warn().Err(r).Msg("line rejected; type or scan it again")
	}
	for _, sc := range scans {
		if sc.Text = strings.TrimSpace(sc.Text); sc.Text != "" {
			sc.Scanner = s.name
			emit(sc)
		}
	}
}
