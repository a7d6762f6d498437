package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tillscan/tillscan/apiclient/sandbox"
	"github.com/tillscan/tillscan/cmd/tillscan/config"
	"github.com/tillscan/tillscan/cmd/tillscan/control"
)

// posDaemon is a real daemon (bbolt queue, the sandbox as the API) with a
// scanner "front" that never reads anything, serving the control API on a
// loopback port with a POS token from a token file.
type posDaemon struct {
	d      *daemon
	base   string // http://127.0.0.1:port
	token  string
	config string // the config file's path
}

const testPOSToken = "0123456789abcdef0123456789abcdef"

func startPOSDaemon(t *testing.T) *posDaemon {
	t.Helper()
	sb, err := sandbox.NewServer(sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	return startPOSDaemonFor(t, sb.URL)
}

// startPOSDaemonFor is startPOSDaemon with the loyalty API at apiURL.
func startPOSDaemonFor(t *testing.T, apiURL string) *posDaemon {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "pos-token")
	if err := os.WriteFile(tokenFile, []byte(testPOSToken+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "tillscan.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`till_id: t
state_dir: %q
currency: "£"
api: {base_url: %q}
scanners:
  - {name: front, type: stdin}
status: {listen: "127.0.0.1:0", token_file: %q}
worker: {settle: 1s, retry_base: 1s, retry_cap: 2s}
`, dir, apiURL, tokenFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stdin, stdinW := io.Pipe() // the scanner waits until the test ends
	d, err := newDaemon(cfg, daemonOptions{APIKey: sandbox.DemoAPIKey, Log: zerolog.New(zerolog.NewTestWriter(t)), Stdin: stdin, StatusListener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		stdinW.Close() // a pipe's read does not end with ctx
		if err := <-done; err != nil {
			t.Errorf("daemon: %v", err)
		}
	})
	for !d.accepting.Load() {
		select {
		case err := <-done:
			t.Fatalf("daemon ended at start: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	return &posDaemon{d: d, base: "http://" + ln.Addr().String(), token: testPOSToken, config: cfgPath}
}

// docExample is one example of docs/pos-api.md: a sh block and the answer
// block after it, if any.
type docExample struct {
	line    int
	command string
	answer  string // "" if the doc shows none
	lang    string // json or text
}

// readDocExamples parses the fenced code blocks of a markdown file.
func readDocExamples(t *testing.T, path string) []docExample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type block struct {
		line       int
		lang, body string
	}
	var blocks []block
	var cur *block
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &block{line: n, lang: strings.TrimPrefix(l, "```")}
		case cur != nil && l == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body += l + "\n"
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var out []docExample
	for i, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		ex := docExample{line: b.line, command: b.body}
		if i+1 < len(blocks) && blocks[i+1].lang != "sh" {
			ex.answer, ex.lang = blocks[i+1].body, blocks[i+1].lang
		}
		out = append(out, ex)
	}
	return out
}

// TestPOSAPIDocExamples runs every curl example of docs/pos-api.md, in
// order, against a running daemon with the real curl, and checks each
// answer has exactly the fields the doc shows (and the same outcome, code
// and scope): the doc is the API's contract.
func TestPOSAPIDocExamples(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is not installed (apt-get install curl): the doc's examples cannot be run")
		}
		t.Skip("curl is not installed")
	}
	examples := readDocExamples(t, "../../docs/pos-api.md")
	if len(examples) < 8 {
		t.Fatalf("docs/pos-api.md has %d sh examples; expected every endpoint's", len(examples))
	}
	pd := startPOSDaemon(t)
	env := append(os.Environ(), "TILLSCAN="+pd.base, "TOKEN="+pd.token, "PATH="+filepath.Dir(curl)+":"+os.Getenv("PATH"))
	for _, ex := range examples {
		if !strings.Contains(ex.command, "curl") {
			// The setup block: it must define what the examples use.
			if !strings.Contains(ex.command, "TILLSCAN=") || !strings.Contains(ex.command, "TOKEN=") {
				t.Errorf("docs/pos-api.md:%d: a block without curl that does not set TILLSCAN and TOKEN", ex.line)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second) // a hang guard
		cmd := exec.CommandContext(ctx, "sh", "-c", ex.command)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		cancel()
		streaming := strings.Contains(ex.command, "--max-time")
		var exit *exec.ExitError
		if err != nil && !(streaming && errors.As(err, &exit) && exit.ExitCode() == 28) { // 28: --max-time ended it
			t.Errorf("docs/pos-api.md:%d: %v\n%s%s", ex.line, err, out, stderr.Bytes())
			continue
		}
		switch {
		case ex.answer == "":
		case ex.lang == "json":
			checkJSONLike(t, ex.line, out, ex.answer)
		case ex.lang == "text":
			checkEventsLike(t, ex.line, out, ex.answer)
		default:
			t.Errorf("docs/pos-api.md:%d: answer block of kind %q", ex.line, ex.lang)
		}
	}
}

