package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"
)

// errBodyLimit bounds what is read of a non-2xx answer: only its message is
// wanted.
const errBodyLimit = 64 << 10

// call is one API request: built once, sent up to Config.Tries times.
type call struct {
	op     string // for errors and logs, e.g. "add-stamp 544256-439-856"
	method string
	path   string     // escaped, relative to BaseURL, e.g. "/cards/544256-439-856"
	query  url.Values // nil: none
	body   any        // JSON-encoded once; nil: no body
	out    any        // the envelope's data is decoded into it; nil: ignored
	meta   *Meta      // the envelope's meta is decoded into it; nil: ignored
	// needData makes a missing or null data an ErrBadResponse.
	needData bool
}

// envelope is every answer's outer object (docs/api.md). Error answers
// carry message (and sometimes code) instead of data.
type envelope struct {
	ResponseID string          `json:"responseId"`
	CreatedAt  string          `json:"createdAt"`
	Code       int             `json:"code"`
	Data       json.RawMessage `json:"data"`
	Meta       *Meta           `json:"meta"`
	Message    string          `json:"message"`
}

// do sends the call through the limiter, re-sending it only while the
// answer proves it was not applied (not sent, 429), up to c.tries times.
func (c *Client) do(ctx context.Context, cl *call) error {
	var body []byte
	if cl.body != nil {
		var err error
		if body, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("apiclient: %s: encoding the body: %w: %w", cl.op, ErrRejected, err)
		}
	}
	var last error
	for try := range c.tries {
		if _, _, err := c.credentials(cl.op); err != nil {
			return err // refused key: fail fast, spend no token
		}
		waitStart := time.Now()
		seq, err := c.wait(ctx)
		if err != nil {
			if last != nil {
				return last // report the API's answer, not the cancellation
			}
			return fmt.Errorf("apiclient: %s: %w: waiting for the rate limiter: %w", cl.op, ErrNotSent, err)
		}
		c.observeWait(waitStart)
		err = c.once(ctx, cl, body, seq)
		if err == nil {
			return nil
		}
		switch se, _ := errors.AsType[*StatusError](err); {
		case !errors.Is(err, ErrNotSent) && !errors.Is(err, ErrRateLimited):
			return err // applied, rejected, unauthorised or ambiguous: the caller decides
		case ctx.Err() != nil:
			return err
		case se != nil && se.overCap:
			return err // the server wants a longer pause than we sleep: the caller's queue waits
		}
		last = err
		if try+1 == c.tries {
			break
		}
		c.log.Debug().Err(err).Int("try", try+1).Str("op", cl.op).Msg("not applied; sending again")
		if errors.Is(err, ErrNotSent) {
			// A 429 has already paused the Client (wait honours it); a
			// request that did not get out waits on its own.
			if sleep(ctx, backoff(try, c.backoffBase, c.backoffCap, rand.Float64())) != nil {
				return err
			}
		}
	}
	return last
}

// once sends the call one time and classifies the outcome.
func (c *Client) once(ctx context.Context, cl *call, body []byte, seq uint64) error {
	defer c.sent(seq)
	key, gen, err := c.credentials(cl.op)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// wrote is set once net/http has handed the whole request to the
	// connection (it may still sit in the write buffer: counting it as
	// written errs on the side of ErrAmbiguous). A write that failed part
	// way reports an error here: the server never got a complete request.
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
				c.wrote(seq, time.Now())
			}
		},
	})
	target := c.base + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, rd)
	if err != nil {
		return fmt.Errorf("apiclient: %s: %w: %w", cl.op, ErrRejected, err)
	}
	req.Header.Set("x-api-key", key) // canonicalised to X-Api-Key; header names are case-insensitive
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "tillscan")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sentAt := time.Now()
	resp, err := c.hc.Do(req)
	c.observeAnswer(cl, sentAt, resp)
	if err != nil {
		// *url.Error names the method and URL, never the headers; but
		// net/http quotes a malformed status line, which is server text.
		err = scrub(err, key)
		if wrote.Load() {
			return fmt.Errorf("apiclient: %s: %w: no answer after the request was sent: %w", cl.op, ErrAmbiguous, err)
		}
		return fmt.Errorf("apiclient: %s: %w: %w", cl.op, ErrNotSent, err)
	}
	defer resp.Body.Close()
	return c.answer(cl, resp, gen, key, seq)
}

