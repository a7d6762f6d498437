package main

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
)

// TestE2E_CapAcrossRestart: a stamp card capped at one stamp a day gets
// one; the next scans that day are refused at the till with the reason,
// also after a kill -9 and a restart (the count is the queue file's), and
// the day's report lists the applied scan and the refusals (issue 10).
func TestE2E_CapAcrossRestart(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, "dedupe_window: -1s\ntill: {caps: {types: {stamp: {per_day: 1}}}}\n")
	h.start()
	card := sandbox.DemoStampCard
	isOutcome := func(l logLine) bool { return l.Card == card && (l.Event == "applied" || l.Event == "refused") }
	h.scan(card)
	if l := h.waitEvent(30*time.Second, "the first stamp", isOutcome); l.Event != "applied" {
		t.Fatalf("first scan of the day: %s %q, want applied", l.Event, l.Message)
	}
	h.scan(card)
	if l := h.waitEvent(30*time.Second, "the second scan", isOutcome); l.Event != "refused" || !strings.Contains(l.Message, "already stamped today") {
		t.Fatalf("second scan: %s %q, want refused: already stamped today", l.Event, l.Message)
	}
	h.kill()
	h.start()
	h.scan(card)
	if l := h.waitEvent(30*time.Second, "the scan after a restart", isOutcome); l.Event != "refused" {
		t.Fatalf("after a restart: %s %q, want refused", l.Event, l.Message)
	}
	if c, _ := h.sb.API.Card(card); c.Balance.CurrentNumberOfUses != 8 {
		t.Errorf("stamps = %v, want 7 + 1", c.Balance.CurrentNumberOfUses)
	}

	var out bytes.Buffer
	if err := run(t.Context(), []string{"report", "-c", h.config, "--format", "csv"}, strings.NewReader(""), &out, &out,
		func(string) string { return "" }); err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(rows) != 4 {
		t.Fatalf("report = %q, %v; want the header and 3 scans", rows, err)
	}
	if rows[1][6] != "applied" || rows[2][6] != "refused" || rows[3][6] != "refused" || !strings.Contains(rows[2][7], "already stamped today") {
		t.Errorf("report rows = %q; want applied, then two refusals with the reason", rows[1:])
	}
}

// TestE2E_AmountBarcode: the POS's amount barcode (GS1, amount payable
// 12.50) scanned before a cashback card gives it its purchase sum; the API
// takes whole amounts, so it is rounded by till.rounding (nearest: 13) and
// the cashier's line says what counted (issue 10).
func TestE2E_AmountBarcode(t *testing.T) {
	h := newHarness(t, sandbox.Options{}, "till: {amount_barcode: gs1, rounding: nearest}\n")
	h.start()
	card := sandbox.DemoCashbackCard
	h.scan("(8020)4711(3902)001250")
	h.waitEvent(30*time.Second, "the amount taken", func(l logLine) bool { return l.Event == "mode" && strings.Contains(l.Message, "12.50") })
	h.scan(card)
	l := h.waitEvent(30*time.Second, "the cashback", func(l logLine) bool { return l.Card == card && (l.Event == "applied" || l.Event == "refused") })
	if l.Event != "applied" || !strings.Contains(l.Message, "purchase of 12.50 added (13 counted)") {
		t.Fatalf("cashback after the amount barcode: %s %q, want applied: purchase of 12.50 added (13 counted)", l.Event, l.Message)
	}
	if c, _ := h.sb.API.Card(card); c.Balance.Balance != 13.15 {
		t.Errorf("cashback balance = %v, want 12.50 + 5%% of 13", c.Balance.Balance)
	}
}
