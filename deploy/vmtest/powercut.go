package vmtest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// What the power-cut tests share: a run of boots on one ext4 disk, each
// but the last ended by a power cut (VM.PowerCut) at a random moment, and
// the guest program's start that mounts the disk.

// PowerCuts is the plan of a power-cut run: Cuts boots that each end in a
// power cut, then one final boot that is not cut (it checks and drains).
type PowerCuts struct {
	Cuts int
	// After the first boot, one cut in four lands during the boot's
	// recovery (what the guest does with the disk it found) instead of
	// while it works; the delay of such a cut is drawn up to
	// RecoveryWithin, that of the others up to WorkWithin. Each test counts
	// the delay from a moment of its own (the disk mounted, the guest's
	// n'th acknowledgement).
	RecoveryWithin, WorkWithin time.Duration
}

// Boot is one boot of a power-cut run.
type Boot struct {
	Round    int           // 0 is the first boot, on a fresh disk
	Final    bool          // the last boot: no cut
	Early    bool          // cut CutDelay into the boot's recovery
	CutDelay time.Duration // else cut this long after the guest is at work
	Seed     uint64        // for the boot's own random choices
}

// Run plays the plan: each boot is a subtest (cut1 … cutN, then final), so
// its failure comes with that boot's console only, drawn from rng in
// order, so a run's seed replays it. It fails t at the first boot that
// fails, with the seed to replay, and returns how many cuts landed in
// recovery.
func (p PowerCuts) Run(t *testing.T, rng *rand.Rand, seed uint64, boot func(t *testing.T, b Boot)) (early int) {
	t.Helper()
	if p.Cuts < 1 {
		t.Fatalf("a power-cut run of %d cuts: want at least 1", p.Cuts)
	}
	for round := 0; round <= p.Cuts; round++ {
		b := Boot{Round: round, Final: round == p.Cuts, Seed: rng.Uint64()}
		if round > 0 && !b.Final && rng.IntN(4) == 0 {
			b.Early = true
			early++
			b.CutDelay = time.Duration(rng.Int64N(int64(p.RecoveryWithin) + 1))
		} else {
			b.CutDelay = time.Duration(rng.Int64N(int64(p.WorkWithin) + 1))
		}
		name := fmt.Sprintf("cut%d", round+1)
		if b.Final {
			name = "final"
		}
		if !t.Run(name, func(t *testing.T) { boot(t, b) }) {
			t.Fatalf("stopped at boot %d of %d (seed %d)", round+1, p.Cuts+1, seed)
		}
	}
	return early
}

// The lines MountScript prints on the console.
const (
	MountedLine  = "powercut: mounted" // the disk is mounted: recovery starts now
	FailedPrefix = "powercut: FAILED"  // the guest program failed; the reason follows
)

// DiskModules returns the guest modules for an ext4 file system on a
// virtio disk, then more. crc32c serves ext4's and jbd2's checksums
// (metadata_csum is mkfs's default) and is asked for through the crypto
// API, not as a module dependency, so it is named here: the generic one,
// as TCG's default CPU lacks SSE4.2.
func DiskModules(more ...string) []string {
	return append([]string{"crc32c_generic", "virtio_pci", "virtio_blk", "ext4"}, more...)
}

// WritebackDrive is the Config.Drives entry for the disk image img (see
// NewDisk) in a power-cut test. With cache=writeback the guest sees a
// volatile write cache and sends flushes, as on real hardware, and the
// writes it has been told are complete sit in the host's page cache, which
// a SIGKILL of QEMU does not touch (cache=none would give the same outcome
// but needs O_DIRECT, which tmpfs lacks). So a power cut drops what the
// guest had not written to its disk and keeps what it had. What this
// cannot show: the virtual disk never loses, reorders or tears a write it
// has completed, flushed or not, unlike a cheap SD card or an SSD without
// power-loss protection. A test catches a missing fsync, not a disk or
// kernel that ignores flushes.
func WritebackDrive(img string) string {
	return "file=" + img + ",format=raw,if=virtio,cache=writeback"
}

// MountScript is the start of a power-cut guest's program (/bin/sh): wait
// up to 10 s for the disk /dev/vda and for each of paths, run setup (shell
// lines, each failure of which must print a FailedPrefix line itself),
// mount the disk's ext4 on /mnt and print MountedLine. On a failure it
// prints FailedPrefix and the reason, and exits 1. The test appends what
// runs on the mounted disk.
func MountScript(setup string, paths ...string) string {
	tests := []string{"[ -b /dev/vda ]"}
	for _, p := range paths {
		tests = append(tests, "[ -e "+p+" ]")
	}
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/sh
i=0
until %s; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "%s: no %s"; exit 1; }
	sleep 0.1
done
`, strings.Join(tests, " && "), FailedPrefix, strings.Join(append([]string{"/dev/vda"}, paths...), " or "))
	b.WriteString(setup)
	fmt.Fprintf(&b, `mkdir -p /mnt
mount -t ext4 /dev/vda /mnt || { echo "%s: mount /dev/vda"; exit 1; }
echo "%s"
`, FailedPrefix, MountedLine)
	return b.String()
}