// answer reads and classifies one HTTP answer.
func (c *Client) answer(cl *call, resp *http.Response, gen uint64, key string, seq uint64) error {
	status := resp.StatusCode
	ok := status >= 200 && status <= 299
	limit := c.maxBody
	if !ok {
		limit = min(limit, errBodyLimit)
	}
	data, rerr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if status != http.StatusTooManyRequests {
		c.answered(time.Now())
	}
	if ok {
		switch {
		case rerr != nil:
			return badResponse(cl.op, status, fmt.Errorf("reading the body: %w", scrub(rerr, key)))
		case int64(len(data)) > limit:
			return badResponse(cl.op, status, fmt.Errorf("body larger than %d bytes", limit))
		}
		var env envelope
		if len(bytes.TrimSpace(data)) == 0 {
			// 204 or an empty 200: fine where no data is needed (DELETE).
			return decodeData(cl, status, &env, key)
		}
		if err := json.Unmarshal(data, &env); err != nil {
			return badResponse(cl.op, status, fmt.Errorf("decoding the envelope: %w", scrub(err, key)))
		}
		if env.Code < 300 || env.Code > 599 {
			return decodeData(cl, status, &env, key)
		}
		// An HTTP 2xx whose envelope code names a failure: the code is
		// taken as the status, so a rejection inside a 200 is not mistaken
		// for an applied action (error bodies like {"code": 400,
		// "message": …} are reported: docs/api.md, "Envelope").
		status = env.Code
	}
	se := &StatusError{Op: cl.op, Status: status, Message: errorMessage(data, key)}
	se.Class = classify(status)
	if ok && se.Class == ErrRateLimited {
		// A 429 code inside an HTTP 2xx: the two disagree, so never take
		// it as "certainly not applied" (which would invite a re-send).
		se.Class = ErrAmbiguous
	}
	switch se.Class {
	case ErrRateLimited:
		se.RetryAfter, se.overCap = c.rateLimited(resp.Header, time.Now(), seq)
	case ErrUnauthorized:
		c.refuse(gen, se, time.Now())
	case ErrAmbiguous:
		if status == http.StatusServiceUnavailable {
			// 503 with Retry-After: the server asks everyone to hold off
			// (docs/api.md, "Errors"); the request itself stays
			// ambiguous.
			if ra, ok := parseRetryAfter(resp.Header, time.Now()); ok {
				c.pauseFor(time.Now(), min(ra, c.retryAfterCap), status)
			}
		}
	}
	return se
}

// classify maps an HTTP status to its outcome class.
func classify(status int) error {
	switch {
	case status == http.StatusTooManyRequests:
		return ErrRateLimited // refused before it was applied
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ErrUnauthorized
	case status == http.StatusBadRequest || status == http.StatusNotFound ||
		status == http.StatusConflict || status == http.StatusUnprocessableEntity:
		return ErrRejected
	case status == http.StatusRequestTimeout:
		// A proxy may send 408 after forwarding part of the exchange: may
		// have been applied.
		return ErrAmbiguous
	case status >= 400 && status <= 499:
		// 405, 410, 413, 415, 431…: the server refused the request as
		// formed; sending it again gives the same answer.
		return ErrRejected
	default:
		// 500/502/503/504, any other 5xx (CDN codes such as 520–524 are
		// sent when the origin may have processed the request), and 1xx or
		// 3xx answers (a redirect we refuse to follow; a 303 after a POST
		// even means "done"): only reconciliation can tell.
		return ErrAmbiguous
	}
}

// decodeData decodes a 2xx envelope's data and meta into the call's targets.
// A decoding error may quote the server's bytes: key is removed from it.
func decodeData(cl *call, status int, env *envelope, key string) error {
	if cl.out != nil {
		if len(env.Data) == 0 || string(env.Data) == "null" {
			if cl.needData {
				return badResponse(cl.op, status, errors.New("no data in the answer"))
			}
		} else if err := json.Unmarshal(env.Data, cl.out); err != nil {
			return badResponse(cl.op, status, fmt.Errorf("decoding data: %w", scrub(err, key)))
		}
	}
	if cl.meta != nil && env.Meta != nil {
		*cl.meta = *env.Meta
	}
	return nil
}

func badResponse(op string, status int, cause error) error {
	return fmt.Errorf("apiclient: %s: HTTP %d: %w (the request was applied): %w: %w", op, status, ErrBadResponse, ErrAmbiguous, cause)
}
