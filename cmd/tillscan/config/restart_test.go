package config

import (
	"reflect"
	"slices"
	"testing"
)

// TestEveryFieldClassified fails when a setting is added to Config without
// saying whether a reload applies it: reload would otherwise ignore a
// change to it without a word.
func TestEveryFieldClassified(t *testing.T) {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	seen := map[string]bool{}
	walkSettings(v, v, "", func(key string, how applied, _, _ reflect.Value) {
		seen[key] = true
		if how == unclassified {
			t.Errorf("setting %s is not classified: add it to reloadable in restart.go", key)
		}
	})
	for key := range reloadable {
		if !seen[key] {
			t.Errorf("reloadable lists %s, which is not a setting (renamed?)", key)
		}
	}
}

func TestNeedsRestart(t *testing.T) {
	base := "till_id: t\nmodes:\n  redeem: {barcode: R, rules: {stamp: {action: subtract-stamp}}}\n"
	tests := []struct {
		name, src string
		want      []string
	}{
		{"same", base, nil},
		{"rules and level apply on reload", base + "log: {level: debug}\nrules: {stamp: {action: add-stamp, quantity: 2}}\ncomment: hi\napi: {key_file: /k}\n", nil},
		{"mode rules apply on reload", "till_id: t\nmodes:\n  redeem: {barcode: R, rules: {coupon: {action: redeem-coupon}}}\n", nil},
		{"mode barcode needs restart", "till_id: t\nmodes:\n  redeem: {barcode: R2, rules: {stamp: {action: subtract-stamp}}}\n", []string{"modes (barcodes)"}},
		{"log format, retention and url", base + "log: {format: json}\nqueue: {retention: 1h}\napi: {base_url: 'https://example.com/api'}\n", []string{"api.base_url", "log.format", "queue"}},
		{"till id and scanners", "till_id: t2\nscanners: [{type: stdin}]\nmodes:\n  redeem: {barcode: R, rules: {stamp: {action: subtract-stamp}}}\n", []string{"scanners", "till_id"}},
	}
	old, err := Parse("old.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("new.yaml", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.NeedsRestart(old); !slices.Equal(got, tt.want) {
				t.Errorf("NeedsRestart = %q, want %q", got, tt.want)
			}
		})
	}
}
