package main

// The independent parts of the rig: Debian's nginx as the API's rate
// limiter and redis-server as the fleet's shared limiter, each started as
// a child process on loopback with its own files in a temporary directory
// (no system service is touched).

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// ensurePackages installs the Debian packages that provide the missing
// programs, with apt-get, when run as root; otherwise it says what to
// install.
func ensurePackages(ctx context.Context, progs map[string]string) error {
	var missing []string
	for prog, pkg := range progs {
		if _, err := exec.LookPath(prog); err != nil {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("bench: %s not installed; run as root to install them, or: sudo apt-get install %s",
			strings.Join(missing, ", "), strings.Join(missing, " "))
	}
	for _, args := range [][]string{{"update"}, append([]string{"install", "-y", "--no-install-recommends"}, missing...)} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("bench: apt-get %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// freePort returns a loopback TCP port nobody listens on right now.
func freePort() (int, error) {
	ps, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	return ps[0], nil
}

// freePorts returns n distinct loopback TCP ports nobody listens on right
// now. It holds each until it has them all: a port closed at once may be
// handed out again by the next call (it was, twice in one nginx config).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// child is a program the bench started; stop ends it and waits.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the program has exited, err set
	err  error         // its Wait's result
}

func startChild(name string, logPath string, argv ...string) (*child, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the bench
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); logf.Close(); close(c.done) }()
	return c, nil
}

func (c *child) stop() { terminate(c.cmd, c.done, 5*time.Second) }

// terminate sends cmd SIGTERM, waits up to grace for done (its Wait's
// result, or closed once it exited), then kills it and waits.
func terminate[T any](cmd *exec.Cmd, done <-chan T, grace time.Duration) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
}

// waitListening waits until something accepts TCP connections on port,
// or the child exits, or 10 s pass.
func (c *child) waitListening(port int, logPath string) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			b, _ := os.ReadFile(logPath)
			return fmt.Errorf("bench: %s exited (%v):\n%s", c.name, c.err, b)
		default:
		}
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond); err == nil {
			conn.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("bench: %s not listening on %d after 10s", c.name, port)
}

// limiter is nginx's limit_req in front of the sandbox: one zone keyed on
// x-api-key, one listening port per till (so the access log tells the tills
// apart), every answer logged with its time and status.
type limiter struct {
	*child
	dir   string
	ports []int
}

var nginxConf = template.Must(template.New("nginx").Parse(`daemon off;
master_process on;
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log warn;
events { worker_connections 1024; }
http {
  client_body_temp_path {{.Dir}}/body;
  proxy_temp_path {{.Dir}}/proxy;
  fastcgi_temp_path {{.Dir}}/fastcgi;
  uwsgi_temp_path {{.Dir}}/uwsgi;
  scgi_temp_path {{.Dir}}/scgi;
  log_format bench '$msec $server_port $status';
  access_log {{.Dir}}/access.log bench;
  limit_req_zone $http_x_api_key zone=key:1m rate={{.Rate}}r/s;
  limit_req_status 429;
  upstream api { server {{.Upstream}}; keepalive 64; }
  server {
{{range .Ports}}    listen 127.0.0.1:{{.}};
{{end}}    location / {
      limit_req zone=key{{if .Burst}} burst={{.Burst}} nodelay{{end}};
      proxy_pass http://api;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`))

// startLimiter runs nginx limiting to rate requests/s per key with the
// given burst (0: strict spacing; n: a token bucket of n, nodelay), in
// front of upstream (host:port), on one port per till.
func startLimiter(dir string, tills, rate, burst int, upstream string) (*limiter, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(tills)
	if err != nil {
		return nil, err
	}
	l := &limiter{dir: dir, ports: ports}
	f, err := os.Create(filepath.Join(dir, "nginx.conf"))
	if err != nil {
		return nil, err
	}
	err = nginxConf.Execute(f, struct {
		Dir, Upstream string
		Rate, Burst   int
		Ports         []int
	}{dir, upstream, rate, burst, l.ports})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "nginx.out")
	l.child, err = startChild("nginx", logPath, "nginx", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	if err != nil {
		return nil, err
	}
	if err := l.waitListening(l.ports[len(l.ports)-1], filepath.Join(dir, "error.log")); err != nil {
		l.stop()
		return nil, err
	}
	return l, nil
}

// url is the base URL till i uses: nginx's port for it and the API's path.
func (l *limiter) url(i int, apiPath string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", l.ports[i], apiPath)
}

// answer is one line of nginx's access log.
type answer struct {
	at     time.Time
	till   int // index into ports
	status int
}

// answers reads the access log: every request nginx answered so far.
func (l *limiter) answers() ([]answer, error) {
	f, err := os.Open(filepath.Join(l.dir, "access.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	idx := map[string]int{}
	for i, p := range l.ports {
		idx[strconv.Itoa(p)] = i
	}
	var out []answer
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var msec float64
		var port string
		var status int
		if _, err := fmt.Sscan(sc.Text(), &msec, &port, &status); err != nil {
			return nil, fmt.Errorf("bench: access log line %q: %w", sc.Text(), err)
		}
		out = append(out, answer{at: time.UnixMilli(int64(msec * 1000)), till: idx[port], status: status})
	}
	return out, sc.Err()
}

// store is a redis-server on loopback with persistence off.
type store struct {
	*child
	port int
}

func startRedis(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "redis.log")
	c, err := startChild("redis-server", logPath, "redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err != nil {
		return nil, err
	}
	if err := c.waitListening(port, logPath); err != nil {
		c.stop()
		return nil, err
	}
	return &store{child: c, port: port}, nil
}

func (s *store) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", s.port) }
