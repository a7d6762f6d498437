package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the POS endpoints: POST /api/v1/scans, /api/v1/undo and
// /api/v1/next, for POS software that hands tillscan a scan or the next
// scan's purchase sum. docs/pos-api.md is their contract.

// requireToken lets a request through only with the bearer token. With no
// token configured the POS endpoints are off: a loopback port is open to
// every program and user on the machine, so writes need a secret.
func (s *Server) requireToken(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.token == "" {
			writeJSON(w, http.StatusForbidden, ErrorBody{Code: CodeForbidden,
				Error: "the POS endpoints are off: set status.token_file in tillscan.yaml and restart tillscan"})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tillscan"`)
			writeJSON(w, http.StatusUnauthorized, ErrorBody{Code: CodeUnauthorized,
				Error: "send the token from status.token_file as: Authorization: Bearer <token>"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) scan(w http.ResponseWriter, r *http.Request) {
	answerPOS(s, w, r, `{"text": "544256-439-856", "scanner": "front"}`, func(ctx context.Context, body ScanRequest) (ScanResult, error) {
		if msg := checkScanText(body.Text); msg != "" {
			return ScanResult{}, &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: msg}
		}
		return s.b.Scan(ctx, body)
	})
}

func (s *Server) undo(w http.ResponseWriter, r *http.Request) {
	answerPOS(s, w, r, `{"scanner": "front"}`, s.b.Undo)
}

func (s *Server) next(w http.ResponseWriter, r *http.Request) {
	answerPOS(s, w, r, `{"mode": "redeem", "purchase_sum": 12.5, "scanner": "front"}`, func(_ context.Context, body NextRequest) (NextResult, error) {
		return s.b.SetNext(body)
	})
}

// answerPOS answers a POS request: its body decoded into a Req (example
// shows the shape wanted when it does not decode), handled by fn.
func answerPOS[Req, Res any](s *Server, w http.ResponseWriter, r *http.Request, example string, fn func(context.Context, Req) (Res, error)) {
	var body Req
	if !decode(w, r, &body, example) {
		return
	}
	res, err := fn(r.Context(), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// checkScanText says what is wrong with a posted scan's text, or "".
func checkScanText(text string) string {
	switch {
	case strings.TrimSpace(text) == "":
		return "text: the scanned text is missing"
	case len(text) > MaxScanText:
		return fmt.Sprintf("text: %d bytes; a scan is at most %d", len(text), MaxScanText)
	case !utf8.ValidString(text):
		return "text: not valid UTF-8"
	case strings.ContainsFunc(text, unicode.IsControl):
		return "text: control characters (a line break?) in it: post one scan per request, without its terminator"
	}
	return ""
}

// fail answers err: an *Error as it says, anything else as tillscan's own
// failure, logged here and not shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if errors.As(err, &e) {
		writeJSON(w, e.Status, ErrorBody{Code: e.Code, Error: e.Message})
		return
	}
	s.log.Error().Err(err).Str("path", r.URL.Path).Msg("control API request failed")
	writeJSON(w, http.StatusInternalServerError, ErrorBody{Code: CodeInternal, Error: "tillscan could not do this; its log has the detail (journalctl -u tillscan)"})
}

// decode reads a small JSON body into v, refusing unknown fields and
// trailing data; on failure it answers 400 with the shape wanted and
// returns false.
func decode(w http.ResponseWriter, r *http.Request, v any, want string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 2*MaxScanText))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	} else if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = errors.New("more than one JSON value")
		}
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Error: "body must be JSON like " + want + ": " + jsonProblem(err)})
		return false
	}
	return true
}

// jsonProblem says what is wrong with a body in the client's terms, not
// encoding/json's.
func jsonProblem(err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		big *http.MaxBytesError
	)
	switch {
	case errors.As(err, &big):
		return fmt.Sprintf("over %d bytes", big.Limit)
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return "not valid JSON"
	case errors.Is(err, io.EOF):
		return "the body is empty"
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "want a JSON object, got " + typ.Value
		}
		return fmt.Sprintf("%s: want a %s, got %s", typ.Field, jsonType(typ.Type.Kind().String()), typ.Value)
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return "unknown field " + f
	}
	return err.Error() // ours ("more than one JSON value")
}

// jsonType names a Go kind as JSON calls it.
func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "float"), strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "number"
	case kind == "bool":
		return "true or false"
	case kind == "ptr":
		return "number"
	}
	return kind
}
