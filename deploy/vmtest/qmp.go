package vmtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"time"
)

// QMP speaks QEMU's Machine Protocol: one JSON object per line over a
// socket. A command's reply is {"return": …} or {"error": {…}}; asynchronous
// {"event": …} lines may come at any time and are kept for waitEvent. It is
// used by one goroutine at a time.
type QMP struct {
	conn   net.Conn
	r      *bufio.Reader
	events []QMPEvent // read while waiting for something else
}

// QMPEvent is one asynchronous QMP event.
type QMPEvent struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// QMPError is a command's {"error": …} reply.
type QMPError struct {
	Command string
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

func (e *QMPError) Error() string {
	return fmt.Sprintf("qmp: %s: %s: %s", e.Command, e.Class, e.Desc)
}

type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *QMPError       `json:"error"`
	QMPEvent
}

// newQMP reads the greeting on conn and enters command mode
// (qmp_capabilities). The client owns conn from then on.
func newQMP(ctx context.Context, conn net.Conn) (*QMP, error) {
	q := &QMP{conn: conn, r: bufio.NewReader(conn)}
	m, err := q.read(ctx)
	if err != nil {
		return nil, fmt.Errorf("qmp: greeting: %w", err)
	}
	if m.QMP == nil {
		return nil, fmt.Errorf("qmp: first message is not a greeting")
	}
	if _, err := q.Execute(ctx, "qmp_capabilities", nil); err != nil {
		return nil, err
	}
	return q, nil
}

// Close closes the connection.
func (q *QMP) Close() error { return q.conn.Close() }

// Execute runs one command and returns its "return" value.
func (q *QMP) Execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": command}
	if args != nil {
		req["arguments"] = args
	}
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("qmp: %s: %w", command, err)
	}
	if err := q.deadline(ctx); err != nil {
		return nil, err
	}
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("qmp: send %s: %w", command, err)
	}
	for {
		m, err := q.read(ctx)
		if err != nil {
			return nil, fmt.Errorf("qmp: %s: %w", command, err)
		}
		switch {
		case m.Error != nil:
			m.Error.Command = command
			return nil, m.Error
		case m.Return != nil:
			return m.Return, nil
		case m.Event != "":
			q.events = append(q.events, m.QMPEvent)
		}
	}
}

// WaitEvent returns the first event named name for which match returns
// true (match may be nil), including events that arrived during earlier
// commands. The event is consumed.
func (q *QMP) WaitEvent(ctx context.Context, name string, match func(json.RawMessage) bool) (QMPEvent, error) {
	ok := func(e QMPEvent) bool { return e.Event == name && (match == nil || match(e.Data)) }
	if i := slices.IndexFunc(q.events, ok); i >= 0 {
		e := q.events[i]
		q.events = slices.Delete(q.events, i, i+1)
		return e, nil
	}
	for {
		m, err := q.read(ctx)
		if err != nil {
			return QMPEvent{}, fmt.Errorf("qmp: waiting for event %s: %w", name, err)
		}
		if m.Event == "" {
			continue // a reply to no command of ours
		}
		if ok(m.QMPEvent) {
			return m.QMPEvent, nil
		}
		q.events = append(q.events, m.QMPEvent)
	}
}

// KeyStroke is one key press as QEMU qcodes held together, modifiers
// first. QEMU's usb-kbd turns each qcode into the USB usage of that key
// position (qcode "q" is usage 0x14, whatever the guest thinks the key
// means).
type KeyStroke []string

// SendKeys types strokes: each stroke's keys pressed in order, then
// released in reverse order, one key event per command, calling after once
// each event was sent. QEMU's usb-kbd queues only 16 key events and turns
// one into an input report per guest poll, so unpaced typing loses keys:
// after should wait until the guest has seen the event (or at least pause).
func (q *QMP) SendKeys(ctx context.Context, strokes []KeyStroke, after func(context.Context) error) error {
	for _, s := range strokes {
		for i := range 2 * len(s) {
			down := i < len(s)
			key := s[min(i, 2*len(s)-1-i)] // presses in order, releases reversed
			if err := q.keyEvent(ctx, key, down); err != nil {
				return err
			}
			if err := after(ctx); err != nil {
				return fmt.Errorf("qmp: after key %s down=%t: %w", key, down, err)
			}
		}
	}
	return nil
}

func (q *QMP) keyEvent(ctx context.Context, qcode string, down bool) error {
	type key struct {
		Type string `json:"type"`
		Data string `json:"data"`
	}
	type keyEvent struct {
		Down bool `json:"down"`
		Key  key  `json:"key"`
	}
	type event struct {
		Type string   `json:"type"`
		Data keyEvent `json:"data"`
	}
	ev := event{Type: "key", Data: keyEvent{Down: down, Key: key{Type: "qcode", Data: qcode}}}
	// No "device" argument: it names a display console, not the usb-kbd.
	_, err := q.Execute(ctx, "input-send-event", map[string]any{"events": []event{ev}})
	return err
}

func (q *QMP) read(ctx context.Context) (qmpMessage, error) {
	if err := q.deadline(ctx); err != nil {
		return qmpMessage{}, err
	}
	// A cancelled ctx without a deadline must end a blocked read too.
	stop := context.AfterFunc(ctx, func() { q.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	line, err := q.r.ReadBytes('\n')
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return qmpMessage{}, fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return qmpMessage{}, err
	}
	var m qmpMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return qmpMessage{}, fmt.Errorf("bad message %q: %w", line, err)
	}
	return m, nil
}

// deadline maps ctx's deadline onto the connection; a context without one
// still ends reads through the test's overall timeout.
func (q *QMP) deadline(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, _ := ctx.Deadline()
	return q.conn.SetDeadline(d)
}
