package apiclient

// CONTRACT STUB: the signatures below are fixed (package pos and cmd/tillscan
// build against them); the bodies are replaced by the real client.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/rs/zerolog"
)

// Config configures a Client. Zero fields mean the documented default.
type Config struct {
	BaseURL   string        // required, e.g. "https://api.highlightcards.co.uk/api/v2"
	APIKey    string        // required; sent as x-api-key, never logged or printed
	RateLimit float64       // requests per second for this key, every request counted; 0 means 10
	Burst     int           // limiter burst; 0 means 1
	Timeout   time.Duration // per request; 0 means 10s
	// HTTPClient is used if set (tests pass a loopback client); its
	// transport must not retry POSTs.
	HTTPClient *http.Client
}

// Client talks to the Highlight Cards API. It is safe for concurrent use and
// should be shared: one Client, one rate limiter per API key.
type Client struct{}

var errStub = errors.New("apiclient: not implemented")

// New returns a Client.
func New(cfg Config, log zerolog.Logger) (*Client, error) { return nil, errStub }

// GetCard returns the card with the given number (GET /cards/{number}).
func (c *Client) GetCard(ctx context.Context, number string) (*Card, error) { return nil, errStub }

// Apply sends one card action and returns the updated card.
func (c *Client) Apply(ctx context.Context, a Action) (*Card, error) { return nil, errStub }

// ListOperations returns one page of GET /operations.
func (c *Client) ListOperations(ctx context.Context, q OperationsQuery) ([]Operation, Meta, error) {
	return nil, Meta{}, errStub
}

// SetAPIKey replaces the key (on reload) and ends a pause caused by 401/403.
func (c *Client) SetAPIKey(key string) {}
