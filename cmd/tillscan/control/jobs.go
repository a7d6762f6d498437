package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// Operator is the queue's operator view, for `tillscan queue` while the
// daemon holds the queue file. Results are JSON-encodable.
type Operator interface {
	QueueStats(ctx context.Context) (any, error)
	ListJobs(ctx context.Context, state string, limit int, after string) (any, error)
	GetJob(ctx context.Context, id string) (any, error)
	RetryJob(ctx context.Context, id string) error
	DropJob(ctx context.Context, id, reason string) error
	ResolveJob(ctx context.Context, id string, applied bool, note string) error
	ExportJobs(ctx context.Context, w io.Writer) error
	CheckQueue(ctx context.Context) error
}

// ErrNotFound is what an Operator returns (wrapped) for an unknown job id;
// the handler answers 404 for it.
var ErrNotFound = errors.New("control: no such job")

// ErrConflict is what an Operator returns (wrapped) when the job's state
// does not allow the change; the handler answers 409.
var ErrConflict = errors.New("control: not allowed in the job's state")

func (s *Server) routeJobs(mux *http.ServeMux) {
	if s.op == nil {
		return
	}
	mux.HandleFunc("GET /api/v1/queue", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.op.QueueStats(r.Context())
		s.answer(w, v, err)
	})
	mux.HandleFunc("GET /api/v1/queue/check", func(w http.ResponseWriter, r *http.Request) {
		s.answer(w, map[string]string{"ok": "queue is consistent"}, s.op.CheckQueue(r.Context()))
	})
	mux.HandleFunc("GET /api/v1/queue/export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		if err := s.op.ExportJobs(r.Context(), w); err != nil {
			s.log.Error().Err(err).Msg("export queue")
		}
	})
	mux.HandleFunc("GET /api/v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		v, err := s.op.ListJobs(r.Context(), r.URL.Query().Get("state"), limit, r.URL.Query().Get("after"))
		s.answer(w, v, err)
	})
	mux.HandleFunc("GET /api/v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.op.GetJob(r.Context(), r.PathValue("id"))
		s.answer(w, v, err)
	})
	mux.HandleFunc("POST /api/v1/jobs/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
		s.answer(w, map[string]string{"ok": "job will be sent again"}, s.op.RetryJob(r.Context(), r.PathValue("id")))
	})
	mux.HandleFunc("POST /api/v1/jobs/{id}/drop", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Reason string `json:"reason"`
		}
		if !decode(w, r, &body) {
			return
		}
		s.answer(w, map[string]string{"ok": "job dropped (kept as a tombstone)"}, s.op.DropJob(r.Context(), r.PathValue("id"), body.Reason))
	})
	mux.HandleFunc("POST /api/v1/jobs/{id}/resolve", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Applied *bool  `json:"applied"`
			Note    string `json:"note"`
		}
		if !decode(w, r, &body) {
			return
		}
		if body.Applied == nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "say whether the job was applied: {\"applied\": true|false}"})
			return
		}
		s.answer(w, map[string]string{"ok": "job resolved"}, s.op.ResolveJob(r.Context(), r.PathValue("id"), *body.Applied, body.Note))
	})
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad JSON body: " + err.Error()})
		return false
	}
	return true
}

func (s *Server) answer(w http.ResponseWriter, v any, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, v)
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrConflict):
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
}
