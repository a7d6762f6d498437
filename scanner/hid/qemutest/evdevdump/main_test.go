package main

import "testing"

func TestLineDecoder(t *testing.T) {
	press := func(code uint16) []inputEvent {
		return []inputEvent{{Type: evKey, Code: code, Value: 1}, {Type: 0}, {Type: evKey, Code: code, Value: 0}}
	}
	var seq []inputEvent
	add := func(evs ...[]inputEvent) {
		for _, e := range evs {
			seq = append(seq, e...)
		}
	}
	// "50-1" Enter, then Shift+a, autorepeat of b, F1 (unknown), keypad Enter.
	add(press(6), press(11), press(12), press(2), press(keyEnter))
	seq = append(seq, inputEvent{Type: evKey, Code: keyLeftShift, Value: 1})
	add(press(30))
	seq = append(seq, inputEvent{Type: evKey, Code: keyLeftShift, Value: 0})
	seq = append(seq, inputEvent{Type: evKey, Code: 48, Value: 1}, inputEvent{Type: evKey, Code: 48, Value: 2}, inputEvent{Type: evKey, Code: 48, Value: 0})
	add(press(59), press(keyKPEnter), press(keyEnter))

	var d lineDecoder
	var got []string
	for _, ev := range seq {
		if line, ok := d.feed(ev); ok {
			got = append(got, line)
		}
	}
	want := []string{"50-1", "Ab<59>", ""}
	if len(got) != len(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %q, want %q", i, got[i], want[i])
		}
	}
}
