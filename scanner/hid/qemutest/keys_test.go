package qemutest

import (
	"slices"
	"strings"
	"testing"
)

func TestStrokesFor(t *testing.T) {
	tests := []struct {
		layout, text string
		want         string // strokes joined: keys of one stroke by '+', strokes by ' '
	}{
		{"us", "544256-439-856\n", "5 4 4 2 5 6 minus 4 3 9 minus 8 5 6 ret"},
		{"fr", "544256-439-856\n", "shift+5 shift+4 shift+4 shift+2 shift+5 shift+6 6 shift+4 shift+3 shift+9 6 shift+8 shift+5 shift+6 ret"},
		{"us", "Ab:/.", "shift+a b shift+semicolon slash dot"},
		{"fr", "aqzwm", "q a w z semicolon"},
		{"fr", "AM:/.", "shift+q shift+semicolon dot shift+dot shift+comma"},
		{"us", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.layout+"/"+strings.TrimSpace(tt.text), func(t *testing.T) {
			strokes, err := strokesFor(tt.layout, tt.text)
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, s := range strokes {
				parts = append(parts, strings.Join(s, "+"))
			}
			if got := strings.Join(parts, " "); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestStrokesFor_Errors(t *testing.T) {
	tests := []struct{ layout, text, wantErr string }{
		{"de", "1", `layout "de" has no table`},
		{"us", "a€", `'€' at byte 1`},
		{"fr", "1@", `'@' at byte 1`},
	}
	for _, tt := range tests {
		_, err := strokesFor(tt.layout, tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("strokesFor(%q, %q): got error %v, want one containing %q", tt.layout, tt.text, err, tt.wantErr)
		}
	}
}

// The shift of a capital must not leak into the table shared by all
// strokes (append onto a table entry must copy).
func TestStrokesFor_TableUnchanged(t *testing.T) {
	if _, err := strokesFor("fr", "QA"); err != nil {
		t.Fatal(err)
	}
	if got := frStrokes['q']; !slices.Equal(got, keyStroke{"a"}) {
		t.Errorf("frStrokes['q'] = %v after typing capitals, want [a]", got)
	}
}
