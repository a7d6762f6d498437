//go:build linux

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/deploy/vmtest"
)

var (
	daemonCuts = flag.Int("powercut.rounds", 3, "power cuts of TestQEMU_DaemonPowerCut (e.g. 50 for the long run, with -timeout 0)")
	daemonSeed = flag.Uint64("powercut.seed", 0, "seed of TestQEMU_DaemonPowerCut's cut timing and scans; 0 picks one")
)

const (
	// pcTill is the guest daemon's till id: its markers are
	// "tillscan:pc:<job>".
	pcTill = "pc"
	// pcAPIAddr is where the guest reaches the API: QEMU's user network
	// forwards this one address to the sandbox on the host's loopback.
	pcAPIAddr = "10.0.2.100:80"
	// pcSaved is how many scans a boot must have acknowledged before its
	// cut may come, so that it lands while scans flow.
	pcSaved = 8
)

// pcCards are the stamp cards the scans cycle through: few, so that every
// card has many scans and their order can be checked.
var pcCards = []string{"710000-000-001", "710000-000-002", "710000-000-003", "710000-000-004"}

// pcLog is one JSON log line of the guest daemon (the contract the
// end-to-end tests read: level, message, event, card, job).
type pcLog struct {
	Message string `json:"message"`
	Event   string `json:"event"`
	Card    string `json:"card"`
	Job     string `json:"job"`
}

var (
	pcStartRe  = regexp.MustCompile(`"message":"tillscan starting"`)
	pcReadyRe  = regexp.MustCompile(`"message":"ready: accepting scans"`)
	pcSavedRe  = regexp.MustCompile(`^\{.*"event":"saved".*\}$`) // whole lines: Lines returns the match
	pcFailedRe = regexp.MustCompile(`^` + regexp.QuoteMeta(vmtest.FailedPrefix))
)

