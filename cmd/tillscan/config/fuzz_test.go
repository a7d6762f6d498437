package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzConfigParse: any bytes give a config or an error naming the file
// and, for a bad value, its key; never a panic, never a config that fails
// its own validation. Run: go test -fuzz FuzzConfigParse ./cmd/tillscan/config
func FuzzConfigParse(f *testing.F) {
	// Small seeds: the engine minimises each new input, which for the
	// 7 KB example config takes minutes.
	for _, s := range []string{
		minimal,
		"till_id: t\nscanners:\n  - {type: hid, vid: 0x0c2e, pid: 0x0b61, layout: uk, terminator: tab}\n",
		"till_id: t\ntemplates: {7: {mechanics: limited, action: subtract-visit}}\n",
		"till_id: t\nmodes: {redeem: {barcode: R, rules: {stamp: {action: subtract-stamp}}}}\n",
		"till_id: t\napi: {rate_limit: .nan, base_url: 'http://u@x/?q'}\n",
		"a: &a [x, x]\nb: &b [*a, *a]\ncomment: *b\n",
		"till_id: t\ndedupe_window: 10\n",
		"till_id: t\nscanners:\n  - {type: serial, path: /dev/ttyACM0, baud: 9600, parity: even, stop_bits: 2, feedback: {good: '1b 07'}}\n",
		"till_id: t\nrules:\n  cashback: {action: add-transaction-amount, quantity_from: purchase_sum}\n  reward: {action: receive-reward, reward_tier: 2}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("f.yaml", b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: f.yaml: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if fe, ok := errors.AsType[*FieldError](err); ok && fe.Key == "" {
				t.Fatalf("field error without a key: %v", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config its Validate refuses: %v", err)
		}
		if r := c.NeedsRestart(c); len(r) != 0 {
			t.Fatalf("a config differs from itself in %v", r)
		}
		_ = c.Warnings()
	})
}
