package apiclient

import (
	"errors"
	"fmt"
	"time"
)

// MaxKeyLen bounds an API key's length. Real keys are a few dozen
// characters; a longer one is a wrong file, and it would be sent in every
// request's header.
const MaxKeyLen = 1024

// CheckKey reports whether key can be used as the API key: not empty, at
// most MaxKeyLen bytes, printable ASCII (an HTTP header cannot carry
// anything else), spaces and tabs only inside. It is the one rule for a
// usable key: a Client refuses to send with a key it rejects, so
// configuration checks call it too. The error never quotes the key; it
// names the first offending byte's position and kind.
func CheckKey(key string) error {
	switch {
	case key == "":
		return errors.New("apiclient: the API key is empty")
	case len(key) > MaxKeyLen:
		return fmt.Errorf("apiclient: the API key is %d bytes long (at most %d): is it the right file?", len(key), MaxKeyLen)
	}
	for i := range len(key) {
		b := key[i]
		switch {
		case (b == ' ' || b == '\t') && (i == 0 || i == len(key)-1):
			return fmt.Errorf("apiclient: the API key starts or ends with a space or tab (byte %d): remove it", i+1)
		case b == ' ' || b == '\t':
		case b == '\r' || b == '\n':
			return fmt.Errorf("apiclient: the API key contains a line break (byte %d): the key file must hold the key alone, at most one trailing newline", i+1)
		case b < 0x20 || b == 0x7f:
			return fmt.Errorf("apiclient: the API key contains a control character (byte %d): an HTTP header cannot carry it", i+1)
		case b >= 0x80:
			return fmt.Errorf("apiclient: the API key contains a non-ASCII character (byte %d): an HTTP header cannot carry it; copy the key again from the vendor's dashboard", i+1)
		}
	}
	return nil
}

// SetAPIKey sets the key (at start, on reload) and always ends a pause
// caused by a refused key, even when key is the one refused: a reload is the
// operator saying "try again", e.g. after the vendor re-enabled the key. If
// the server still refuses it, the next request's 401 stops sending again,
// so a reload costs at most one request per call in flight. An unusable key
// (see CheckKey) makes every call fail with ErrUnauthorized without sending.
func (c *Client) SetAPIKey(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setKeyLocked(key, time.Now())
}

func (c *Client) setKeyLocked(key string, now time.Time) {
	was, same := c.refused, key == c.key
	c.key = key
	c.keyID = keyID(key)
	c.gen++
	c.refused, c.refusedAt = nil, time.Time{}
	if err := CheckKey(key); err != nil {
		c.refused, c.refusedAt = fmt.Errorf("%w: %w", err, ErrUnauthorized), now
		// Debug: the caller (config check, reload, the worker's event)
		// reports it; one journal record per event.
		c.log.Debug().Err(err).Msg("API key unusable; sending stopped until another key is set")
		return
	}
	switch {
	case was != nil && same:
		c.log.Debug().Msg("API key set again; sending resumed")
	case was != nil:
		c.log.Debug().Msg("API key changed; sending resumed")
	case !same:
		c.log.Debug().Msg("API key set; sending enabled")
	}
}

// credentials returns the key to send and its generation, or the error of a
// refused key without sending anything.
func (c *Client) credentials(op string) (string, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refused != nil {
		return "", 0, fmt.Errorf("apiclient: %s: not sent, the API key was refused (set it again or set another one): %w", op, c.refused)
	}
	return c.key, c.gen, nil
}

// refuse stops all sending after a 401/403, unless SetAPIKey was called
// since the refused request was sent.
func (c *Client) refuse(gen uint64, err *StatusError, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.refused != nil {
		return
	}
	c.refused, c.refusedAt = err, now
	// Debug: the worker publishes the refusal as an event, which is its one
	// journal record; Status reports it.
	c.log.Debug().Int("status", err.Status).Str("message", err.Message).
		Msg("API key refused; sending stopped until the key is set again")
}