// TestQEMU_DaemonPowerCut cuts the power of a whole till, not only of the
// queue: the real static `tillscan run` boots in a Debian guest with its
// queue on an ext4 virtio disk, reads scans from a UART (the guest's
// /dev/ttyS1, a socket on the host) and applies them to the sandbox API,
// which runs on the host's loopback. The guest reaches it only through
// QEMU's user network with restrict=on and one guestfwd to that port: no
// other network. The sandbox answers some actions and drops the answer
// (apply-then-drop), so uncertain sends are in flight when the power goes.
//
// Each boot but the last: wait until the daemon is ready, feed scans
// every few tens of ms, and SIGKILL QEMU at a random moment after the
// boot's pcSaved'th "saved" (one cut in four lands during the next boot's
// recovery instead: queue open, reconciliation of what was in flight).
// The last boot feeds nothing and waits until the sandbox has every
// acknowledged scan and has gone quiet. Then, from the sandbox's
// operations log: every scan the daemon acknowledged ("saved" in its log,
// read over the console) is applied exactly once, no marker is applied
// twice, and each card's actions came in the order its scans were saved.
//
// Run: `go test -run TestQEMU_DaemonPowerCut ./cmd/tillscan/ -v`
// (-powercut.rounds=50 -timeout 0 for the long run). It needs what
// .ci/qemu-deps.sh installs and is skipped with -short.
func TestQEMU_DaemonPowerCut(t *testing.T) {
	a := vmtest.Require(t)
	seed := *daemonSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -powercut.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 8))

	tmpl := sandbox.Template{ID: 1, CompanyID: 1, Name: "Coffee", Type: 0, StampsPerReward: 100000}
	sd := &sandbox.Seed{Templates: []sandbox.Template{tmpl}}
	for _, c := range pcCards {
		sd.Cards = append(sd.Cards, sandbox.Card{ID: c, TemplateID: 1, CompanyID: 1, Type: "stamp"})
	}
	sb, err := sandbox.NewServer(sandbox.Options{Seed: sd, RandSeed: rng.Uint64() | 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	sb.API.SetFaults(sandbox.Faults{ApplyThenDropRate: 0.15})
	u, err := url.Parse(sb.URL)
	if err != nil {
		t.Fatal(err)
	}

	bin := vmtest.Build(t, vmtest.Program{Pkg: "./cmd/tillscan"}) // serial only: no cgo
	img := vmtest.NewDisk(t, 64<<20)
	r := &pcRun{t: t, a: a, bin: bin, img: img, apiHost: u.Host, apiPath: u.Path}

	plan := vmtest.PowerCuts{Cuts: *daemonCuts, RecoveryWithin: 1500 * time.Millisecond, WorkWithin: 300 * time.Millisecond}
	early := plan.Run(t, rng, seed, func(t *testing.T, b vmtest.Boot) { r.boot(t, b, sb) })
	r.check(sb)
	t.Logf("%d power cuts (%d during recovery): %d scans fed, %d acknowledged, each applied exactly once in per-card order; sandbox: %d requests",
		*daemonCuts, early, r.fed, len(r.saved), sb.API.Stats().Requests)
}

// pcRun is the state of one power-cut run across boots.
type pcRun struct {
	t                *testing.T
	a                vmtest.Assets
	bin              []byte
	img              string
	apiHost, apiPath string // the sandbox on the host: 127.0.0.1:port and /api/v2

	fed   int
	saved []pcLog // every "saved" line of every boot, in order
}

// boot boots the guest once on the disk and plays b: if b.Early, feed
// nothing and cut b.CutDelay after "tillscan starting"; if b.Final, feed
// nothing, wait for the drain, no cut; else feed scans (drawn from b.Seed)
// and cut b.CutDelay after the pcSaved'th saved scan.
func (r *pcRun) boot(t *testing.T, b vmtest.Boot, sb *sandbox.Server) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	scanSock := filepath.Join(t.TempDir(), "scan.sock")
	ln, err := net.Listen("unix", scanSock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	v, err := vmtest.Start(t, ctx, vmtest.Config{
		Assets: r.a,
		Accel:  vmtest.Accelerator(),
		// virtio_net for the one forwarded address.
		Modules: vmtest.DiskModules("virtio_net"),
		Files: []vmtest.GuestFile{
			{Path: "/bin/tillscan", Mode: 0o755, Data: r.bin},
			{Path: "/etc/tillscan.yaml", Mode: 0o644, Data: []byte(r.config())},
			{Path: "/bin/till", Mode: 0o755, Data: []byte(pcScript())},
		},
		Commands: []string{"/bin/till"},
		Drives:   []string{vmtest.WritebackDrive(r.img)},
		// No network but the API: restrict=on, and one guestfwd whose
		// command (busybox nc, run by QEMU per connection) joins the
		// guest's connection to the sandbox on loopback.
		NIC: fmt.Sprintf("user,model=virtio-net-pci,restrict=on,guestfwd=tcp:%s-cmd:%s nc %s",
			pcAPIAddr, r.a.Busybox, strings.Replace(r.apiHost, ":", " ", 1)),
		// The scanner: the guest's second UART, a socket QEMU connects to.
		Args: []string{"-chardev", "socket,id=scan,path=" + scanSock, "-serial", "chardev:scan"},
	})
	if err != nil {
		t.Fatal(err)
	}
	scanConn, err := ln.Accept() // QEMU connected at start
	if err != nil {
		t.Fatal(err)
	}
	defer scanConn.Close()
	defer func() { r.saved = append(r.saved, savedLines(v)...) }()

	if b.Early {
		expectLine(t, ctx, v, pcStartRe)
		time.Sleep(b.CutDelay) // the random moment is the point, not synchronisation
		if err := v.PowerCut(); err != nil {
			t.Fatal(err)
		}
		t.Logf("power cut %d: during recovery, %d ms after start", b.Round+1, b.CutDelay.Milliseconds())
		return
	}
	expectLine(t, ctx, v, pcReadyRe)
	if b.Final {
		r.drain(t, ctx, v, sb)
		if err := v.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		return
	}
	// Feed scans until the cut; a write fails once QEMU is gone.
	rng := rand.New(rand.NewPCG(b.Seed, 1))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var fed int
	wg.Go(func() {
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := scanConn.Write([]byte(pcCards[rng.IntN(len(pcCards))] + "\r\n")); err != nil {
				return
			}
			fed++
		}
	})
	if err := v.WaitLines(ctx, pcSavedRe, pcSaved); err != nil {
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	time.Sleep(b.CutDelay) // the random moment is the point, not synchronisation
	err = v.PowerCut()
	close(stop)
	wg.Wait()
	r.fed += fed
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("power cut %d: %.1fs after boot, %d ms after saved scan %d; %d scans fed, %d saved this boot",
		b.Round+1, v.Elapsed().Seconds(), b.CutDelay.Milliseconds(), pcSaved, fed, len(v.Lines(pcSavedRe)))
}

// drain waits until every acknowledged scan's marker is in the sandbox and
// the sandbox has then had no request for a while: nothing is left to be
// reconciled or re-sent.
func (r *pcRun) drain(t *testing.T, ctx context.Context, v *vmtest.VM, sb *sandbox.Server) {
	t.Helper()
	const (
		quiet = 4 * time.Second  // > settle × looks + a request's timeout
		lost  = 20 * time.Second // no request at all while scans are missing
	)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var lastReqs int
	lastChange := time.Now()
	for {
		if m := v.Lines(pcFailedRe); len(m) > 0 {
			t.Fatalf("guest: %s", m[0][0])
		}
		reqs := sb.API.Stats().Requests
		if reqs != lastReqs {
			lastReqs, lastChange = reqs, time.Now()
		}
		missing := 0
		ops := pcMarkers(sb)
		for _, s := range r.saved {
			if ops[s.Job] == 0 {
				missing++
			}
		}
		switch idle := time.Since(lastChange); {
		case missing == 0 && idle >= quiet:
			t.Logf("drained: %d acknowledged scans applied, sandbox quiet for %v", len(r.saved), quiet)
			return
		case missing > 0 && idle >= lost:
			// The worker retries within retry_cap (1s): silence this long
			// means it has nothing left to send.
			t.Fatalf("lost: %d of %d acknowledged scans never applied, and the daemon sent nothing for %v", missing, len(r.saved), lost)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("not drained: %d of %d acknowledged scans not applied: %v", missing, len(r.saved), ctx.Err())
		case <-tick.C:
		}
	}
}

// check is the oracle: the sandbox's operations log against every scan
// the daemon acknowledged.
func (r *pcRun) check(sb *sandbox.Server) {
	t := r.t
	t.Helper()
	counts := pcMarkers(sb)
	for _, s := range r.saved {
		if n := counts[s.Job]; n != 1 {
			t.Errorf("acknowledged scan %s (card %s) applied %d times; want exactly once", s.Job, s.Card, n)
		}
	}
	for job, n := range counts {
		if n != 1 {
			t.Errorf("marker tillscan:%s:%s applied %d times", pcTill, job, n)
		}
	}
	// Per card, the applied actions of acknowledged scans come in the
	// order the scans were saved.
	pos := map[string]int{}
	for i, s := range r.saved {
		pos[s.Job] = i
	}
	last := map[string]int{}
	for _, op := range sb.API.Operations() {
		job := pcJob(op)
		i, ok := pos[job]
		if !ok {
			continue // a scan whose "saved" line the cut swallowed
		}
		if prev, seen := last[op.CardID]; seen && i < prev {
			t.Errorf("card %s: job %s (saved %dth) applied after job %s (saved %dth)", op.CardID, job, i, r.saved[prev].Job, prev)
		}
		last[op.CardID] = i
	}
}

// config is the guest daemon's config file.
func (r *pcRun) config() string {
	return fmt.Sprintf(`till_id: %s
state_dir: /mnt/state
dedupe_window: -1s
log: {level: info, format: json}
api:
  base_url: http://%s%s
  timeout: 2s
worker: {settle: 500ms, looks: 2, retry_base: 200ms, retry_cap: 1s}
scanners:
  - name: uart
    type: serial
    path: /dev/ttyS1
    baud: 9600
    terminator: crlf
status:
  listen: "off"
`, pcTill, strings.TrimSuffix(pcAPIAddr, ":80"), r.apiPath)
}

// pcScript is the guest's program: bring up the one network interface,
// mount the disk, run the daemon on it. Its own failures print
// vmtest.FailedPrefix.
func pcScript() string {
	return vmtest.MountScript(`ip link set lo up
ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 || { echo "`+vmtest.FailedPrefix+`: network"; exit 1; }
`, "/sys/class/net/eth0") + `TILLSCAN_API_KEY=` + sandbox.DemoAPIKey + ` exec /bin/tillscan run -c /etc/tillscan.yaml
`
}

// savedLines are the boot's complete "saved" log lines; a line the cut
// ended early does not parse and is left out (the oracle then knows less,
// never something false).
func savedLines(v *vmtest.VM) []pcLog {
	var out []pcLog
	for _, m := range v.Lines(pcSavedRe) {
		var l pcLog
		if json.Unmarshal([]byte(m[0]), &l) != nil || l.Event != "saved" || l.Job == "" {
			continue
		}
		out = append(out, l)
	}
	return out
}

// pcMarkers counts the sandbox's operations per job of our till's marker.
func pcMarkers(sb *sandbox.Server) map[string]int {
	m := map[string]int{}
	for _, op := range sb.API.Operations() {
		if job := pcJob(op); job != "" {
			m[job]++
		}
	}
	return m
}

// pcJob is the job id in op's tillscan marker, or "".
func pcJob(op sandbox.Operation) string {
	if op.Comment == nil {
		return ""
	}
	for _, w := range strings.Fields(*op.Comment) {
		if job, ok := strings.CutPrefix(w, "tillscan:"+pcTill+":"); ok {
			return job
		}
	}
	return ""
}

func expectLine(t *testing.T, ctx context.Context, v *vmtest.VM, re *regexp.Regexp) {
	t.Helper()
	if _, err := v.ExpectAll(ctx, re); err != nil {
		if m := v.Lines(pcFailedRe); len(m) > 0 {
			t.Fatalf("guest: %s", m[0][0])
		}
		t.Fatal(err)
	}
}
