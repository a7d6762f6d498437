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

// The fixed rate is the "before", not a row that aims at a target; at
// burst 0 only the shared limiter has one.
func TestFleetTarget(t *testing.T) {
	fair := tally{window: 10 * time.Second, accepted: []int{50, 49}, limited: []int{0, 1}}
	skewed := tally{window: 10 * time.Second, accepted: []int{70, 30}, limited: []int{0, 1}}
	tests := []struct {
		driver string
		burst  int
		tally  tally
		want   string
	}{
		{"daemon-fixed", 10, fair, "before"},
		{"fixed", 0, fair, "before"},
		{"daemon-adaptive", 10, fair, "met"},
		{"daemon-adaptive", 10, skewed, "**missed**"},
		{"daemon-adaptive-clean", 10, skewed, "**missed**"},
		{"daemon-adaptive", 0, fair, "report"},
		{"daemon-shared", 0, fair, "met"},
		{"shared", 0, skewed, "met"},
	}
	for _, tt := range tests {
		f := fleetResult{tills: 2, burst: tt.burst, driver: tt.driver, tally: tt.tally}
		if got := fleetTarget(f); got != tt.want {
			t.Errorf("fleetTarget(%s, burst %d, worst %.0f %%) = %q, want %q", tt.driver, tt.burst, 100*tt.tally.worstFair(), got, tt.want)
		}
	}
}
