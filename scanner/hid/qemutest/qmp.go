package qemutest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"time"
)

// qmpClient speaks QEMU's Machine Protocol: one JSON object per line over a
// socket. A command's reply is {"return": …} or {"error": {…}}; asynchronous
// {"event": …} lines may come at any time and are kept for waitEvent. It is
// used by one goroutine at a time.
type qmpClient struct {
	conn   net.Conn
	r      *bufio.Reader
	events []qmpEvent // read while waiting for something else
}

// qmpEvent is one asynchronous QMP event.
type qmpEvent struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// qmpError is a command's {"error": …} reply.
type qmpError struct {
	Command string
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

func (e *qmpError) Error() string {
	return fmt.Sprintf("qmp: %s: %s: %s", e.Command, e.Class, e.Desc)
}

type qmpMessage struct {
	QMP    json.RawMessage `json:"QMP"`
	Return json.RawMessage `json:"return"`
	Error  *qmpError       `json:"error"`
	qmpEvent
}

// newQMPClient reads the greeting on conn and enters command mode
// (qmp_capabilities). The client owns conn from then on.
func newQMPClient(ctx context.Context, conn net.Conn) (*qmpClient, error) {
	q := &qmpClient{conn: conn, r: bufio.NewReader(conn)}
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
func (q *qmpClient) Close() error { return q.conn.Close() }

// Execute runs one command and returns its "return" value.
func (q *qmpClient) Execute(ctx context.Context, command string, args any) (json.RawMessage, error) {
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
			q.events = append(q.events, m.qmpEvent)
		}
	}
}

// WaitEvent returns the first event named name for which match returns
// true (match may be nil), including events that arrived during earlier
// commands. The event is consumed.
func (q *qmpClient) WaitEvent(ctx context.Context, name string, match func(json.RawMessage) bool) (qmpEvent, error) {
	ok := func(e qmpEvent) bool { return e.Event == name && (match == nil || match(e.Data)) }
	if i := slices.IndexFunc(q.events, ok); i >= 0 {
		e := q.events[i]
		q.events = slices.Delete(q.events, i, i+1)
		return e, nil
	}
	for {
		m, err := q.read(ctx)
		if err != nil {
			return qmpEvent{}, fmt.Errorf("qmp: waiting for event %s: %w", name, err)
		}
		if m.Event == "" {
			continue // a reply to no command of ours
		}
		if ok(m.qmpEvent) {
			return m.qmpEvent, nil
		}
		q.events = append(q.events, m.qmpEvent)
	}
}

// SendKeys types strokes: each stroke's keys pressed in order, then
// released in reverse order, one key event per command, calling after once
// each event was sent. QEMU's usb-kbd queues only 16 key events and turns
// one into an input report per guest poll, so unpaced typing loses keys:
// after should wait until the guest has seen the event (or at least pause).
func (q *qmpClient) SendKeys(ctx context.Context, strokes []keyStroke, after func(context.Context) error) error {
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

func (q *qmpClient) keyEvent(ctx context.Context, qcode string, down bool) error {
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

func (q *qmpClient) read(ctx context.Context) (qmpMessage, error) {
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
func (q *qmpClient) deadline(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, _ := ctx.Deadline()
	return q.conn.SetDeadline(d)
}
