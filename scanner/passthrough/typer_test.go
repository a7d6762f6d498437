package passthrough

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// gatedKeys is a keyboard whose Type blocks until the test lets it go:
// started gets each text as its typing begins, release lets one finish.
type gatedKeys struct {
	started chan string
	release chan error

	mu     sync.Mutex // guards what follows
	typed  []string
	closes int
}

func newGatedKeys() *gatedKeys {
	return &gatedKeys{started: make(chan string, 100), release: make(chan error)}
}

func (g *gatedKeys) Type(text, terminator string) error {
	g.started <- text
	if err := <-g.release; err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.typed = append(g.typed, text+terminator)
	return nil
}

func (g *gatedKeys) Close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closes++
	return nil
}

// reports collects a Typer's reports on a channel.
func reports() (chan Typed, func(Typed)) {
	ch := make(chan Typed, 100)
	return ch, func(r Typed) { ch <- r }
}

func TestTyper_typesInOrderWithoutBlockingTheCaller(t *testing.T) {
	kb := newGatedKeys()
	got, report := reports()
	ty := newTyper(kb, 4, report)
	defer ty.Close()
	typeErr := errors.New("uinput: write: no such device")
	steps := []struct {
		text, term string
		err        error // what the keyboard answers
	}{
		{"5012345678900", "\r", nil},
		{"4006381333931", "\t", typeErr},
		{"https://x.example/p/1", "", nil},
	}
	// Every Type returns while the keyboard is still blocked on the first:
	// the caller (a scanner's read goroutine) never waits for keys.
	for _, s := range steps {
		if err := ty.Type(s.text, s.term); err != nil {
			t.Fatalf("Type(%q) = %v", s.text, err)
		}
	}
	for _, s := range steps {
		if text := <-kb.started; text != s.text {
			t.Fatalf("typing %q; want %q next", text, s.text)
		}
		kb.release <- s.err
		if r := <-got; r.Text != s.text || r.Terminator != s.term || !errors.Is(r.Err, s.err) {
			t.Errorf("report %+v; want %q %q %v", r, s.text, s.term, s.err)
		}
	}
	if want := []string{"5012345678900\r", "https://x.example/p/1"}; !slices.Equal(kb.typed, want) {
		t.Errorf("typed %q; want %q", kb.typed, want)
	}
}

// When size scans wait behind the one being typed, the next is refused at
// once with ErrQueueFull and never reported; those accepted are all typed.
func TestTyper_queueFull(t *testing.T) {
	const size = 3
	kb := newGatedKeys()
	got, report := reports()
	ty := newTyper(kb, size, report)
	defer ty.Close()
	if err := ty.Type("busy", ""); err != nil {
		t.Fatal(err)
	}
	<-kb.started // the goroutine holds "busy": the queue is empty again
	for i := range size {
		if err := ty.Type(fmt.Sprint("queued", i), ""); err != nil {
			t.Fatalf("Type(queued%d) = %v; want it accepted", i, err)
		}
	}
	if err := ty.Type("one too many", ""); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Type with %d waiting = %v; want ErrQueueFull", size, err)
	}
	want := []string{"busy", "queued0", "queued1", "queued2"}
	for i, text := range want {
		if i > 0 {
			<-kb.started
		}
		kb.release <- nil
		if r := <-got; r.Text != text || r.Err != nil {
			t.Errorf("report %d: %+v; want %q typed", i, r, text)
		}
	}
	if err := ty.Type("room again", ""); err != nil {
		t.Errorf("Type after the queue drained = %v", err)
	}
	<-kb.started
	kb.release <- nil
	<-got
}

// Close finishes the scan being typed, reports the waiting ones as not
// typed (ErrClosed), closes the keyboard once, and refuses later scans.
func TestTyper_Close(t *testing.T) {
	kb := newGatedKeys()
	got, report := reports()
	ty := newTyper(kb, 0, report)
	for _, text := range []string{"typing", "waiting1", "waiting2"} {
		if err := ty.Type(text, "\r"); err != nil {
			t.Fatal(err)
		}
	}
	<-kb.started
	closed := make(chan error, 1)
	go func() { closed <- ty.Close() }()
	// Let "typing" finish only once Close has taken effect; else the
	// goroutine could take "waiting1" first, as it may in real use.
	for !ty.isClosing() {
		runtime.Gosched()
	}
	kb.release <- nil
	if err := <-closed; err != nil {
		t.Fatalf("Close() = %v", err)
	}
	var outcome []string
	for range 3 {
		r := <-got
		outcome = append(outcome, fmt.Sprintf("%s:%v", r.Text, r.Err))
	}
	want := []string{"typing:<nil>", "waiting1:" + ErrClosed.Error(), "waiting2:" + ErrClosed.Error()}
	if !slices.Equal(outcome, want) {
		t.Errorf("reports %q; want %q", outcome, want)
	}
	if err := ty.Type("late", "\r"); !errors.Is(err, ErrClosed) {
		t.Errorf("Type after Close = %v; want ErrClosed", err)
	}
	if err := ty.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	if kb.closes != 1 {
		t.Errorf("keyboard closed %d times; want 1", kb.closes)
	}
	select {
	case r := <-got:
		t.Errorf("unexpected report after Close: %+v", r)
	default:
	}
}

func (t *Typer) isClosing() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closing
}

func TestTyper_idleClose(t *testing.T) {
	kb := newGatedKeys()
	ty := newTyper(kb, 0, nil)
	if err := ty.Close(); err != nil || kb.closes != 1 {
		t.Errorf("Close() of an idle Typer = %v, keyboard closed %d times; want nil, 1", err, kb.closes)
	}
}
