package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client talks to a running daemon's control API. It implements Operator.
type Client struct {
	base  string // e.g. http://127.0.0.1:8765
	hc    *http.Client
	token string // bearer token for the POS endpoints
}

// NewClient returns a Client for the daemon listening on addr (host:port),
// using hc (nil: http.DefaultClient; set a Timeout on your own).
func NewClient(addr string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: "http://" + addr, hc: hc}
}

// NewSocketClient returns a Client for the daemon's operator socket at
// path (the only way to the queue's operator endpoints), each request
// bounded by timeout (0: none).
func NewSocketClient(path string, timeout time.Duration) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns: 1,
	}
	return &Client{base: "http://tillscan", hc: &http.Client{Transport: tr, Timeout: timeout}}
}

// maxAnswer bounds what the client reads of one answer (an export is
// streamed, not bounded).
const maxAnswer = 64 << 20

// Status returns the daemon's state.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var st Status
	return st, c.call(ctx, http.MethodGet, "/api/v1/status", nil, &st)
}

// SetToken sets the bearer token sent with every request (the POS
// endpoints need it).
func (c *Client) SetToken(token string) { c.token = token }

// SetNext sets the mode and purchase sum of the next card scan.
func (c *Client) SetNext(ctx context.Context, req NextRequest) (NextResult, error) {
	var res NextResult
	return res, c.call(ctx, http.MethodPost, "/api/v1/next", req, &res)
}

// Undo takes back the last action for the last card scanned.
func (c *Client) Undo(ctx context.Context, req UndoRequest) (ScanResult, error) {
	var res ScanResult
	return res, c.call(ctx, http.MethodPost, "/api/v1/undo", req, &res)
}

// Scan hands the daemon a scan as if a scanner had read it.
func (c *Client) Scan(ctx context.Context, req ScanRequest) (ScanResult, error) {
	var res ScanResult
	return res, c.call(ctx, http.MethodPost, "/api/v1/scans", req, &res)
}

// QueueStats implements Operator.
func (c *Client) QueueStats(ctx context.Context) (QueueStats, error) {
	var st QueueStats
	return st, c.call(ctx, http.MethodGet, "/api/v1/queue", nil, &st)
}

// ListJobs implements Operator.
func (c *Client) ListJobs(ctx context.Context, req ListRequest) ([]Job, error) {
	q := url.Values{}
	if req.State != "" {
		q.Set("state", req.State)
	}
	if req.Limit != 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.After != "" {
		q.Set("after", req.After)
	}
	var jobs []Job
	return jobs, c.call(ctx, http.MethodGet, "/api/v1/jobs?"+q.Encode(), nil, &jobs)
}

// GetJob implements Operator.
func (c *Client) GetJob(ctx context.Context, id string) (Job, error) {
	var j Job
	return j, c.call(ctx, http.MethodGet, "/api/v1/jobs/"+url.PathEscape(id), nil, &j)
}

// RetryJob implements Operator.
func (c *Client) RetryJob(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodPost, "/api/v1/jobs/"+url.PathEscape(id)+"/retry", nil, nil)
}

// DropJob implements Operator.
func (c *Client) DropJob(ctx context.Context, id string, req DropRequest) error {
	return c.call(ctx, http.MethodPost, "/api/v1/jobs/"+url.PathEscape(id)+"/drop", req, nil)
}

// ResolveJob implements Operator.
func (c *Client) ResolveJob(ctx context.Context, id string, req ResolveRequest) error {
	return c.call(ctx, http.MethodPost, "/api/v1/jobs/"+url.PathEscape(id)+"/resolve", req, nil)
}

// CheckQueue implements Operator.
func (c *Client) CheckQueue(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/api/v1/queue/check", nil, nil)
}

// CardTypes implements Operator.
func (c *Client) CardTypes(ctx context.Context) (CardTypes, error) {
	var ct CardTypes
	return ct, c.call(ctx, http.MethodGet, "/api/v1/cards/types", nil, &ct)
}

// ExportJobs implements Operator: it copies the daemon's export to w as it
// arrives.
func (c *Client) ExportJobs(ctx context.Context, w io.Writer) error {
	resp, err := c.do(ctx, http.MethodGet, "/api/v1/queue/export", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("control: export: %w", err)
	}
	return nil
}

// call sends body (if not nil) as JSON and decodes a 200 answer into out
// (if not nil).
func (c *Client) call(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(out); err != nil {
		return fmt.Errorf("control: answer to %s %s: %w", method, path, err)
	}
	return nil
}

// do sends the request and turns an answer other than 200 into an error
// carrying the daemon's message once, classified by status code.
func (c *Client) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("control: %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err // *url.Error names the method and URL
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e ErrorBody
	msg := strings.TrimSpace(string(b))
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		msg = e.Error
	}
	answerErr := errors.New(msg)
	switch resp.StatusCode {
	case http.StatusNotFound:
		return nil, NotFound(answerErr)
	case http.StatusConflict:
		return nil, Conflict(answerErr)
	case http.StatusServiceUnavailable:
		return nil, classified{ErrUnavailable, answerErr}
	}
	return nil, fmt.Errorf("the daemon answered %s: %w", resp.Status, answerErr)
}
