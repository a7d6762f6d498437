package vmtest

import (
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestPowerCuts_Run(t *testing.T) {
	p := PowerCuts{Cuts: 40, RecoveryWithin: 600 * time.Millisecond, WorkWithin: 300 * time.Millisecond}
	play := func(seed uint64) (boots []Boot, names []string, early int) {
		early = p.Run(t, rand.New(rand.NewPCG(seed, 3)), seed, func(t *testing.T, b Boot) {
			boots = append(boots, b)
			names = append(names, t.Name())
		})
		return boots, names, early
	}
	boots, names, early := play(11)
	if len(boots) != p.Cuts+1 {
		t.Fatalf("Run played %d boots, want %d", len(boots), p.Cuts+1)
	}
	if !strings.HasSuffix(names[0], "/cut1") || !strings.HasSuffix(names[p.Cuts], "/final") {
		t.Errorf("subtests %s … %s, want cut1 … final", names[0], names[p.Cuts])
	}
	counted := 0
	for i, b := range boots {
		if b.Round != i || b.Final != (i == p.Cuts) {
			t.Errorf("boot %d: Round %d, Final %v", i, b.Round, b.Final)
		}
		within := p.WorkWithin
		if b.Early {
			counted++
			within = p.RecoveryWithin
			if i == 0 || b.Final {
				t.Errorf("boot %d (final %v) cut during recovery: the first boot has none, the final one no cut", i, b.Final)
			}
		}
		if b.CutDelay < 0 || b.CutDelay > within {
			t.Errorf("boot %d: CutDelay %v outside [0, %v]", i, b.CutDelay, within)
		}
	}
	if counted != early || early == 0 || early > p.Cuts/2 {
		t.Errorf("Run() = %d early cuts, boots say %d; want about one in four of %d", early, counted, p.Cuts)
	}
	again, _, _ := play(11)
	for i := range boots {
		if boots[i] != again[i] {
			t.Fatalf("the same seed gave boot %d as %+v, then %+v", i, boots[i], again[i])
		}
	}
}

func TestMountScript(t *testing.T) {
	// What the queue's power-cut guest ran before the script moved here.
	const queueGuest = `#!/bin/sh
i=0
until [ -b /dev/vda ]; do
	i=$((i + 1))
	[ $i -gt 100 ] && { echo "powercut: FAILED: no /dev/vda"; exit 1; }
	sleep 0.1
done
mkdir -p /mnt
mount -t ext4 /dev/vda /mnt || { echo "powercut: FAILED: mount /dev/vda"; exit 1; }
echo "powercut: mounted"
`
	if got := MountScript(""); got != queueGuest {
		t.Errorf("MountScript(\"\") =\n%s\nwant\n%s", got, queueGuest)
	}
	net := MountScript("ip link set lo up\n", "/sys/class/net/eth0")
	for _, want := range []string{
		"until [ -b /dev/vda ] && [ -e /sys/class/net/eth0 ]; do\n",
		`echo "powercut: FAILED: no /dev/vda or /sys/class/net/eth0"`,
		"done\nip link set lo up\nmkdir -p /mnt\n",
	} {
		if !strings.Contains(net, want) {
			t.Errorf("MountScript with setup and a path lacks %q:\n%s", want, net)
		}
	}
	for _, s := range []string{queueGuest, net} {
		if out, err := exec.Command("sh", "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v: %s\n%s", err, out, s)
		}
	}
}
