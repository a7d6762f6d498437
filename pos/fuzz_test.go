package pos

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/tillscan/tillscan/apiclient"
	"github.com/tillscan/tillscan/scanner"
)

// Fuzz targets for what a scanner can put in front of the till. A short
// run is part of CI; a long one, e.g.:
//
//	go test ./pos -run '^$' -fuzz '^FuzzExtract$' -fuzztime 1000000x

var wholeCard = regexp.MustCompile(`^` + DefaultCardPattern + `$`)

// FuzzExtract: whatever a scan holds, Card never panics; a card it returns
// is a whole card number that is in the scan (or in its percent-decoding),
// and scanning that number alone gives it back; every refusal is ErrNotCard.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"544256-439-856", "  544256-439-856\r\n", "https://highlightcards.co.uk/c/544256-439-856",
		"https://x.example/?c=544256%2D439%2D856", "https://r.example/?u=https%253A%252F%252Fx%252Fc%253D544256%252D439-856",
		"]Q1544256-439-856", "\x02544256-439-856\x03", "544256-439-856 612001-100-201", "5012345678900",
		"1544256-439-856", "544256-439-8561", "%%%25%2", "]Q", "", "54425-439-856", "544256‐439‐856",
	} {
		f.Add(s)
	}
	ex, err := NewExtractor("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		card, err := ex.Card(raw)
		if err != nil {
			if !errors.Is(err, ErrNotCard) || card != "" {
				t.Fatalf("Card(%q) = %q, %v; a refusal must be \"\" and ErrNotCard", raw, card, err)
			}
			return
		}
		if !wholeCard.MatchString(card) || apiclient.ValidCardNumber(card) != nil {
			t.Fatalf("Card(%q) = %q, not a card number", raw, card)
		}
		found := false
		for _, v := range variants(raw) {
			found = found || strings.Contains(v, card)
		}
		if !found {
			t.Fatalf("Card(%q) = %q, which is not in the scan", raw, card)
		}
		if again, err := ex.Card(card); again != card || err != nil {
			t.Fatalf("Card(%q) = %q, %v; want the number back", card, again, err)
		}
	})
}

// FuzzPurchaseSum: a sum ParsePurchaseSum accepts is a valid till amount
// (above 0, below MaxPurchaseSum, whole cents) equal to the decimal the
// text spells; anything else is ErrBadSum. It never panics.
func FuzzPurchaseSum(f *testing.F) {
	for _, s := range []string{"12.50", "12,5", "20", " 7.05 ", "0.001", "0", "-1", "1e3", "NaN", "Inf", "+Inf",
		"0x1p-2", "999999.99", "1000000", "1,000.00", ".5", "5.", "", "١٢", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParsePurchaseSum(s)
		if err != nil {
			if !errors.Is(err, ErrBadSum) || v != 0 {
				t.Fatalf("ParsePurchaseSum(%q) = %v, %v; a refusal must be 0 and ErrBadSum", s, v, err)
			}
			return
		}
		if !validSum(v) {
			t.Fatalf("ParsePurchaseSum(%q) = %v: not a till amount", s, v)
		}
		spelled, perr := strconv.ParseFloat(strings.Replace(strings.TrimSpace(s), ",", ".", 1), 64)
		if perr != nil || spelled != v {
			t.Fatalf("ParsePurchaseSum(%q) = %v, but the text spells %v (%v)", s, v, spelled, perr)
		}
		if back, err := ParsePurchaseSum(strconv.FormatFloat(v, 'f', 2, 64)); back != v || err != nil {
			t.Fatalf("ParsePurchaseSum(%.2f) = %v, %v; want %v back", v, back, err, v)
		}
	})
}

// FuzzCommand: any text scanned before a card. It never panics; text that
// starts like a command barcode is never saved nor passed on to the POS as
// "not a card"; only a saved scan or an understood command is a good read;
// and whatever it was, the next card scan is saved with either no sum or a
// valid one.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{"TILLSCAN:REDEEM", "tillscan:redeem", "TILLSCAN:SUM:12.50", "TILLSCAN:SUM:0.001",
		"TILLSCAN:SUM:-3", "TILLSCAN:SUM:NaN", "TILLSCAN:SUM:", "TILLSCAN:CANCEL", "TILLSCAN:REFUND", "TILLSCAN:",
		" TILLSCAN:SUM: 7,5 ", "TILLSCAN:SUM:1e308", "544256-439-856", "5012345678900", ""} {
		f.Add(s)
	}
	ex, err := NewExtractor("")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		q := &fakeEnqueuer{}
		till := NewTill(TillConfig{TillID: "till-1", DedupeWindow: -1, Extractor: ex}, q, NewFeed(4), nil, zerolog.Nop())
		at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		ev := till.Handle(scanner.Scan{Text: text, Scanner: "front", At: at})
		command := strings.HasPrefix(strings.ToUpper(strings.TrimSpace(text)), commandPrefix)
		switch {
		case command && ev.Kind != EventMode && ev.Kind != EventRefused:
			t.Fatalf("Handle(%q) = %s: a command barcode must set a mode or be refused", text, ev.Kind)
		case ev.GoodRead() != (ev.Kind == EventSaved || ev.Kind == EventMode):
			t.Fatalf("Handle(%q) = %s (err %q): GoodRead %v", text, ev.Kind, ev.Err, ev.GoodRead())
		case ev.Kind == EventRefused && (ev.Message == "" || ev.Err == ""):
			t.Fatalf("Handle(%q): refused without saying why: %+v", text, ev)
		case ev.Kind == EventSaved && !strings.Contains(text, q.scans[0].Card) && !strings.Contains(unescape(unescape(text)), q.scans[0].Card):
			t.Fatalf("Handle(%q) saved card %q, which is not in the scan", text, q.scans[0].Card)
		}
		next := till.Handle(scanner.Scan{Text: "612001-100-201", Scanner: "front", At: at.Add(time.Second)})
		if next.Kind != EventSaved {
			t.Fatalf("after %q, a card scan = %s %q; want saved", text, next.Kind, next.Message)
		}
		if sum := q.scans[len(q.scans)-1].PurchaseSum; sum != nil && !validSum(*sum) {
			t.Fatalf("after %q, the card was saved with sum %v", text, *sum)
		}
	})
}
