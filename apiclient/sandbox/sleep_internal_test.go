package sandbox

import (
	"context"
	"errors"
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
