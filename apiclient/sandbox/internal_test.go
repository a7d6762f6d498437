package sandbox

import (
	"context"
	"errors"
	"net"
	"testing"
)

func TestSleepCtx(t *testing.T) {
	if err := sleepCtx(t.Context(), 0); err != nil {
		t.Errorf("sleepCtx(0) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sleepCtx(ctx, 1<<62); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepCtx(cancelled, forever) = %v, want context.Canceled", err)
	}
}

// TestDialable checks wildcard listen addresses map to loopback (no
// listener needed: the test must not bind a non-loopback address).
func TestDialable(t *testing.T) {
	tests := []struct {
		requested string
		bound     net.Addr
		want      string
	}{
		{"127.0.0.1:0", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 4000}, "127.0.0.1:4000"},
		{"0.0.0.0:8080", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "127.0.0.1:8080"},
		{":8080", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "127.0.0.1:8080"},
		{"[::]:8080", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "[::1]:8080"},
		{"[::1]:0", &net.TCPAddr{IP: net.IPv6loopback, Port: 9}, "[::1]:9"},
	}
	for _, tt := range tests {
		if got := dialable(tt.requested, tt.bound); got != tt.want {
			t.Errorf("dialable(%q, %v) = %q, want %q", tt.requested, tt.bound, got, tt.want)
		}
	}
}
