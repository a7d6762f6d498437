package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// FuzzRequest sends arbitrary methods, paths and bodies to the handler:
// whatever comes in, the answer is a JSON body with a status below 500
// (no fault is injected here), and nothing panics.
func FuzzRequest(f *testing.F) {
	f.Add("POST", "/cards/544256-439-856/add-stamp", `{"stamps": 1, "comment": "x"}`)
	f.Add("POST", "/cards/612001-100-207/receive-reward", `{"id": 901}`)
	f.Add("POST", "/cards/612001-100-206/set-membership-tier", `{"period": "day", "tierId": 801}`)
	f.Add("POST", "/cards/612001-100-203/redeem-coupon", ``)
	f.Add("POST", "/cards/612001-100-201/add-transaction-amount", `{"amount": -1e400}`)
	f.Add("PATCH", "/customers/x", `{"id": "x", "gender": 99}`)
	f.Add("GET", "/operations?page=-1&itemsPerPage=1e9", ``)
	f.Add("POST", "/pushes", `{"message": "", "templateId": null}`)
	f.Add("POST", "/cards", `{"customerId": 5, "templateId": "1"}`)
	f.Add("DELETE", "/cards/%2F..%2F", `[]`)
	a, err := sandbox.New(sandbox.Options{RateLimit: -1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if !validMethod(method) || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") {
			return
		}
		r, err := http.NewRequest(method, "http://sandbox/api/v2"+path, strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("x-api-key", sandbox.DemoAPIKey)
		w := httptest.NewRecorder()
		a.ServeHTTP(w, r)
		if w.Code == http.StatusTemporaryRedirect || w.Code == http.StatusMovedPermanently {
			return // ServeMux canonicalising a path such as "/cards/./x"
		}
		if w.Code >= 500 || !json.Valid(w.Body.Bytes()) {
			t.Fatalf("%s %s %q = %d %s, want a JSON answer below 500", method, path, body, w.Code, w.Body)
		}
	})
}

func validMethod(m string) bool {
	switch m {
	case "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS":
		return true
	}
	return false
}
