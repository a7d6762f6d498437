package passthrough

import (
	"errors"
	"fmt"
	"sync"
)

// DefaultQueue is the number of scans a Typer holds waiting to be typed
// when NewTyper is given no size: at ~60 ms per EAN-13 about 4 s of typing,
// far more than a cashier scans ahead of the POS.
const DefaultQueue = 64

// ErrQueueFull is returned by Typer.Type when its queue holds its maximum:
// the scan is not typed (the POS does not get it) and the caller should say
// so. Earlier scans keep their place; the newest is the one refused, so
// what the POS receives stays in scan order with a gap the log names.
var ErrQueueFull = errors.New("passthrough: too many scans waiting to be typed; this one was not re-typed")

// keyTyper is the part of a Keyboard a Typer uses.
type keyTyper interface {
	Type(text, terminator string) error
	Close() error
}

// Typed is one scan queued on a Typer and, as reported, its outcome.
type Typed struct {
	Scanner    string // the scanner that read it, for the report; the Typer ignores it
	Text       string
	Terminator string // as Keyboard.Type takes it
	// Err is the outcome in a report: nil once the keys were typed,
	// ErrClosed if the Typer was closed before its turn, or why typing
	// failed.
	Err error
}

// Typer re-types scans on a Keyboard from a goroutine of its own, so that
// the goroutine reading a scanner never waits for the keys (2 ms per press
// and release: ~60 ms for an EAN-13, ~400 ms for a long QR code, while a
// HID device's input queue is short). Scans are typed one at a time, in the
// order Type accepted them.
//
// Create one with NewTyper; its goroutine runs until Close. A Typer is safe
// for concurrent use.
type Typer struct {
	kb     keyTyper
	report func(Typed)
	limit  int
	wake   chan struct{} // one slot: there is work or Close was called
	done   chan struct{} // closed when the goroutine has returned

	closeOnce sync.Once

	mu      sync.Mutex // guards what follows
	queue   []Typed    // accepted, not yet typed
	closing bool
}

// NewTyper starts a Typer that types on kb and owns it (Close closes kb).
// It holds at most size scans waiting (DefaultQueue if size <= 0). report,
// if not nil, is called with each accepted scan's outcome once it is known,
// on the Typer's goroutine, one call at a time and in order; it must not
// call Close.
func NewTyper(kb *Keyboard, size int, report func(Typed)) *Typer {
	return newTyper(kb, size, report)
}

func newTyper(kb keyTyper, size int, report func(Typed)) *Typer {
	if size <= 0 {
		size = DefaultQueue
	}
	if report == nil {
		report = func(Typed) {}
	}
	t := &Typer{kb: kb, report: report, limit: size, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go t.run()
	return t
}

// Type queues text and terminator (as Keyboard.Type takes them) to be typed
// and returns at once, as Queue does.
func (t *Typer) Type(text, terminator string) error {
	return t.Queue(Typed{Text: text, Terminator: terminator})
}

// Queue queues s to be typed and returns at once. It fails with
// ErrQueueFull when size scans are already waiting and with ErrClosed after
// Close; s is then not typed, and not reported.
func (t *Typer) Queue(s Typed) error {
	s.Err = nil
	t.mu.Lock()
	switch {
	case t.closing:
		t.mu.Unlock()
		return ErrClosed
	case len(t.queue) >= t.limit:
		t.mu.Unlock()
		return fmt.Errorf("%w (%d waiting)", ErrQueueFull, t.limit)
	}
	t.queue = append(t.queue, s)
	t.mu.Unlock()
	t.signal()
	return nil
}

func (t *Typer) signal() {
	select {
	case t.wake <- struct{}{}:
	default: // already signalled
	}
}

// run types queued scans until Close.
func (t *Typer) run() {
	defer close(t.done)
	for {
		t.mu.Lock()
		if t.closing {
			t.mu.Unlock()
			return
		}
		if len(t.queue) == 0 {
			t.mu.Unlock()
			<-t.wake
			continue
		}
		next := t.queue[0]
		t.queue[0] = Typed{}
		t.queue = t.queue[1:]
		t.mu.Unlock()
		next.Err = t.kb.Type(next.Text, next.Terminator)
		t.report(next)
	}
}

// Close stops the Typer after the scan being typed, if any, reports every
// scan still waiting with ErrClosed, and closes the keyboard. It waits for
// the goroutine to return. Later calls wait for the first and return nil.
func (t *Typer) Close() error {
	var err error
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closing = true
		t.mu.Unlock()
		t.signal()
		<-t.done
		t.mu.Lock()
		left := t.queue
		t.queue = nil
		t.mu.Unlock()
		for _, s := range left {
			s.Err = ErrClosed
			t.report(s)
		}
		err = t.kb.Close()
	})
	return err
}