// stableFields are the fields whose values an example's answer must match
// too (the rest vary: times, ids, sequence numbers).
var stableFields = []string{"outcome", "saved", "scanner", "for", "mode", "purchase_sum", "code", "card"}

func checkJSONLike(t *testing.T, line int, got []byte, want string) {
	t.Helper()
	var g, w map[string]any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("docs/pos-api.md:%d: the answer is not a JSON object: %v\n%s", line, err, got)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Errorf("docs/pos-api.md:%d: the doc's answer is not JSON: %v", line, err)
		return
	}
	if gk, wk := sortedKeys(g), sortedKeys(w); !slices.Equal(gk, wk) {
		t.Errorf("docs/pos-api.md:%d: answer fields %v, the doc shows %v\n%s", line, gk, wk, got)
	}
	for _, k := range stableFields {
		if fmt.Sprint(g[k]) != fmt.Sprint(w[k]) {
			t.Errorf("docs/pos-api.md:%d: %s = %v, the doc shows %v\n%s", line, k, g[k], w[k], got)
		}
	}
}

var sseData = regexp.MustCompile(`(?m)^data: (.*)$`)

// checkEventsLike: the stream holds events, each with fields and a kind
// the doc's example and table name, and starts where the doc's does.
func checkEventsLike(t *testing.T, line int, got []byte, want string) {
	t.Helper()
	known := map[string]bool{}
	for _, m := range sseData.FindAllStringSubmatch(want, -1) {
		var ev map[string]any
		if err := json.Unmarshal([]byte(m[1]), &ev); err != nil {
			t.Errorf("docs/pos-api.md:%d: the doc's event is not JSON: %v", line, err)
		}
		for k := range ev {
			known[k] = true
		}
	}
	for _, k := range []string{"seq", "at", "kind", "scanner", "card", "job", "mode", "message", "action", "balance"} {
		if !known[k] {
			t.Errorf("docs/pos-api.md:%d: the example events never show field %q", line, k)
		}
	}
	evs := sseData.FindAllStringSubmatch(string(got), -1)
	if len(evs) == 0 {
		t.Errorf("docs/pos-api.md:%d: no events in the stream:\n%s", line, got)
		return
	}
	firstWant := regexp.MustCompile(`(?m)^id: (\d+)$`).FindStringSubmatch(want)
	firstGot := regexp.MustCompile(`(?m)^id: (\d+)$`).FindStringSubmatch(string(got))
	if firstWant == nil || firstGot == nil || firstWant[1] != firstGot[1] {
		t.Errorf("docs/pos-api.md:%d: the stream starts at id %v, the doc's at %v", line, firstGot, firstWant)
	}
	for _, m := range evs {
		var ev control.Event
		dec := json.NewDecoder(strings.NewReader(m[1]))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ev); err != nil {
			t.Errorf("docs/pos-api.md:%d: event %s: %v", line, m[1], err)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestPOSAPIGuards: the POS endpoints answer with the documented codes for
// a missing or wrong token, a web page's request, a foreign Host, a bad
// body and an unknown scanner, and the scan is not saved.
func TestPOSAPIGuards(t *testing.T) {
	pd := startPOSDaemon(t)
	tests := []struct {
		name, path, body string
		header           map[string]string
		want             int
		code             string
	}{
		{"no token", "/api/v1/scans", `{"text":"544256-439-856"}`, nil, 401, control.CodeUnauthorized},
		{"wrong token", "/api/v1/scans", `{"text":"544256-439-856"}`, map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 32)}, 401, control.CodeUnauthorized},
		{"web page", "/api/v1/scans", `{"text":"544256-439-856"}`, map[string]string{"Origin": "http://evil.example"}, 403, control.CodeForbidden},
		{"dns rebinding", "/api/v1/scans", `{"text":"544256-439-856"}`, map[string]string{"Host": "evil.example:8765"}, 403, control.CodeForbidden},
		{"empty text", "/api/v1/scans", `{"text":" "}`, nil, 400, control.CodeBadRequest},
		{"two scans in one", "/api/v1/scans", `{"text":"544256-439-856\n544256-439-857"}`, nil, 400, control.CodeBadRequest},
		{"unknown field", "/api/v1/scans", `{"txt":"544256-439-856"}`, nil, 400, control.CodeBadRequest},
		{"two bodies", "/api/v1/scans", `{"text":"544256-439-856"}{"text":"x"}`, nil, 400, control.CodeBadRequest},
		{"unknown scanner", "/api/v1/scans", `{"text":"544256-439-856","scanner":"back"}`, nil, 400, control.CodeUnknownScanner},
		{"unknown mode", "/api/v1/next", `{"mode":"bogus"}`, nil, 400, control.CodeUnknownMode},
		{"bad sum", "/api/v1/next", `{"purchase_sum":-1}`, nil, 400, control.CodeBadSum},
		{"sum as text", "/api/v1/next", `{"purchase_sum":"12"}`, nil, 400, control.CodeBadRequest},
		{"next for unknown scanner", "/api/v1/next", `{"purchase_sum":2,"scanner":"back"}`, nil, 400, control.CodeUnknownScanner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, pd.base+tt.path, strings.NewReader(tt.body))
			if tt.name != "no token" && tt.header["Authorization"] == "" {
				req.Header.Set("Authorization", "Bearer "+pd.token)
			}
			for k, v := range tt.header {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body control.ErrorBody
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.want || body.Code != tt.code || body.Error == "" {
				t.Fatalf("POST %s %s = %d %+v, want %d %s", tt.path, tt.body, resp.StatusCode, body, tt.want, tt.code)
			}
			if strings.Contains(body.Error, "json:") || strings.Contains(body.Error, "pos:") {
				t.Errorf("error %q shows an internal error text", body.Error)
			}
		})
	}
	st, err := pd.d.q.Stats(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for state, n := range st.Depth {
		if n != 0 {
			t.Errorf("%d job(s) %s after refused requests, want none", n, state)
		}
	}
}

