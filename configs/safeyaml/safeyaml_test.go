package safeyaml

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// billionLaughs is the classic alias bomb (about 700 bytes): nine levels
// of nine aliases each, 10^9 strings once expanded.
func billionLaughs() string {
	var b strings.Builder
	b.WriteString("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n")
	for c := 'b'; c <= 'i'; c++ {
		p := string(c - 1)
		b.WriteString(string(c) + ": &" + string(c) + " [" + strings.TrimSuffix(strings.Repeat("*"+p+",", 9), ",") + "]\n")
	}
	b.WriteString("comment: *i\n")
	return b.String()
}

func TestCheckRefuses(t *testing.T) {
	tests := []struct {
		name, src string
		want      error
	}{
		{"billion laughs", billionLaughs(), ErrExpansion},
		{"nested brackets", strings.Repeat("[", 200_000), ErrTooDeep},
		{"nested braces in a value", "till_id: t\ncomment: " + strings.Repeat("{a: ", 100), ErrTooDeep},
		{"brackets after a word with an apostrophe", "comment: don't\nx: " + strings.Repeat("[", 1000), ErrTooDeep},
		{"brackets after a hash inside a word", "comment: a#b\nx: " + strings.Repeat("[", 1000), ErrTooDeep},
		{"entries on one line", strings.Repeat("- ", 100_000) + "x\n", ErrTooDeep},
		{"deep indentation", "a:\n" + strings.Repeat(" ", 300) + "b: 1\n", ErrTooDeep},
		{"too large", "comment: " + strings.Repeat("x", MaxBytes) + "\n", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v any
			err := Unmarshal([]byte(tt.src), &v)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unmarshal = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCheckAccepts(t *testing.T) {
	big := "cards:\n" + strings.Repeat("  - {id: 544256-439-856, type: stamp, balance: {stamps: 7}}\n", 5_000)
	for name, src := range map[string]string{"empty": "", "comment only": "# nothing\n", "large without aliases": big} {
		if err := (Limits{MaxBytes: 16 << 20}).Check([]byte(src)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestUnmarshalAccepts(t *testing.T) {
	type cfg struct {
		TillID  string            `yaml:"till_id"`
		Comment string            `yaml:"comment"`
		Rules   map[string]string `yaml:"rules"`
		Other   map[string]string `yaml:"other"`
	}
	tests := []struct{ name, src string }{
		{"plain", "till_id: t1\ncomment: \"it's [not] {nested}\"\n"},
		{"byte-order mark", "\uFEFFtill_id: t1\n"},
		{"a few aliases", "rules: &r {stamp: add-stamp, coupon: redeem-coupon}\nother: *r\ntill_id: t1\n"},
		{"quoted brackets", "till_id: t1\ncomment: '" + strings.Repeat("[", 500) + "'\n"},
		{"commented brackets", "till_id: t1 # " + strings.Repeat("[", 500) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c cfg
			if err := Unmarshal([]byte(tt.src), &c); err != nil || c.TillID != "t1" {
				t.Fatalf("Unmarshal = %+v, %v", c, err)
			}
		})
	}
}

// TestShippedFilesPass: the example config and seed stay within bounds.
func TestShippedFilesPass(t *testing.T) {
	for _, p := range []string{"../tillscan.yaml", "../sandbox-seed.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(b); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestDecoderPanicIsAnError: goccy/go-yaml v1.19.2 panics decoding a tag
// with no value into a slice (found by FuzzConfigParse); the file is
// refused instead.
func TestDecoderPanicIsAnError(t *testing.T) {
	var v struct {
		Scanners []struct{ Name string } `yaml:"scanners"`
	}
	if err := Unmarshal([]byte("scanners: ! "), &v); !errors.Is(err, ErrDecoder) {
		t.Fatalf("Unmarshal = %v, want %v", err, ErrDecoder)
	}
}
