package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// footprint is the idle cost of one daemon with one serial scanner and
// the API reachable.
type footprint struct {
	period    time.Duration
	rssKiB    int64
	cpuShare  float64 // CPU time / wall time over the period
	wakeups   float64 // voluntary context switches per second, all threads
	binaryKiB int64
	threads   int64
}

// idle measures the daemon's footprint over period after one real scan.
func (r *rig) idle(ctx context.Context, period time.Duration) (footprint, error) {
	dir := r.scratch("idle")
	seed, cards := stampCards(5, 1)
	a, err := startAPI(filepath.Join(dir, "nginx"), seed, 0, 1, 0)
	if err != nil {
		return footprint{}, err
	}
	defer a.close()
	t, err := newTill(r.bin, filepath.Join(dir, "till"), "bench")
	if err != nil {
		return footprint{}, err
	}
	defer t.close()
	if err := t.start(a.url(0), ""); err != nil {
		return footprint{}, err
	}
	defer t.stop()
	if err := t.scan(cards[0]); err != nil {
		return footprint{}, err
	}
	if err := t.waitCount(ctx, "applied", 1, time.Minute); err != nil {
		return footprint{}, err
	}
	time.Sleep(2 * time.Second) // let the work's aftermath settle
	pid := t.pid()
	cpu0, sw0 := procCPU(pid), procSwitches(pid)
	began := time.Now()
	select {
	case <-time.After(period):
	case <-ctx.Done():
		return footprint{}, ctx.Err()
	}
	took := time.Since(began)
	st := procStatus(pid)
	fi, err := os.Stat(r.bin)
	if err != nil {
		return footprint{}, err
	}
	return footprint{
		period:    took,
		rssKiB:    st["VmRSS"],
		cpuShare:  (procCPU(pid) - cpu0).Seconds() / took.Seconds(),
		wakeups:   float64(procSwitches(pid)-sw0) / took.Seconds(),
		binaryKiB: fi.Size() >> 10,
		threads:   st["Threads"],
	}, nil
}

// procStatus reads the numeric fields of /proc/<pid>/status (kB units
// dropped), 0 for what it cannot read.
func procStatus(pid int) map[string]int64 {
	return statusFile(fmt.Sprintf("/proc/%d/status", pid))
}

func statusFile(path string) map[string]int64 {
	m := map[string]int64{}
	b, err := os.ReadFile(path)
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			m[k] = n
		}
	}
	return m
}

// procSwitches is the voluntary context switches of every thread of pid:
// each is a sleep the thread woke from.
func procSwitches(pid int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	var n int64
	for _, t := range tasks {
		n += statusFile(t)["voluntary_ctxt_switches"]
	}
	return n
}

// procCPU is the user+system CPU time of process pid (all threads).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ is 100 on Linux
}
