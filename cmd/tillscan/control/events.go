package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

// MaxStreams is how many event streams the server serves at once; one
// more is answered 503.
const MaxStreams = 16

// keepaliveEvery is how often an idle event stream gets a comment line,
// so proxies and clients see it alive.
const keepaliveEvery = 15 * time.Second

// events streams events as server-sent events until the client leaves or
// the stream ends; an ended stream gets a final "end" event saying why.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		writeJSON(w, http.StatusServiceUnavailable, ErrorBody{Error: fmt.Sprintf("too many event streams open (at most %d): close one and try again", MaxStreams)})
		return
	}
	sub := s.b.Subscribe()
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
			b, _ := json.Marshal(ErrorBody{Error: err.Error()}) // cannot fail: one string
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
