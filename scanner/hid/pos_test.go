package hid

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// honeywellReports splits data into 64-byte Honeywell HID POS reports.
func honeywellReports(aim string, data []byte) [][]byte {
	var out [][]byte
	for first := true; first || len(data) > 0; first = false {
		n := min(56, len(data))
		r := make([]byte, 64)
		r[0], r[1] = 0x02, byte(n)
		copy(r[2:5], aim)
		copy(r[5:], data[:n])
		r[61] = 's'
		data = data[n:]
		if len(data) > 0 {
			r[63] = 0x01
		}
		out = append(out, r)
	}
	return out
}

type posResult struct {
	data, sym string
}

func decodePOS(d *POSDecoder, reports [][]byte, start time.Time, gap time.Duration) []posResult {
	var out []posResult
	at := start
	for _, r := range reports {
		if data, sym, ok := d.Decode(r, at); ok {
			out = append(out, posResult{string(data), sym})
		}
		at = at.Add(gap)
	}
	return out
}

func TestPOSDecoder(t *testing.T) {
	hw, _ := POSFormatByName("honeywell")
	t0 := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	url := "https://shop.example/c/544256-439-856?with=a-long-query-string-to-need-two"
	binary := []byte{'A', 0x00, 0xFF, 0x1D, 'b', 0xC3, 0xA9}
	big := bytes.Repeat([]byte("x"), MaxScan+1)
	tests := []struct {
		name    string
		reports [][]byte
		gap     time.Duration
		want    []posResult
	}{
		{"one report", honeywellReports("]E0", []byte("4006381333931")), time.Millisecond,
			[]posResult{{"4006381333931", "]E0"}}},
		{"two reports joined (60-byte QR)", honeywellReports("]Q1", []byte(url)), time.Millisecond,
			[]posResult{{url, "]Q1"}}},
		{"binary data kept as bytes", honeywellReports("]Q1", binary), time.Millisecond,
			[]posResult{{string(binary), "]Q1"}}},
		{"trailing CR stripped once", honeywellReports("]C0", []byte("544256-439-856\r")), time.Millisecond,
			[]posResult{{"544256-439-856", "]C0"}}},
		{"no AIM id", honeywellReports("\x00\x00\x00", []byte("12")), time.Millisecond,
			[]posResult{{"12", ""}}},
		{"stale partial dropped, next scan whole",
			append(honeywellReports("]Q1", []byte(url))[:1], honeywellReports("]E0", []byte("1234"))...), time.Second,
			[]posResult{{"1234", "]E0"}}},
		{"longer than MaxScan dropped, next scan whole",
			append(honeywellReports("]Q1", big), honeywellReports("]E0", []byte("1234"))...), time.Millisecond,
			[]posResult{{"1234", "]E0"}}},
		{"other report IDs and short reports ignored",
			append([][]byte{{0x04, 1, 2}, {0x02}}, honeywellReports("]E0", []byte("9"))...), time.Millisecond,
			[]posResult{{"9", "]E0"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := decodePOS(NewPOSDecoder(hw, 0), tt.reports, t0, tt.gap)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d scans %q; want %q", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("scan %d = %q; want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// Two HID POS scanners sending multi-report scans at once keep apart.
func TestPOSDecoder_twoScannersInterleaved(t *testing.T) {
	hw, _ := POSFormatByName("")
	a := strings.Repeat("A", 130)
	b := strings.Repeat("b", 70)
	ra, rb := honeywellReports("]Q1", []byte(a)), honeywellReports("]d2", []byte(b))
	da, db := NewPOSDecoder(hw, 0), NewPOSDecoder(hw, 0)
	t0 := time.Now()
	var got []string
	for i := range max(len(ra), len(rb)) {
		if i < len(ra) {
			if d, _, ok := da.Decode(ra[i], t0); ok {
				got = append(got, string(d))
			}
		}
		if i < len(rb) {
			if d, _, ok := db.Decode(rb[i], t0); ok {
				got = append(got, string(d))
			}
		}
	}
	if len(got) != 2 || got[0] != b || got[1] != a {
		t.Errorf("got %q; want the 70-byte scan then the 130-byte scan", got)
	}
}

func TestPOSFormatByName(t *testing.T) {
	for _, name := range []string{"", "honeywell", "IDTECH", "microscan"} {
		if _, err := POSFormatByName(name); err != nil {
			t.Errorf("POSFormatByName(%q) = %v", name, err)
		}
	}
	if _, err := POSFormatByName("zebra"); err == nil || !strings.Contains(err.Error(), "microscan") {
		t.Errorf("POSFormatByName(zebra) = %v; want an error listing the formats", err)
	}
	for i, name := range POSFormats() {
		f, err := POSFormatByName(name)
		if err != nil || f.Name != name {
			t.Errorf("POSFormatByName(%q) = %+v, %v; want that format", name, f, err)
		}
		if def, _ := POSFormatByName(""); i == 0 && def.Name != name {
			t.Errorf("default format %q; want the first listed, %q", def.Name, name)
		}
	}
	ms, _ := POSFormatByName("microscan")
	r := make([]byte, 64)
	r[0], r[1] = 0x01, 3
	copy(r[2:], "abc")
	if data, sym, ok := NewPOSDecoder(ms, 0).Decode(r, time.Now()); !ok || string(data) != "abc" || sym != "" {
		t.Errorf("microscan Decode = %q, %q, %v; want abc", data, sym, ok)
	}
}

func FuzzPOSReports(f *testing.F) {
	for _, r := range honeywellReports("]Q1", bytes.Repeat([]byte("q"), 100)) {
		f.Add(byte(0), r)
	}
	f.Add(byte(1), []byte{0x02, 0xFF, ']', 'Q', '1'})
	f.Fuzz(func(t *testing.T, sel byte, data []byte) {
		format, _ := POSFormatByName([]string{"honeywell", "idtech", "microscan"}[int(sel)%3])
		d := NewPOSDecoder(format, time.Second)
		at := time.Unix(0, 0)
		size := 8 + int(sel>>2)%57 // 8..64-byte reports
		for len(data) > 0 {
			k := min(size, len(data))
			r := bytes.Clone(data[:k])
			if len(r) > 0 && sel&0x80 != 0 {
				r[0] = format.ReportID
			}
			got, sym, ok := d.Decode(r, at)
			if ok && (len(got) == 0 || len(got) > MaxScan) || len(sym) > 3 || len(d.buf) > MaxScan {
				t.Fatalf("Decode gave %d bytes, ok=%v, symbology %q, buffered %d", len(got), ok, sym, len(d.buf))
			}
			data = data[k:]
			at = at.Add(time.Duration(sel&3) * 400 * time.Millisecond)
		}
	})
}
