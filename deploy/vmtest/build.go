package vmtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Program is a main package (or a package's test binary) built static
// for the guest.
type Program struct {
	Pkg  string // import path relative to the module root, e.g. "./cmd/tillscan"
	CGO  bool   // karalabe/hid needs cgo; then it is linked statically
	Test bool   // build Pkg's test binary (go test -c) instead
}

// Build builds p as a static linux/amd64 binary and returns it.
func Build(t testing.TB, p Program) []byte {
	t.Helper()
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	out := filepath.Join(t.TempDir(), "guest")
	args := []string{"build", "-o", out}
	if p.Test {
		args = []string{"test", "-c", "-o", out}
	}
	env := append(os.Environ(), "GOOS=linux", "GOARCH=amd64")
	if p.CGO {
		// hidapi's iconv finds no charset modules in the initramfs:
		// without NO_ICONV the device strings come back empty.
		// netgo/osusergo: a static glibc binary must not reach for NSS
		// modules at run time (the linker warns about getaddrinfo).
		args = append(args, "-tags", "netgo,osusergo", "-ldflags", `-linkmode external -extldflags "-static"`)
		env = append(env, "CGO_ENABLED=1", "CGO_CFLAGS=-O2 -g -DNO_ICONV")
	} else {
		env = append(env, "CGO_ENABLED=0")
	}
	cmd := exec.Command("go", append(args, p.Pkg)...)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	cmd.Env = env
	start := time.Now()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", p.Pkg, err, b)
	}
	t.Logf("built %s in %.1fs", p.Pkg, time.Since(start).Seconds())
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
