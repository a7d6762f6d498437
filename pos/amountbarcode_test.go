package pos

import (
	"strings"
	"testing"
	"time"
)

func TestAmountBarcode(t *testing.T) {
	sum, err := ParseAmountBarcode(`SUM(\d+\.\d\d)`)
	if err != nil {
		t.Fatal(err)
	}
	gs1, err := ParseAmountBarcode(AmountGS1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    *AmountBarcode
		in   string
		want string // "" means not an amount barcode
	}{
		{"pattern", sum, "SUM12.50", "12.50"},
		{"pattern matches the whole scan only", sum, "XSUM12.50", ""},
		{"pattern, not an amount", sum, "SUM12", ""},
		{"gs1 bracketed", gs1, "(3902)001250", "12.50"},
		{"gs1 bracketed with a slip reference", gs1, "(8020)4711(3902)001250", "12.50"},
		{"gs1 three decimals", gs1, "(3903)012500", "12.50"},
		{"gs1 no decimals", gs1, "(3900)20", "20"},
		{"gs1 GS1-128 as transmitted", gs1, "]C18020123456\x1d3902000599", "5.99"},
		{"gs1 with a GTIN first", gs1, "]C101095011010209173902002000", "20.00"},
		{"gs1 separator without identifier", gs1, "8020123\x1d3902000500", "5.00"},
		{"gs1 plain digits are a product's EAN", gs1, "3902001250", ""},
		{"gs1 card number", gs1, "544256-439-856", ""},
		{"gs1 without an amount", gs1, "(8020)4711", ""},
		{"gs1 unknown variable element", gs1, "]C110ABC\x1d3902001250", ""},
	}
	for _, tt := range tests {
		got, ok := tt.b.Amount(tt.in)
		if ok != (tt.want != "") || got != tt.want {
			t.Errorf("%s: Amount(%q) = %q, %v; want %q", tt.name, tt.in, got, ok, tt.want)
		}
	}
	for _, bad := range []string{`SUM\d+`, `(a)(b)`, `(`} {
		if _, err := ParseAmountBarcode(bad); err == nil {
			t.Errorf("ParseAmountBarcode(%q) = nil error", bad)
		}
	}
}

// TestTill_AmountBarcode: the POS's amount barcode, then the card: the
// card's job carries the sum; a bad amount is refused like a bad sum.
func TestTill_AmountBarcode(t *testing.T) {
	b, err := ParseAmountBarcode(AmountGS1)
	if err != nil {
		t.Fatal(err)
	}
	till, q, _ := newTestTill(t, TillConfig{AmountBarcode: b})
	if ev := till.Handle(scan("(8020)4711(3902)001250", 0)); ev.Kind != EventMode || !strings.Contains(ev.Message, "purchase 12.50") {
		t.Fatalf("amount barcode = %s %q, want the next scan's purchase 12.50", ev.Kind, ev.Message)
	}
	if ev := till.Handle(scan("612001-100-201", time.Second)); ev.Kind != EventSaved || q.scans[0].PurchaseSum == nil || *q.scans[0].PurchaseSum != 12.5 {
		t.Fatalf("card after the amount = %s %q, want saved with 12.50", ev.Kind, ev.Message)
	}
	if ev := till.Handle(scan("(3902)000000", 2*time.Second)); ev.Kind != EventRefused || ev.GoodRead() {
		t.Fatalf("amount 0.00 = %s %q, want refused (a bad read)", ev.Kind, ev.Message)
	}
}
