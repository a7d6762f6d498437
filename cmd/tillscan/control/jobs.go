package control

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
)

// Operator is the queue's operator view, for `tillscan queue` and
// `tillscan report` while the daemon holds the queue file. Client implements it over HTTP, and
// cmd/tillscan implements it on the queue file. Errors are marked with
// NotFound or Conflict where the caller can branch.
type Operator interface {
	QueueStats(ctx context.Context) (QueueStats, error)
	ListJobs(ctx context.Context, req ListRequest) ([]Job, error)
	GetJob(ctx context.Context, id string) (Job, error)
	RetryJob(ctx context.Context, id string) error
	DropJob(ctx context.Context, id string, req DropRequest) error
	ResolveJob(ctx context.Context, id string, req ResolveRequest) error
	ExportJobs(ctx context.Context, w io.Writer) error
	CheckQueue(ctx context.Context) error
	// CardTypes reads the card cache kept in the queue's file.
	CardTypes(ctx context.Context) (CardTypes, error)
}

func (s *Server) routeJobs(mux *http.ServeMux) {
	if s.op == nil {
		return
	}
	mux.HandleFunc("GET /api/v1/queue", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.op.QueueStats(r.Context())
		answer(w, v, err)
	})
	mux.HandleFunc("GET /api/v1/queue/check", func(w http.ResponseWriter, r *http.Request) {
		answer(w, OK{OK: "queue is consistent"}, s.op.CheckQueue(r.Context()))
	})
	mux.HandleFunc("GET /api/v1/queue/export", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson")
		if err := s.op.ExportJobs(r.Context(), w); err != nil {
			s.log.Error().Err(err).Msg("export queue")
		}
	})
	mux.HandleFunc("GET /api/v1/cards/types", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.op.CardTypes(r.Context())
		answer(w, v.bounded(MaxCardTypes), err)
	})
	mux.HandleFunc("GET /api/v1/jobs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		req := ListRequest{State: q.Get("state"), After: q.Get("after")}
		if l := q.Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 0 || n > MaxList {
				writeJSON(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Error: "limit: want a number from 1 to " + strconv.Itoa(MaxList)})
				return
			}
			req.Limit = n
		}
		v, err := s.op.ListJobs(r.Context(), req)
		answer(w, v, err)
	})
	mux.HandleFunc("GET /api/v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		v, err := s.op.GetJob(r.Context(), r.PathValue("id"))
		answer(w, v, err)
	})
	mux.HandleFunc("POST /api/v1/jobs/{id}/retry", func(w http.ResponseWriter, r *http.Request) {
		answer(w, OK{OK: "job will be sent again"}, s.op.RetryJob(r.Context(), r.PathValue("id")))
	})
	mux.HandleFunc("POST /api/v1/jobs/{id}/drop", func(w http.ResponseWriter, r *http.Request) {
		var body DropRequest
		if !decode(w, r, &body, `{"reason": "why"}`) {
			return
		}
		answer(w, OK{OK: "job dropped (kept as a tombstone)"}, s.op.DropJob(r.Context(), r.PathValue("id"), body))
	})
	mux.HandleFunc("POST /api/v1/jobs/{id}/resolve", func(w http.ResponseWriter, r *http.Request) {
		var body ResolveRequest
		if !decode(w, r, &body, `{"applied": true, "note": "what you checked"}`) {
			return
		}
		if body.Applied == nil {
			writeJSON(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Error: `say whether the job was applied: {"applied": true|false}`})
			return
		}
		answer(w, OK{OK: "job resolved"}, s.op.ResolveJob(r.Context(), r.PathValue("id"), body))
	})
}

// answer writes v, or err with the status code its class calls for.
func answer[T any](w http.ResponseWriter, v T, err error) {
	// The operator reads these answers, so the queue's own words stay.
	code, class := http.StatusOK, ""
	switch {
	case err == nil:
		writeJSON(w, code, v)
		return
	case errors.Is(err, ErrNotFound):
		code, class = http.StatusNotFound, CodeNotFound
	case errors.Is(err, ErrConflict):
		code, class = http.StatusConflict, CodeConflict
	default:
		code, class = http.StatusInternalServerError, CodeInternal
	}
	writeJSON(w, code, ErrorBody{Code: class, Error: err.Error()})
}
