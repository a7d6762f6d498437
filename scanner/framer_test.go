package scanner

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// step is one call on a Framer: Feed(data) at ms, or Tick/Flush at ms.
type step struct {
	ms    int    // milliseconds after t0
	data  string // fed when op is ""
	op    string // "", "tick" or "flush"
	scans []string
	rejs  []error // reasons, in order
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func runSteps(t *testing.T, f *Framer, steps []step) {
	t.Helper()
	for i, s := range steps {
		var scans []Scan
		var rejs []error
		switch s.op {
		case "":
			scans, rejs = f.Feed([]byte(s.data), at(s.ms))
		case "tick":
			scans, rejs = f.Tick(at(s.ms))
		case "flush":
			scans, rejs = f.Flush(at(s.ms))
		}
		var got []string
		for _, sc := range scans {
			got = append(got, sc.Text)
		}
		if !slices.Equal(got, s.scans) {
			t.Errorf("step %d (%s %q at %dms): scans = %q, want %q", i, s.op, s.data, s.ms, got, s.scans)
		}
		if len(rejs) != len(s.rejs) {
			t.Errorf("step %d (%s %q at %dms): rejects = %v, want reasons %v", i, s.op, s.data, s.ms, rejs, s.rejs)
			continue
		}
		for j, r := range rejs {
			if !errors.Is(r, s.rejs[j]) {
				t.Errorf("step %d: reject %d = %v, want %v", i, j, r, s.rejs[j])
			}
			if _, ok := errors.AsType[*RejectError](r); !ok {
				t.Errorf("step %d: reject %d is %T, want *RejectError", i, j, r)
			}
		}
	}
}

func TestFramer_Feed(t *testing.T) {
	card := "544256-439-856"
	url := "https://shop.example/c/544256-439-856?n=Zoë&ü=✓"
	long := strings.Repeat("7", DefaultMaxLen+1)
	tests := []struct {
		name  string
		cfg   FrameConfig
		steps []step
	}{
		{"any: CR", FrameConfig{}, []step{{data: card + "\r", scans: []string{card}}}},
		{"any: LF", FrameConfig{}, []step{{data: card + "\n", scans: []string{card}}}},
		{"any: CRLF is one terminator", FrameConfig{}, []step{{data: card + "\r\n" + card + "\r\n", scans: []string{card, card}}}},
		{"any: CRLF split across reads", FrameConfig{}, []step{
			{data: card + "\r", scans: []string{card}},
			{ms: 1, data: "\n"},
			{ms: 2, data: "1\n", scans: []string{"1"}},
		}},
		{"cr", FrameConfig{Terminator: TermCR}, []step{{data: "a\rb\r", scans: []string{"a", "b"}}}},
		{"cr: LF is data and rejected", FrameConfig{Terminator: TermCR}, []step{
			{data: "a\r\nb\r", scans: []string{"a"}, rejs: []error{ErrControl}},
			{ms: 1, data: "c\r", scans: []string{"c"}},
		}},
		{"lf", FrameConfig{Terminator: TermLF}, []step{{data: "a\nb", scans: []string{"a"}}, {ms: 1, data: "\n", scans: []string{"b"}}}},
		{"lf: CR rejected, resync at next LF", FrameConfig{Terminator: TermLF}, []step{
			{data: "a\r\n", rejs: []error{ErrControl}},
			{ms: 1, data: "b\n", scans: []string{"b"}},
		}},
		{"crlf", FrameConfig{Terminator: TermCRLF}, []step{{data: card + "\r\n", scans: []string{card}}}},
		{"crlf: split between CR and LF", FrameConfig{Terminator: TermCRLF}, []step{
			{data: card + "\r"},
			{ms: 5, data: "\n", scans: []string{card}},
		}},
		{"crlf: lone LF and lone CR are data", FrameConfig{Terminator: TermCRLF}, []step{
			{data: "a\nb\r\n", rejs: []error{ErrControl}},
			{ms: 1, data: "a\rb\r\n", rejs: []error{ErrControl}},
			{ms: 2, data: "a\r\r\n", rejs: []error{ErrControl}},
			{ms: 3, data: "ok\r\n", scans: []string{"ok"}},
		}},
		{"tab", FrameConfig{Terminator: TermTab}, []step{{data: "a\tb\t", scans: []string{"a", "b"}}}},
		{"none: idle ends the scan", FrameConfig{Terminator: TermNone, IdleTimeout: 50 * time.Millisecond}, []step{
			{data: "5442"},
			{ms: 10, data: "56-439-856"},
			{ms: 59, op: "tick"},
			{ms: 60, op: "tick", scans: []string{card}},
			{ms: 61, op: "tick"},
		}},
		{"none: next bytes after idle start a new scan", FrameConfig{Terminator: TermNone, IdleTimeout: 50 * time.Millisecond}, []step{
			{data: "abc"},
			{ms: 100, data: "def", scans: []string{"abc"}},
			{ms: 200, op: "tick", scans: []string{"def"}},
		}},
		{"none: default idle", FrameConfig{Terminator: TermNone}, []step{
			{data: "abc"},
			{ms: 99, op: "tick"},
			{ms: 100, op: "tick", scans: []string{"abc"}},
		}},
		{"cr: stale partial dropped, new scan not glued", FrameConfig{Terminator: TermCR, IdleTimeout: 300 * time.Millisecond}, []step{
			{data: "544256-4"},
			{ms: 1000, data: card + "\r", scans: []string{card}, rejs: []error{ErrIncomplete}},
		}},
		{"cr: stale partial dropped on tick", FrameConfig{Terminator: TermCR}, []step{
			{data: "544256-4"},
			{ms: 499, op: "tick"},
			{ms: 500, op: "tick", rejs: []error{ErrIncomplete}},
			{ms: 501, data: card + "\r", scans: []string{card}},
		}},
		{"crlf: pending CR goes stale", FrameConfig{Terminator: TermCRLF}, []step{
			{data: "ab\r"},
			{ms: 600, data: "\ncd\r\n", rejs: []error{ErrIncomplete, ErrControl}}, // the late LF is data now
			{ms: 601, data: "cd\r\n", scans: []string{"cd"}},
		}},
		{"cr: slow bytes within the timeout still make one scan", FrameConfig{Terminator: TermCR}, []step{
			{data: "54"}, {ms: 400, data: "42"}, {ms: 800, data: "56\r", scans: []string{"544256"}},
		}},
		{"lf: idle disabled keeps a slow line", FrameConfig{Terminator: TermLF, IdleTimeout: -1}, []step{
			{data: "ab"}, {ms: 60000, op: "tick"}, {ms: 60001, data: "c\n", scans: []string{"abc"}},
		}},
		{"prefix and suffix stripped, may hold control bytes", FrameConfig{Terminator: TermCR, Prefix: "\x02", Suffix: "\x03"}, []step{
			{data: "\x02" + card + "\x03\r", scans: []string{card}},
			{ms: 1, data: card + "\r", scans: []string{card}},
			{ms: 2, data: "\x02\x03\r"},
		}},
		{"prefix only at the start", FrameConfig{Prefix: "]Q1"}, []step{
			{data: "]Q1abc]Q1\r", scans: []string{"abc]Q1"}},
		}},
		{"utf-8 in a URL", FrameConfig{}, []step{{data: url + "\r", scans: []string{url}}}},
		{"utf-8 split across reads", FrameConfig{}, []step{{data: url[:len(url)-2]}, {ms: 1, data: url[len(url)-2:] + "\r", scans: []string{url}}}},
		{"invalid utf-8 rejected", FrameConfig{}, []step{{data: "ab\xffcd\r", rejs: []error{ErrControl}}, {ms: 1, data: "ok\r", scans: []string{"ok"}}}},
		{"C1 control rejected", FrameConfig{}, []step{{data: "ab\u0085\r", rejs: []error{ErrControl}}}},
		{"DEL and ESC rejected", FrameConfig{}, []step{{data: "a\x7f\rb\x1b[A\r", rejs: []error{ErrControl, ErrControl}}}},
		{"NUL rejected then resync", FrameConfig{}, []step{{data: "\x00\x00" + card + "\r" + card + "\r", scans: []string{card}, rejs: []error{ErrControl}}}},
		{"max length accepted", FrameConfig{}, []step{{data: long[1:] + "\r", scans: []string{long[1:]}}}},
		{"over-long rejected then resync", FrameConfig{}, []step{
			{data: long},
			{ms: 1, data: long + "\r" + card + "\r", scans: []string{card}, rejs: []error{ErrTooLong}},
		}},
		{"max length counts after stripping", FrameConfig{MaxLen: 3, Prefix: "<", Suffix: ">"}, []step{
			{data: "<abc>\r<abcd>\rabcd\r", scans: []string{"abc"}, rejs: []error{ErrTooLong, ErrTooLong}},
		}},
		{"none: over-long ends at idle", FrameConfig{Terminator: TermNone, MaxLen: 4}, []step{
			{data: "abcdefgh"},
			{ms: 100, data: "abcd", rejs: []error{ErrTooLong}},
			{ms: 200, op: "tick", scans: []string{"abcd"}},
		}},
		{"flush ends the last line", FrameConfig{Terminator: TermLF, IdleTimeout: -1}, []step{
			{data: "a\nb", scans: []string{"a"}}, {ms: 1, op: "flush", scans: []string{"b"}}, {ms: 2, op: "flush"},
		}},
		{"flush: pending CR of CRLF counts as the terminator", FrameConfig{Terminator: TermCRLF}, []step{
			{data: "a\r"}, {ms: 1, op: "flush", scans: []string{"a"}},
		}},
		{"empty lines ignored", FrameConfig{}, []step{{data: "\r\n\r\n\n\r", scans: nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFramer(tt.cfg)
			if err != nil {
				t.Fatalf("NewFramer(%+v) = %v", tt.cfg, err)
			}
			runSteps(t, f, tt.steps)
		})
	}
}

func TestFramer_ScanTime(t *testing.T) {
	f, _ := NewFramer(FrameConfig{Terminator: TermNone, IdleTimeout: 50 * time.Millisecond})
	f.Feed([]byte("ab"), at(0))
	f.Feed([]byte("cd"), at(20))
	if d, ok := f.Deadline(); !ok || !d.Equal(at(70)) {
		t.Errorf("Deadline() = %v, %v; want %v, true", d, ok, at(70))
	}
	scans, _ := f.Tick(at(500))
	if len(scans) != 1 || !scans[0].At.Equal(at(20)) {
		t.Fatalf("Tick() = %+v, want one scan at the last byte's time %v", scans, at(20))
	}
	if _, ok := f.Deadline(); ok {
		t.Errorf("Deadline() after the scan ended: ok = true, want false")
	}

	g, _ := NewFramer(FrameConfig{})
	g.Feed([]byte("ab"), at(0))
	scans, _ = g.Feed([]byte("c\r"), at(30))
	if len(scans) != 1 || !scans[0].At.Equal(at(30)) {
		t.Fatalf("Feed() = %+v, want one scan at the terminator's time %v", scans, at(30))
	}
}

func TestRejectError(t *testing.T) {
	f, _ := NewFramer(FrameConfig{Terminator: TermCR})
	_, rejs := f.Feed([]byte("\n544256-439-856 and some more text after it\r"), at(0))
	if len(rejs) != 1 {
		t.Fatalf("rejects = %v, want 1", rejs)
	}
	re, ok := errors.AsType[*RejectError](rejs[0])
	if !ok {
		t.Fatalf("reject is %T, want *RejectError", rejs[0])
	}
	if want := `\n544256-439-856 and some more te...`; re.Sample != want {
		t.Errorf("Sample = %q, want %q", re.Sample, want)
	}
	if re.Len != 43 {
		t.Errorf("Len = %d, want 43", re.Len)
	}
	for _, want := range []string{"control character U+000A at offset 0", `terminator is "cr"`, "43 bytes"} {
		if !strings.Contains(re.Error(), want) {
			t.Errorf("Error() = %q, want it to mention %q", re.Error(), want)
		}
	}
}

func TestParseTerminator(t *testing.T) {
	tests := []struct {
		in      string
		want    Terminator
		wantErr bool
	}{
		{"", TermAny, false}, {"any", TermAny, false}, {"CR", TermCR, false}, {"lf", TermLF, false},
		{"CrLf", TermCRLF, false}, {"tab", TermTab, false}, {"none", TermNone, false},
		{"enter", 0, true}, {"\\r", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseTerminator(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseTerminator(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
		if err == nil && got.String() != strings.ToLower(tt.in) && tt.in != "" {
			t.Errorf("%v.String() = %q, want %q", got, got.String(), strings.ToLower(tt.in))
		}
	}
}

// Every listed terminator parses from its own name, the list has no
// duplicate, and TermAny (the default) comes first.
func TestTerminators(t *testing.T) {
	all := Terminators()
	if len(all) == 0 || all[0] != TermAny {
		t.Fatalf("Terminators() = %v; want TermAny first", all)
	}
	seen := map[Terminator]bool{}
	for _, term := range all {
		got, err := ParseTerminator(term.String())
		if err != nil || got != term || seen[term] {
			t.Errorf("ParseTerminator(%q) = %v, %v (seen before: %v); want %v", term.String(), got, err, seen[term], term)
		}
		seen[term] = true
		if _, err := NewFramer(FrameConfig{Terminator: term}); err != nil {
			t.Errorf("NewFramer with %v: %v", term, err)
		}
	}
	if _, err := ParseTerminator("semicolon"); err == nil || !strings.Contains(err.Error(), "crlf") {
		t.Errorf("ParseTerminator(semicolon) = %v; want an error listing the terminators", err)
	}
}

func TestNewFramer_Invalid(t *testing.T) {
	for _, cfg := range []FrameConfig{
		{Terminator: TermNone, IdleTimeout: -1},
		{Terminator: Terminator(42)},
		{MaxLen: -1},
	} {
		if _, err := NewFramer(cfg); err == nil {
			t.Errorf("NewFramer(%+v) = nil error, want one", cfg)
		}
	}
}

func FuzzFramer(f *testing.F) {
	f.Add([]byte("544256-439-856\r\n"), uint8(0), uint8(16), "", "", []byte{3, 5})
	f.Add([]byte("\x02abc\x03\r\x02\xff\x03\r"), uint8(1), uint8(8), "\x02", "\x03", []byte{1})
	f.Add([]byte("https://x.example/ü/544256-439-856"), uint8(5), uint8(64), "", "", []byte{7, 200, 2})
	f.Add([]byte("a\r\r\nb\r\n"), uint8(3), uint8(2), "", "", []byte{})
	f.Fuzz(func(t *testing.T, data []byte, term, maxLen uint8, prefix, suffix string, cuts []byte) {
		cfg := FrameConfig{Terminator: Terminator(term % 6), MaxLen: int(maxLen%64) + 1, Prefix: prefix, Suffix: suffix,
			IdleTimeout: 50 * time.Millisecond}
		fr, err := NewFramer(cfg)
		if err != nil {
			t.Fatalf("NewFramer(%+v) = %v", cfg, err)
		}
		check := func(scans []Scan, rejs []error) {
			for _, s := range scans {
				if len(s.Text) == 0 || len(s.Text) > cfg.MaxLen {
					t.Fatalf("scan %q: length %d, want 1..%d", s.Text, len(s.Text), cfg.MaxLen)
				}
				if i := strings.IndexFunc(s.Text, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
					t.Fatalf("scan %q has a control byte at %d", s.Text, i)
				}
			}
			for _, r := range rejs {
				if _, ok := errors.AsType[*RejectError](r); !ok {
					t.Fatalf("reject %T %v, want *RejectError", r, r)
				}
			}
			if cap(fr.buf) != fr.rawMax {
				t.Fatalf("buffer capacity %d, want %d: memory not bounded", cap(fr.buf), fr.rawMax)
			}
		}
		ms := 0
		for len(data) > 0 {
			n := len(data)
			if len(cuts) > 0 {
				n = min(n, int(cuts[0])%8+1)
				ms += int(cuts[0]) // up to 255 ms between chunks: crosses the idle timeout sometimes
				cuts = cuts[1:]
			}
			check(fr.Feed(data[:n], at(ms)))
			data = data[n:]
			if ms%3 == 0 {
				check(fr.Tick(at(ms + 40)))
			}
		}
		check(fr.Tick(at(ms + 1000)))
		check(fr.Flush(at(ms + 1001)))
		if fr.pending() {
			t.Fatalf("Framer still holds %d bytes after Flush", fr.n)
		}
	})
}

// BenchmarkFramer_Feed feeds 16 scans per call, the shape of a serial read
// that caught a backlog.
func BenchmarkFramer_Feed(b *testing.B) {
	f, _ := NewFramer(FrameConfig{Prefix: "\x02"})
	chunk := []byte(strings.Repeat("\x02https://shop.example/c/544256-439-856\r\n", 16))
	b.SetBytes(int64(len(chunk)))
	now := t0
	for b.Loop() {
		now = now.Add(time.Millisecond)
		if scans, _ := f.Feed(chunk, now); len(scans) != 16 {
			b.Fatalf("%d scans, want 16", len(scans))
		}
	}
}

// FuzzFramer_Lines checks the Framer against a plain reference: with an LF
// terminator and no idle timeout, however the bytes are cut into reads,
// the scans are exactly the non-empty lines that are short enough and
// hold no control characters or invalid UTF-8, and each other non-empty
// line is one reject.
func FuzzFramer_Lines(f *testing.F) {
	f.Add("544256-439-856\nabc\n\n\x01x\nlast", uint8(4), []byte{1, 3})
	f.Add("ü\xff\n\r\n"+strings.Repeat("x", 20)+"\nok", uint8(8), []byte{2})
	f.Fuzz(func(t *testing.T, data string, maxLen uint8, cuts []byte) {
		cfg := FrameConfig{Terminator: TermLF, IdleTimeout: -1, MaxLen: int(maxLen%32) + 1}
		fr, err := NewFramer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		wantRejects := 0
		for _, line := range strings.Split(data, "\n") {
			switch {
			case line == "":
			case len(line) > cfg.MaxLen || checkText(line, TermLF) != "":
				wantRejects++
			default:
				want = append(want, line)
			}
		}
		var got []string
		gotRejects := 0
		collect := func(scans []Scan, rejs []error) {
			for _, s := range scans {
				got = append(got, s.Text)
			}
			gotRejects += len(rejs)
		}
		rest := []byte(data)
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if i < len(cuts) {
				n = min(n, int(cuts[i])%7+1)
			}
			collect(fr.Feed(rest[:n], at(i)))
			rest = rest[n:]
		}
		collect(fr.Flush(at(len(data) + 1)))
		if !slices.Equal(got, want) || gotRejects != wantRejects {
			t.Fatalf("Framer: scans %q and %d rejects; want %q and %d", got, gotRejects, want, wantRejects)
		}
	})
}
