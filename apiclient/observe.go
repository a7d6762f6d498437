package apiclient

import (
	"net/http"
	"strings"
	"time"
)

// Observer is told what the Client's requests do, for metrics (Config.Observer).
// Its methods are called on the requesting goroutine, so they must be quick
// and must not block.
type Observer interface {
	// Waited reports how long a request waited before it could start: for
	// the rate limiter, a 429 or 503 pause, the shared limiter.
	Waited(d time.Duration)
	// Answered reports one request sent: its endpoint class, the HTTP
	// status of the answer (0 when none came: not sent, timed out, the
	// connection failed) and the time from sending it to its answer's
	// headers, or to the failure.
	Answered(e Endpoint, status int, d time.Duration)
}

// Endpoint is a class of API request, coarse enough to be a metric label.
type Endpoint string

// The endpoint classes.
const (
	EndpointCard       Endpoint = "card"       // GET /cards/{number}
	EndpointAction     Endpoint = "action"     // POST /cards/{number}/{action}: what changes a balance
	EndpointOperations Endpoint = "operations" // GET /operations: reconciliation reads
	EndpointOther      Endpoint = "other"      // everything else (lists, customers, templates, pushes)
)

// Endpoints returns every endpoint class, so a metric can export each one
// from the start.
func Endpoints() []Endpoint {
	return []Endpoint{EndpointCard, EndpointAction, EndpointOperations, EndpointOther}
}

// endpoint is the class of the call.
func (cl *call) endpoint() Endpoint {
	switch parts := strings.Split(strings.TrimPrefix(cl.path, "/"), "/"); {
	case parts[0] == "operations" && len(parts) == 1:
		return EndpointOperations
	case parts[0] != "cards" || len(parts) < 2:
		return EndpointOther
	case len(parts) == 2 && cl.method == http.MethodGet:
		return EndpointCard
	case len(parts) == 3 && cl.method == http.MethodPost:
		return EndpointAction
	}
	return EndpointOther
}

// observeWait tells the Observer, if any, how long a start waited.
func (c *Client) observeWait(since time.Time) {
	if c.obs != nil {
		c.obs.Waited(time.Since(since))
	}
}

// observeAnswer tells the Observer, if any, about one request sent at
// since; resp is nil when no answer came.
func (c *Client) observeAnswer(cl *call, since time.Time, resp *http.Response) {
	if c.obs == nil {
		return
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	c.obs.Answered(cl.endpoint(), status, time.Since(since))
}
