package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Subscription is one client's stream of events.
type Subscription interface {
	// Next waits for the next event. It returns ctx's error when ctx
	// ends, and another error when the stream ended (e.g. the client fell
	// behind and the daemon dropped it); its text is shown to the client.
	Next(ctx context.Context) (Event, error)
	// Close ends the subscription; safe to call more than once.
	Close()
}

// KindGap is the kind of the event a resumed stream gets in place of
// events the daemon no longer remembers; its Seq is the last one missed.
const KindGap = "gap"

// MaxStreams is how many event streams the server serves at once; one
// more is answered 503.
const MaxStreams = 16

// keepaliveEvery is how often an idle event stream gets a comment line,
// so proxies and clients see it alive.
const keepaliveEvery = 15 * time.Second

// events streams events as server-sent events until the client leaves or
// the stream ends; an ended stream gets a final "end" event saying why. A
// client that reconnects with Last-Event-ID (browsers do) or
// ?last_event_id= gets what it missed first.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	after, ok := lastEventID(r)
	if !ok {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Error: "Last-Event-ID: want the id (a number) of the last event received"})
		return
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Error: fmt.Sprintf("too many event streams open (at most %d): close one and try again", MaxStreams)})
		return
	}
	sub := s.b.Subscribe(after)
	defer sub.Close()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	for {
		ctx, cancel := context.WithTimeout(r.Context(), keepaliveEvery)
		ev, err := sub.Next(ctx)
		cancel()
		switch {
		case r.Context().Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded):
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return
			}
		case err != nil:
			b, _ := json.Marshal(ErrorBody{Code: CodeStreamEnded, Error: err.Error()}) // cannot fail: two strings
			fmt.Fprintf(w, "event: end\ndata: %s\n\n", b)
			fl.Flush()
			return
		default:
			b, err := json.Marshal(ev)
			if err != nil {
				s.log.Error().Err(err).Msg("encode event")
				continue
			}
			if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", ev.Seq, b); err != nil {
				return
			}
		}
		fl.Flush()
	}
}

// lastEventID is where a reconnecting client left off: the Last-Event-ID
// header, else the last_event_id parameter (for clients that cannot set
// headers); 0 when neither is set.
func lastEventID(r *http.Request) (uint64, bool) {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	if v == "" {
		return 0, true
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	return n, err == nil
}
