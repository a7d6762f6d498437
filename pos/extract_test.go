package pos

import (
	"errors"
	"strings"
	"testing"
)

func TestExtractor_Card(t *testing.T) {
	junk := strings.Repeat("x7-ab%zz/", 4096/9) // 4 KiB of URL-ish junk, no card
	tests := []struct {
		name    string
		pattern string
		raw     string
		want    string
		wantErr error
	}{
		{"plain", "", "544256-439-856", "544256-439-856", nil},
		{"five digits", "", "54425-439-856", "54425-439-856", nil},
		{"spaces and CRLF", "", "  544256-439-856\r\n", "544256-439-856", nil},
		{"url path", "", "https://highlightcards.co.uk/c/544256-439-856", "544256-439-856", nil},
		{"url query", "", "https://x.example/scan?card=544256-439-856&utm=qr", "544256-439-856", nil},
		{"url fragment", "", "https://x.example/p#544256-439-856", "544256-439-856", nil},
		{"url query and path same number", "", "https://x.example/544256-439-856?id=544256-439-856", "544256-439-856", nil},
		{"percent-encoded dashes", "", "https://x.example/?c=544256%2D439%2D856", "544256-439-856", nil},
		{"url inside url", "", "https://r.example/?u=https%253A%252F%252Fx%252Fc%253D544256%252D439-856", "544256-439-856", nil},
		{"AIM prefix QR", "", "]Q1544256-439-856", "544256-439-856", nil},
		{"AIM prefix code128", "", "]C0544256-439-856", "544256-439-856", nil},
		{"STX ETX framing", "", "\x02544256-439-856\x03", "544256-439-856", nil},
		{"two numbers", "", "544256-439-856 612001-100-201", "", ErrNotCard},
		{"two numbers in url", "", "https://x/544256-439-856?c=612001-100-201", "", ErrNotCard},
		{"none", "", "5012345678900", "", ErrNotCard},
		{"empty", "", "", "", ErrNotCard},
		{"seven digits is not a card", "", "1544256-439-856", "", ErrNotCard},
		{"trailing digit is not a card", "", "544256-439-8561", "", ErrNotCard},
		{"4 KiB junk", "", junk, "", ErrNotCard},
		{"4 KiB junk around a card", "", junk + "/544256-439-856/" + junk, "544256-439-856", nil},
		{"custom pattern named group", `LOY(?P<card>\d{8})X`, "LOY12345678X", "12345678", nil},
		{"custom pattern named group in url", `[?&]c=(?P<card>[A-Z0-9]{6})`, "https://x/?a=1&c=AB12CD", "AB12CD", nil},
		{"custom pattern whole match", `\d{4}-\d{4}`, "id 1234-5678", "1234-5678", nil},
		{"custom pattern matching junk", `.+`, "a/b c", "", ErrNotCard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := NewExtractor(tt.pattern)
			if err != nil {
				t.Fatalf("NewExtractor(%q) = %v", tt.pattern, err)
			}
			got, err := e.Card(tt.raw)
			if got != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Errorf("Card(%.60q) = %q, %v; want %q, %v", tt.raw, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestExtractor_TwoCardsIsDistinct(t *testing.T) {
	e, _ := NewExtractor("")
	_, err := e.Card("544256-439-856 612001-100-201")
	if !errors.Is(err, errTwoCards) {
		t.Fatalf("Card(two numbers) = %v, want errTwoCards", err)
	}
	if _, err := e.Card("hello"); errors.Is(err, errTwoCards) {
		t.Fatalf("Card(no number) = %v, must not be errTwoCards", err)
	}
}

func TestNewExtractor_BadPattern(t *testing.T) {
	if _, err := NewExtractor(`(\d+`); err == nil || !strings.Contains(err.Error(), "card pattern") {
		t.Fatalf("NewExtractor(bad) = %v, want an error naming the card pattern", err)
	}
}

func TestCountMarker(t *testing.T) {
	m := Marker("t", "104")
	if m != "tillscan:t:104" {
		t.Fatalf("Marker = %q", m)
	}
	tests := []struct {
		comment string
		want    int
	}{
		{"tillscan:t:104", 1},
		{"tillscan:t:1042", 0}, // the prefix trap
		{"xtillscan:t:104", 0},
		{"tillscan:t:104 shop note", 1},
		{"note\ttillscan:t:104\n", 1},
		{"tillscan:t:104 tillscan:t:104", 2},
		{"tillscan:t:1040 tillscan:t:10", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := CountMarker(tt.comment, m); got != tt.want {
			t.Errorf("CountMarker(%q, %q) = %d, want %d", tt.comment, m, got, tt.want)
		}
	}
}

func TestValidTillID(t *testing.T) {
	for _, id := range []string{"till-2", "shop_1.front", "A"} {
		if err := ValidTillID(id); err != nil {
			t.Errorf("ValidTillID(%q) = %v, want nil", id, err)
		}
	}
	for _, id := range []string{"", "till 2", "till:2", "tïll", strings.Repeat("a", 65)} {
		if err := ValidTillID(id); err == nil {
			t.Errorf("ValidTillID(%q) = nil, want an error", id)
		}
	}
}
