package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// newLogger builds the one root logger. format is journald, console or
// json; "" picks journald under systemd (JOURNAL_STREAM is set), console on a
// terminal, json otherwise.
func newLogger(level, format string, stderr io.Writer, env func(string) string) (zerolog.Logger, error) {
	w, err := logOutput(level, format, stderr, env)
	if err != nil {
		return zerolog.Logger{}, err
	}
	return zerolog.New(w).With().Timestamp().Logger(), nil
}

// newDaemonLogger is newLogger for the daemon: its lines go through a
// logSink, so a stalled sink cannot stop it. The caller closes the sink
// last, with logFlushLimit.
func newDaemonLogger(level, format string, stderr io.Writer, env func(string) string) (zerolog.Logger, *logSink, error) {
	w, err := logOutput(level, format, stderr, env)
	if err != nil {
		return zerolog.Logger{}, nil, err
	}
	sink := newLogSink(w, logBuffer, logStallAfter)
	return zerolog.New(sink).With().Timestamp().Logger(), sink, nil
}

// logOutput sets the level and returns the writer the format asks for.
func logOutput(level, format string, stderr io.Writer, env func(string) string) (io.Writer, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return nil, fmt.Errorf("log.level %q: want debug, info, warn or error", level)
	}
	if format == "" {
		switch {
		case env("JOURNAL_STREAM") != "":
			format = "journald"
		case isTerminal(stderr):
			format = "console"
		default:
			format = "json"
		}
	}
	var w io.Writer
	switch format {
	case "journald":
		if w, err = journaldWriter(); err != nil {
			return nil, fmt.Errorf("log.format journald: %w", err)
		}
	case "console":
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	case "json":
		w = stderr
	default:
		return nil, fmt.Errorf("log.format %q: want journald, console or json", format)
	}
	// The level is process-wide so that a reload (SIGHUP) reaches every
	// child logger; this is the one global zerolog setting tillscan makes.
	zerolog.SetGlobalLevel(lvl)
	return w, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}
