package main

import (
	"testing"
	"time"
)

// repeated summarises only fleets run more than once, each with the
// median and range of its runs.
func TestRepeated(t *testing.T) {
	fleet := func(tills int, driver string, run, runs int, accepted ...int) fleetResult {
		return fleetResult{tills: tills, burst: 10, driver: driver, run: run, runs: runs,
			tally: tally{window: 10 * time.Second, accepted: accepted, limited: make([]int, len(accepted))}}
	}
	tests := []struct {
		name   string
		fleets []fleetResult
		want   string
	}{
		{"none repeated", []fleetResult{fleet(2, "daemon-fixed", 0, 0, 50, 50)}, ""},
		{"three runs between single ones", []fleetResult{
			fleet(2, "daemon-fixed", 0, 0, 50, 50),
			fleet(2, "daemon-adaptive", 1, 3, 50, 40), // worst 80 %
			fleet(2, "daemon-adaptive", 2, 3, 50, 30), // 60 %
			fleet(2, "daemon-adaptive", 3, 3, 50, 45), // 90 %
			fleet(2, "daemon-shared", 0, 0, 50, 50),
		}, "- 2 tills, daemon-adaptive, burst=10 nodelay, 3 runs: together 90 % (80–95 %), worst till 80 % (60–90 %), 429s 0 % (0–0 %)\n\n"},
		{"two sizes, two runs each: the median of two is their mean", []fleetResult{
			fleet(2, "daemon-adaptive", 1, 2, 50, 40),
			fleet(2, "daemon-adaptive", 2, 2, 50, 30),
			fleet(5, "daemon-adaptive", 1, 2, 20, 20, 20, 20, 20),
			fleet(5, "daemon-adaptive", 2, 2, 20, 20, 20, 20, 10),
		}, "- 2 tills, daemon-adaptive, burst=10 nodelay, 2 runs: together 85 % (80–90 %), worst till 70 % (60–80 %), 429s 0 % (0–0 %)\n" +
			"- 5 tills, daemon-adaptive, burst=10 nodelay, 2 runs: together 95 % (90–100 %), worst till 75 % (50–100 %), 429s 0 % (0–0 %)\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := repeated(tt.fleets); got != tt.want {
				t.Errorf("repeated =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// -repeat defaults to 1, and 3 with -full; fewer than one run is refused.
func TestParseFlags_Repeat(t *testing.T) {
	tests := []struct {
		args    []string
		want    int
		wantErr bool
	}{
		{nil, 1, false},
		{[]string{"-full"}, 3, false},
		{[]string{"-full", "-repeat", "5"}, 5, false},
		{[]string{"-repeat", "-1"}, 0, true},
	}
	for _, tt := range tests {
		o, err := parseFlags(tt.args)
		if (err != nil) != tt.wantErr || (!tt.wantErr && o.repeat != tt.want) {
			t.Errorf("parseFlags(%q) = repeat %d, error %v; want %d, error %v", tt.args, o.repeat, err, tt.want, tt.wantErr)
		}
	}
}
