package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// VM is one running QEMU guest: its serial console as lines and its QMP
// connection. Its goroutines and process end in the test's cleanup.
type VM struct {
	QMP *QMP

	cmd    *exec.Cmd
	stderr *bytes.Buffer // guarded by mu
	lines  chan string   // console lines not yet consumed by Expect
	exited chan struct{} // closed when QEMU has exited

	mu         sync.Mutex
	transcript []consoleLine // every console line
	changed    chan struct{} // closed and replaced on each new line and at EOF
	eof        bool          // the console has ended
	start      time.Time
}

// Start boots cfg. The console transcript is logged if the test fails.
func Start(t testing.TB, ctx context.Context, cfg Config) (*VM, error) {
	dir := t.TempDir()
	initrd := filepath.Join(dir, "initramfs.cpio")
	f, err := os.Create(initrd)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := writeInitramfs(bw, cfg); err != nil {
		f.Close()
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}

	// QEMU connects to our socket (client mode), so there is no polling
	// for a server socket to appear.
	sock := filepath.Join(dir, "qmp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("qmp listen: %w", err)
	}
	defer ln.Close()

	accel := cfg.Accel
	if accel == "" {
		accel = "tcg"
	}
	nic := cfg.NIC
	if nic == "" {
		nic = "none"
	}
	args := []string{
		"-machine", "pc,accel=" + accel, "-m", "256", "-smp", "1",
		"-display", "none", "-vga", "none", "-nic", nic, "-no-reboot",
		"-serial", "stdio", "-monitor", "none", "-qmp", "unix:" + sock,
		"-kernel", cfg.Assets.Vmlinux, "-initrd", initrd,
		"-append", strings.TrimSpace("console=ttyS0 panic=-1 quiet loglevel=3 " + os.Getenv("TILLSCAN_QEMU_APPEND")),
		"-device", "qemu-xhci,id=xhci",
	}
	for _, d := range cfg.Devices {
		args = append(args, "-device", d)
	}
	for _, d := range cfg.Drives {
		args = append(args, "-drive", d)
	}
	args = append(args, cfg.Args...)
	v := &VM{
		cmd:     exec.Command("qemu-system-x86_64", args...),
		stderr:  &bytes.Buffer{},
		lines:   make(chan string, 4096),
		exited:  make(chan struct{}),
		changed: make(chan struct{}),
		start:   time.Now(),
	}
	v.cmd.Stderr = lockedWriter{&v.mu, v.stderr}
	stdout, err := v.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := v.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		v.readConsole(stdout)
	}()
	go func() {
		<-readDone // Wait closes stdout: read it all first
		v.cmd.Wait()
		close(v.exited)
	}()
	t.Cleanup(func() {
		if v.QMP != nil {
			v.QMP.Close()
		}
		v.cmd.Process.Kill()
		<-v.exited
		switch {
		case t.Failed():
			t.Logf("guest console:\n%s\nqemu stderr:\n%s", v.Transcript(), v.Stderr())
		case testing.Verbose():
			t.Logf("guest console:\n%s", v.Transcript())
		}
	})

	conn, err := acceptCtx(ctx, ln, v.exited)
	if err != nil {
		return nil, fmt.Errorf("qmp: %w (qemu stderr: %s)", err, v.Stderr())
	}
	if v.QMP, err = newQMP(ctx, conn); err != nil {
		conn.Close()
		return nil, err
	}
	return v, nil
}

func acceptCtx(ctx context.Context, ln net.Listener, exited <-chan struct{}) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err
	case <-exited:
		return nil, errors.New("qemu exited before connecting")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (v *VM) readConsole(r io.Reader) {
	defer func() {
		v.mu.Lock()
		v.eof = true
		close(v.changed)
		v.mu.Unlock()
		close(v.lines)
	}()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		v.mu.Lock()
		v.transcript = append(v.transcript, consoleLine{time.Since(v.start), line})
		close(v.changed)
		v.changed = make(chan struct{})
		v.mu.Unlock()
		select {
		case v.lines <- line:
		default: // nobody is expecting that many lines; the transcript has them
		}
	}
}

// Expect consumes console lines until one matches re and returns its
// submatches. It fails when ctx ends or QEMU exits first.
func (v *VM) Expect(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	m, err := v.ExpectAll(ctx, re)
	if err != nil {
		return nil, err
	}
	return m[0], nil
}

// ExpectAll consumes console lines until each of res has matched a line,
// in any order (two guest programs interleave their lines), and returns
// each one's first match in the order of res.
func (v *VM) ExpectAll(ctx context.Context, res ...*regexp.Regexp) ([][]string, error) {
	got := make([][]string, len(res))
	left := len(res)
	for left > 0 {
		select {
		case line, ok := <-v.lines:
			if !ok {
				return nil, fmt.Errorf("guest console closed (QEMU exited) while waiting for %s", pending(res, got))
			}
			for i, re := range res {
				if got[i] != nil {
					continue
				}
				if m := re.FindStringSubmatch(line); m != nil {
					got[i] = m
					left--
					break
				}
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s on the guest console: %w", pending(res, got), ctx.Err())
		}
	}
	return got, nil
}

func pending(res []*regexp.Regexp, got [][]string) string {
	var p []string
	for i, re := range res {
		if got[i] == nil {
			p = append(p, "/"+re.String()+"/")
		}
	}
	return strings.Join(p, ", ")
}

// WaitLines waits until at least n console lines so far match re. Unlike
// Expect it consumes nothing.
func (v *VM) WaitLines(ctx context.Context, re *regexp.Regexp, n int) error {
	for {
		v.mu.Lock()
		count := 0
		for _, l := range v.transcript {
			if re.MatchString(l.text) {
				count++
			}
		}
		changed, eof := v.changed, v.eof
		v.mu.Unlock()
		switch {
		case count >= n:
			return nil
		case eof:
			return fmt.Errorf("guest console closed (QEMU exited) with %d of %d lines matching /%s/", count, n, re)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for line %d matching /%s/ (have %d): %w", n, re, count, ctx.Err())
		}
	}
}

// Lines returns every console line so far that matches re, as submatches.
func (v *VM) Lines(re *regexp.Regexp) [][]string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out [][]string
	for _, l := range v.transcript {
		if m := re.FindStringSubmatch(l.text); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// Transcript is the console so far, one timed line each.
func (v *VM) Transcript() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var b strings.Builder
	for _, l := range v.transcript {
		fmt.Fprintf(&b, "%6.2fs %s\n", l.at.Seconds(), l.text)
	}
	return b.String()
}

type consoleLine struct {
	at   time.Duration // since QEMU started
	text string
}

// Stderr is what QEMU printed on stderr so far.
func (v *VM) Stderr() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.stderr.String()
}

// Quit asks QEMU to exit and waits until it has.
func (v *VM) Quit(ctx context.Context) error {
	if _, err := v.QMP.Execute(ctx, "quit", nil); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	select {
	case <-v.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for QEMU to exit: %w", ctx.Err())
	}
}

// PowerCut SIGKILLs QEMU and waits until it has exited and its console is
// read to the end. The guest gets no chance to flush anything: what it had
// not yet written to its virtual disk is lost, as in a power cut.
func (v *VM) PowerCut() error {
	if err := v.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("kill qemu: %w", err)
	}
	<-v.exited
	return nil
}

// Elapsed is the time since QEMU started.
func (v *VM) Elapsed() time.Duration { return time.Since(v.start) }

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
