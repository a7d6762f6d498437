package scanner

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/scanner/scannertest"
)

func TestStdin_Lines(t *testing.T) {
	long := strings.Repeat("9", DefaultMaxLen+1)
	tests := []struct {
		name    string
		in      string
		want    []string
		wantLog string
	}{
		{"LF, CRLF and CR lines; blanks ignored", "544256-439-856\r\n\n   \r\nfoo\rbar\n", []string{"544256-439-856", "foo", "bar"}, ""},
		{"spaces trimmed", "  544256-439-856 \t\n", []string{"544256-439-856"}, ""},
		{"last line without newline", "a\nb", []string{"a", "b"}, ""},
		{"over-long line rejected, next kept", long + "\nok\n", []string{"ok"}, "line rejected"},
		{"binary line rejected, next kept", "\x00\x01\xfe\nok\n", []string{"ok"}, "control or binary"},
		{"utf-8 kept", "https://x.example/ü/544256-439-856\n", []string{"https://x.example/ü/544256-439-856"}, ""},
		{"empty input", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer // Run is synchronous here
			var got []string
			s := NewStdin("keyboard", strings.NewReader(tt.in), zerolog.New(&logs))
			err := s.Run(t.Context(), func(sc Scan) {
				if sc.Scanner != "keyboard" || sc.At.IsZero() {
					t.Errorf("scan %+v: want Scanner keyboard and At set", sc)
				}
				got = append(got, sc.Text)
			})
			if err != nil {
				t.Fatalf("Run() = %v, want nil at EOF", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("scans = %q, want %q", got, tt.want)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log = %q, want %q in it", logs.String(), tt.wantLog)
			}
		})
	}
}

// TestStdin_File reads an *os.File (a pipe, like a terminal or a shell
// pipe): scans arrive as lines are written, and cancelling returns nil at
// once although nobody closed the pipe.
func TestStdin_File(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	s := NewStdin("stdin", r, zerolog.New(zerolog.NewTestWriter(t)))
	scans := make(chan Scan, 4)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(sc Scan) { scans <- sc }) }()

	w.WriteString("5442")
	w.WriteString("56-439-856\n")
	if sc := <-scans; sc.Text != "544256-439-856" {
		t.Fatalf("scan = %q, want 544256-439-856", sc.Text)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() after cancel = %v, want nil", err)
	}
}

func TestStdin_FileEOF(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := NewStdin("stdin", r, zerolog.Nop())
	var got []string
	w.WriteString("a\nb")
	w.Close()
	if err := s.Run(t.Context(), func(sc Scan) { got = append(got, sc.Text) }); err != nil {
		t.Fatalf("Run() = %v, want nil at EOF", err)
	}
	if want := []string{"a", "b"}; !slices.Equal(got, want) {
		t.Errorf("scans = %q, want %q", got, want)
	}
}

// TestStdin_Terminal reads a terminal, as when a keyboard-wedge scanner
// types into the console tillscan runs on.
func TestStdin_Terminal(t *testing.T) {
	pty := scannertest.NewPTY(t)
	tty, err := os.OpenFile(pty.Path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	s := NewStdin("console", tty, zerolog.New(zerolog.NewTestWriter(t)))
	scans := make(chan Scan, 4)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func(sc Scan) { scans <- sc }) }()
	pty.WriteString("544256-439-856\r")
	if sc := <-scans; sc.Text != "544256-439-856" {
		t.Fatalf("scan = %q, want 544256-439-856", sc.Text)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() after cancel = %v, want nil", err)
	}
}

// TestFileReader_WaitsWithoutPolling reads a silent pipe: the read waits
// (it does not come back empty every so often, which would wake an idle
// daemon) until ctx ends, and then returns (0, nil). The pause is longer
// than the 200 ms poll this replaced; a slow machine can only make the
// test pass late, never fail.
func TestFileReader_WaitsWithoutPolling(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fr, err := newFileReader(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Close()
	type result struct {
		n   int
		err error
	}
	read := func() <-chan result {
		ch := make(chan result, 1)
		go func() {
			n, err := fr.Read(make([]byte, 16))
			ch <- result{n, err}
		}()
		return ch
	}

	got := read()
	w.WriteString("5442\n")
	if res := <-got; res.n != 5 || res.err != nil {
		t.Fatalf("Read() = %d, %v; want 5, nil", res.n, res.err)
	}

	got = read()
	time.Sleep(500 * time.Millisecond)
	select {
	case res := <-got:
		t.Fatalf("Read() = %d, %v with nothing written and ctx alive; want it to wait", res.n, res.err)
	default:
	}
	cancel()
	select {
	case res := <-got:
		if res.n != 0 || res.err != nil {
			t.Fatalf("Read() after cancel = %d, %v; want 0, nil", res.n, res.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read() did not return within 5s of cancel")
	}
}
