package config

import (
	"strings"
	"testing"
)

// The rate-sharing keys of api: adaptive is on unless turned off, and a
// shared limiter must be a redis:// URL.
func TestAPI_RateSharing(t *testing.T) {
	tests := []struct {
		src          string
		adaptive     bool
		shared, fail string
	}{
		{"", DefaultAdaptive, "", ""},
		{"api: {adaptive: false}", false, "", ""},
		{"api: {adaptive: true}", true, "", ""},
		{"api: {shared_limiter: redis://127.0.0.1:6379/0}", DefaultAdaptive, "redis://127.0.0.1:6379/0", ""},
		{"api: {shared_limiter: http://127.0.0.1:6379/0}", false, "", "api.shared_limiter"},
		{"api: {shared_limiter: redis://127.0.0.1:6379/x}", false, "", "api.shared_limiter"},
	}
	for _, tt := range tests {
		c, err := Parse("t.yaml", []byte(minimal+tt.src+"\n"))
		if tt.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tt.fail) {
				t.Errorf("%q: error %v; want one naming %s", tt.src, err, tt.fail)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.src, err)
			continue
		}
		if c.API.AdaptiveOn() != tt.adaptive || c.API.SharedLimiter != tt.shared {
			t.Errorf("%q: adaptive %v, shared %q; want %v, %q", tt.src, c.API.AdaptiveOn(), c.API.SharedLimiter, tt.adaptive, tt.shared)
		}
	}
}
