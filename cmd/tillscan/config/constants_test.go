package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/pos"
	"github.com/tillscan/tillscan/scanner"
	"github.com/tillscan/tillscan/scanner/hid"
)

// TestEveryConstantAccepted walks every value the packages define through
// the config loader: a list kept in config would fall behind the packages
// (it did: mechanics "limited" was refused, till ids of 33 to 64 characters
// too).
func TestEveryConstantAccepted(t *testing.T) {
	var cases []string
	for _, term := range scanner.Terminators() {
		cases = append(cases, fmt.Sprintf("scanners: [{type: stdin, terminator: %s}]", term))
	}
	for _, l := range hid.Layouts() {
		cases = append(cases, fmt.Sprintf("scanners: [{type: stdin, pass_layout: %s}]", l))
	}
	for _, m := range hid.Modes() {
		if _, err := hid.ParseMode(string(m)); err != nil {
			t.Errorf("hid.ParseMode(%q): %v", m, err)
		}
	}
	for i, mech := range pos.KnownMechanics() {
		cases = append(cases, fmt.Sprintf("templates: {%d: {mechanics: %s}}", i+1, mech))
	}
	for _, ct := range apiclient.CardTypes() {
		cases = append(cases, fmt.Sprintf("rules: {%s: {action: %s}}", ct, firstMethodFor(ct)))
	}
	for _, m := range apiclient.Methods() {
		for _, ct := range apiclient.CardTypes() {
			if m.AppliesTo(ct) {
				cases = append(cases, fmt.Sprintf("modes: {m: {barcode: M, rules: {%s: {action: %s}}}}", ct, m))
			}
		}
	}
	cases = append(cases,
		"till_id: "+strings.Repeat("t", 64), // pos.ValidTillID allows 64
		"templates: {7: {mechanics: limited}}",
	)
	for _, src := range cases {
		if !strings.HasPrefix(src, "till_id:") {
			src = "till_id: t\n" + src
		}
		if _, err := Parse("t.yaml", []byte(src+"\n")); err != nil {
			t.Errorf("Parse(%q): %v", src, err)
		}
	}
}

func firstMethodFor(ct apiclient.CardType) apiclient.Method {
	for _, m := range apiclient.Methods() {
		if m.AppliesTo(ct) {
			return m
		}
	}
	return ""
}

// TestConfigAgreesWithPos: the two rules config used to keep its own copy
// of, and got wrong.
func TestConfigAgreesWithPos(t *testing.T) {
	tests := []struct {
		name, src string
		ok        bool
	}{
		{"till id of 33 characters", "till_id: " + strings.Repeat("a", 33), true},
		{"till id of 64 characters", "till_id: " + strings.Repeat("a", 64), true},
		{"till id of 65 characters", "till_id: " + strings.Repeat("a", 65), false},
		{"mechanics limited", "till_id: t\ntemplates: {7: {mechanics: limited}}", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tt.src+"\n"))
			if (err == nil) != tt.ok {
				t.Fatalf("Parse = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
