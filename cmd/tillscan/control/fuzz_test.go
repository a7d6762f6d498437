package control

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// FuzzRequestBodies: whatever a local program posts to the control API's
// write endpoints, the answer is 200, 400 or 404 with a JSON body, never a
// panic or a 500, and the backend only ever sees a decoded request.
// Run: go test -fuzz FuzzRequestBodies ./cmd/tillscan/control
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"text":"544256-439-856"}`, `{"text":"a\nb","scanner":"front"}`,
		`{"mode":"redeem","purchase_sum":12.5}`, `{"mode":""}`, `{"purchase_sum":-1}`, `{"purchase_sum":1e400}`,
		`{"mode":"bogus"}`, `{"mood":1}`, `{"reason":"x"}`, `{"applied":true,"note":"n"}`, `{"applied":null}`,
		`[]`, `null`, `{"mode":"a"}{"mode":"b"}`, strings.Repeat("[", 5000),
	} {
		f.Add(uint8(0), s)
		f.Add(uint8(1), s)
		f.Add(uint8(2), s)
		f.Add(uint8(3), s)
	}
	op := &fakeOperator{jobs: map[string]Job{"J1": {ID: "J1", State: "dead"}}}
	srv := New(&fakeBackend{}, op, zerolog.Nop())
	srv.SetToken(testToken)
	tcp, sock := srv.Handler(), srv.SocketHandler()
	paths := []string{"/api/v1/next", "/api/v1/jobs/J1/drop", "/api/v1/jobs/J1/resolve", "/api/v1/scans"}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		path := paths[int(which)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8765"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		h := tcp
		if strings.Contains(path, "/jobs/") {
			h = sock // the operator endpoints are on the socket only
		}
		h.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("POST %s %q = %d %s", path, body, w.Code, w.Body)
		}
		var v map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("POST %s %q: answer is not JSON: %q", path, body, w.Body)
		}
	})
}
