package apiclient

import (
	"net"
	"net/http"
	"time"
)

// newTransport is the Client's own HTTP/1.1 transport.
//
// Silent re-sends by net/http: Transport.roundTrip re-sends a request on a new
// connection only when a *reused* keep-alive connection failed and either
// (a) nothing of the request was written (nothingWrittenError) — the server
// cannot have seen it, so re-sending even a POST is safe, and the body is
// rewound through Request.GetBody, which http.NewRequest sets for the
// *bytes.Reader the Client uses — or (b) the request is "replayable": GET,
// HEAD, OPTIONS, TRACE, or any method carrying an Idempotency-Key or
// X-Idempotency-Key header (net/http request.go isReplayable). The Client
// never sends those headers (the API has no idempotency key), so a POST that
// was written is never re-sent by net/http; a GET may be, which is harmless.
//
// HTTP/2 is not enabled (a custom DialContext turns off the automatic
// upgrade): HTTP/1.1's re-send rules above are the ones this package
// reasons about, and the few requests in flight at 10 req/s each take a
// kept-alive connection of their own.
//
// Whether a failed request was written is learned per attempt from
// httptrace's WroteRequest (see Client.once).
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment, // shop networks may need a proxy; loopback is never proxied
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSHandshakeTimeout: 5 * time.Second,
		// As many idle connections as the worker keeps requests in flight
		// (its bound, pos.MaxInFlight): a request that finds none opens a
		// new connection, a TCP and TLS handshake more on a slow line.
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		// Shorter than common server keep-alive timeouts (nginx: 75s), so
		// the client drops an idle connection before the server does: a POST
		// written into a connection the server is closing comes back as
		// ErrAmbiguous, which costs a reconciliation read.
		IdleConnTimeout: 30 * time.Second,
		// The per-request deadline (Config.Timeout) covers the whole exchange;
		// ResponseHeaderTimeout is left unset so a single clock decides.
	}
}
