package config

import (
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/pos"
)

func TestTillSettings(t *testing.T) {
	c, err := Parse("t.yaml", []byte(`till_id: t
till:
  time_zone: Europe/London
  rounding: nearest
  amount_barcode: 'SUM(\d+\.\d\d)'
  caps:
    types: {stamp: {per_day: 1, min_interval: 15s}}
    templates: {42: {per_day: 2}}
`))
	if err != nil {
		t.Fatalf("Parse = %v", err)
	}
	caps, err := c.Till.PosCaps()
	if err != nil {
		t.Fatal(err)
	}
	if caps.Location.String() != "Europe/London" || caps.ByType[apiclient.Stamp] != (pos.Cap{PerDay: 1, MinInterval: 15 * time.Second}) || caps.ByTemplate[42] != (pos.Cap{PerDay: 2}) {
		t.Errorf("PosCaps = %+v", caps)
	}
	if b, err := c.Till.AmountBarcodeParsed(); err != nil || b == nil {
		t.Errorf("AmountBarcodeParsed = %v, %v", b, err)
	}

	tests := []struct{ yaml, want string }{
		{"till: {time_zone: Mars/Olympus}", "line 1: till.time_zone"},
		{"till: {rounding: up}", "till.rounding"},
		{"till: {amount_barcode: 'SUM\\d+'}", "till.amount_barcode"},
		{"till: {caps: {types: {loyalty: {per_day: 1}}}}", "till.caps.types.loyalty"},
		{"till: {caps: {types: {stamp: {per_day: -1}}}}", "must not be negative"},
		{"till: {caps: {templates: {0: {per_day: 1}}}}", "till.caps.templates.0"},
	}
	for _, tt := range tests {
		_, err := Parse("t.yaml", []byte(tt.yaml+"\ntill_id: t\n"))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tt.yaml, err, tt.want)
		}
	}
}