// postScan posts text to the running daemon with the token (through the
// display test's postScanAny) and wants it saved.
func postScan(t *testing.T, pd *posDaemon, text string) control.ScanResult {
	t.Helper()
	res := postScanAny(t, pd, text)
	if !res.Saved || res.Job == "" {
		t.Fatalf("scan %q: %+v, want saved", text, res)
	}
	return res
}

// TestPOSNextForOneScanner: a sum set for one named scanner goes to that
// scanner's next card scan only; another scanner's scan does not take it.
func TestPOSNextForOneScanner(t *testing.T) {
	pd := startPOSDaemon(t)
	c := control.NewClient(strings.TrimPrefix(pd.base, "http://"), nil)
	c.SetToken(pd.token)
	sum := 20.0
	res, err := c.SetNext(t.Context(), control.NextRequest{PurchaseSum: &sum, Scanner: "front"})
	if err != nil || res.For != control.NextForScanner || res.Scanner != "front" {
		t.Fatalf("SetNext for front = %+v, %v", res, err)
	}
	// The pos-api scanner is not "front": its scan comes without the sum.
	other, err := c.Scan(t.Context(), control.ScanRequest{Text: "612001-100-205"})
	if err != nil || other.Mode != "" || !strings.Contains(other.Message, "saved") || strings.Contains(other.Message, "purchase") {
		t.Fatalf("scan on another scanner = %+v, %v; want it saved without the sum", other, err)
	}
	front, err := c.Scan(t.Context(), control.ScanRequest{Text: "612001-100-201", Scanner: "front"})
	if err != nil || !front.Saved || !strings.Contains(front.Message, "purchase £20.00") {
		t.Fatalf("scan on front = %+v, %v; want it saved with the purchase sum", front, err)
	}
}

// TestPOSUndo: POST /api/v1/undo takes back the last scan (cancelled if
// not sent yet, else reversed by a new saved job) and names an unknown
// scanner as such.
func TestPOSUndo(t *testing.T) {
	pd := startPOSDaemon(t)
	c := control.NewClient(strings.TrimPrefix(pd.base, "http://"), nil)
	c.SetToken(pd.token)
	scan := postScan(t, pd, "544256-439-856")
	res, err := c.Undo(t.Context(), control.UndoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	switch res.Outcome {
	case "undone": // cancelled before it was sent
	case "saved": // applied already: the reversal is a job of its own
		if res.Job == "" || res.Job == scan.Job {
			t.Fatalf("undo of an applied scan = %+v, want a reversing job of its own", res)
		}
	default:
		t.Fatalf("undo = %+v, want undone or saved", res)
	}
	if _, err := c.Undo(t.Context(), control.UndoRequest{Scanner: "back"}); err == nil || !strings.Contains(err.Error(), `scanner "back" is not configured`) {
		t.Fatalf("undo on an unknown scanner = %v", err)
	}
}
