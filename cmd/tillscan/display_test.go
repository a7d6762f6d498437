package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tillscan/tillscan/cmd/tillscan/control"
)

// The counter display in a real browser: Debian's chromium, headless,
// driven through the DevTools protocol (chromedp). Screenshots go to
// $TILLSCAN_ARTIFACTS/display (else a temporary directory the log names).

// browser starts a headless chromium with a fresh profile and returns a
// context of its first tab.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (apt-get install chromium): the counter display cannot be tested")
		}
		t.Skip("chromium is not installed (apt-get install chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// artefactDir is where the test keeps its screenshots.
func artefactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TILLSCAN_ARTIFACTS")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "tillscan-display-"); err != nil {
			t.Fatal(err)
		}
	}
	dir = filepath.Join(dir, "display")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// looks is what the page shows, measured by the browser.
type looks struct {
	State    string  `json:"state"`
	Title    string  `json:"title"`
	Detail   string  `json:"detail"`
	Stamps   int     `json:"stamps"`
	Filled   int     `json:"filled"`
	FontPx   float64 `json:"fontPx"`
	Color    string  `json:"color"`
	Bg       string  `json:"bg"`
	Queue    string  `json:"queue"`
	Offline  bool    `json:"offline"`
	External int     `json:"external"` // resources from another origin
}

const measureJS = `(() => {
  const t = document.getElementById("title");
  const cs = getComputedStyle(t);
  let el = t, bg = "rgba(0, 0, 0, 0)";
  while (el) {
    const b = getComputedStyle(el).backgroundColor;
    if (b && b !== "rgba(0, 0, 0, 0)" && b !== "transparent") { bg = b; break; }
    el = el.parentElement;
  }
  const ext = performance.getEntriesByType("resource").filter(e => !e.name.startsWith(location.origin)).length;
  return {
    state: document.body.dataset.state, title: t.textContent, detail: document.getElementById("detail").textContent,
    stamps: document.querySelectorAll("#stamps .stamp").length, filled: document.querySelectorAll("#stamps .stamp.on").length,
    fontPx: parseFloat(cs.fontSize), color: cs.color, bg: bg,
    queue: document.getElementById("queue").textContent, offline: !document.getElementById("offline").hidden,
    external: ext,
  };
})()`

// waitLooks polls the page (in the test, not in the page) until ok holds
// or limit passes; it returns the last measure and how long it took.
func waitLooks(t *testing.T, ctx context.Context, limit time.Duration, ok func(looks) bool) (looks, time.Duration, bool) {
	t.Helper()
	start := time.Now()
	var l looks
	for {
		var err error
		if l, err = chromedp.Run(ctx, chromedp.Evaluate[looks](measureJS)); err != nil {
			t.Fatalf("measure the page: %v", err)
		}
		if ok(l) {
			return l, time.Since(start), true
		}
		if time.Since(start) > limit {
			return l, time.Since(start), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCounterDisplay: a scan through the daemon shows on the counter
// display, pushed over the event stream: the stamp card drawn as its
// stamps, a refusal in red with its reason; the result text is large and
// contrasted enough to read from 2 m at 800x480 and 1920x1080; nothing is
// loaded from elsewhere.
func TestCounterDisplay(t *testing.T) {
	ctx := browser(t)
	pd := startPOSDaemon(t)
	dir := artefactDir(t)
	for _, size := range []struct{ w, h int64 }{{800, 480}, {1920, 1080}} {
		name := fmt.Sprintf("%dx%d", size.w, size.h)
		t.Run(name, func(t *testing.T) {
			if err := chromedp.Do(ctx,
				chromedp.EmulateViewport(size.w, size.h),
				chromedp.Navigate(pd.base+"/display"),
				chromedp.WaitVisible(chromedp.CSS(`body[data-connected="1"]`)),
			); err != nil {
				t.Fatalf("open the display: %v", err)
			}
			card := map[int64]string{800: "544256-439-856", 1920: "544256-439-857"}[size.w]
			postScan(t, pd, card)
			// Saved shows within 1 s (generous: a push, not a poll), then
			// the worker applies it.
			l, took, ok := waitLooks(t, ctx, time.Second, func(l looks) bool {
				return (l.State == "saved" && l.Detail == card) || l.State == "applied"
			})
			if !ok {
				t.Fatalf("the display shows %+v %v after the scan was saved, want the scan", l, took)
			}
			t.Logf("the display showed the scan %v after the POST returned", took.Round(time.Millisecond))
			l, _, ok = waitLooks(t, ctx, 15*time.Second, func(l looks) bool { return l.State == "applied" })
			if !ok {
				t.Fatalf("the display shows %+v, want the applied stamp", l)
			}
			if !strings.Contains(l.Title, " added") {
				t.Errorf("applied stamp shown as %+v, want what was added", l)
			}
			wantStamps := map[string][2]int{"544256-439-856": {8, 10}, "544256-439-857": {3, 8}}[card]
			if l.Filled != wantStamps[0] || l.Stamps != wantStamps[1] {
				t.Errorf("stamps drawn %d of %d, want %d of %d (%s)", l.Filled, l.Stamps, wantStamps[0], wantStamps[1], l.Detail)
			}
			checkReadable(t, l, name+" applied")
			screenshot(t, ctx, filepath.Join(dir, name+"-applied.png"))

			// A refusal: a cashback (gift) card without a sum (by the API the first
			// time, by the till once the card is known).
			res := postScanAny(t, pd, map[int64]string{800: "612001-100-201", 1920: "612001-100-205"}[size.w])
			if res.Outcome != "refused" && res.Outcome != "saved" {
				t.Fatalf("cashback card without a sum: %+v, want refused or saved", res)
			}
			l, _, ok = waitLooks(t, ctx, 15*time.Second, func(l looks) bool { return l.State == "refused" })
			if !ok || !strings.Contains(l.Detail, "purchase sum") {
				t.Fatalf("the display shows %+v, want the refusal and its reason", l)
			}
			if r, g, b := rgb(t, l.Bg); !(r > 2*g && r > 2*b) {
				t.Errorf("refusal background %s is not red", l.Bg)
			}
			checkReadable(t, l, name+" refused")
			screenshot(t, ctx, filepath.Join(dir, name+"-refused.png"))
			if l.External != 0 {
				t.Errorf("the display loaded %d resource(s) from another origin", l.External)
			}
			if !strings.Contains(l.Queue, "waiting") && !strings.Contains(l.Queue, "All scans sent") {
				t.Errorf("queue line %q, want the queue depth", l.Queue)
			}
		})
	}
}

// TestCounterDisplayOffline: with the loyalty API unreachable the display
// says so, and that scans are saved, in a banner readable from 2 m.
func TestCounterDisplayOffline(t *testing.T) {
	ctx := browser(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() // nothing answers there once closed
	ln.Close()
	pd := startPOSDaemonFor(t, dead)
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(800, 480),
		chromedp.Navigate(pd.base+"/display"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-connected="1"]`)),
	); err != nil {
		t.Fatalf("open the display: %v", err)
	}
	postScan(t, pd, "544256-439-856")
	l, _, ok := waitLooks(t, ctx, 15*time.Second, func(l looks) bool { return l.Offline })
	if !ok {
		t.Fatalf("the display shows %+v, want the offline banner", l)
	}
	type banner struct {
		Text   string  `json:"text"`
		FontPx float64 `json:"fontPx"`
		Color  string  `json:"color"`
		Bg     string  `json:"bg"`
	}
	b, err := chromedp.Run(ctx, chromedp.Evaluate[banner](`(() => { const e = document.getElementById("offline"), cs = getComputedStyle(e);
	  return {text: e.textContent, fontPx: parseFloat(cs.fontSize), color: cs.color, bg: cs.backgroundColor}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.Text, "scans are saved") {
		t.Errorf("offline banner %q, want it to say scans are saved", b.Text)
	}
	if b.FontPx < 24 {
		t.Errorf("offline banner text %.0f px, want >= 24", b.FontPx)
	}
	if c := contrast(t, b.Color, b.Bg); c < 7 {
		t.Errorf("offline banner contrast %.2f:1, want >= 7:1", c)
	}
	if !strings.Contains(l.Queue, "waiting") {
		t.Errorf("queue line %q, want the scans waiting", l.Queue)
	}
	screenshot(t, ctx, filepath.Join(artefactDir(t), "800x480-offline.png"))
}

// postScanAny posts text and returns the result whatever it is.
func postScanAny(t *testing.T, pd *posDaemon, text string) control.ScanResult {
	t.Helper()
	c := control.NewClient(strings.TrimPrefix(pd.base, "http://"), nil)
	c.SetToken(pd.token)
	res, err := c.Scan(t.Context(), control.ScanRequest{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkReadable: the result text is at least 48 px (readable from 2 m on
// a small screen) and its contrast at least 7:1 (WCAG AAA).
func checkReadable(t *testing.T, l looks, what string) {
	t.Helper()
	if l.FontPx < 48 {
		t.Errorf("%s: result text %.0f px, want >= 48", what, l.FontPx)
	}
	if c := contrast(t, l.Color, l.Bg); c < 7 {
		t.Errorf("%s: contrast %s on %s is %.2f:1, want >= 7:1", what, l.Color, l.Bg, c)
	}
}

func screenshot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// rgb reads a computed colour "rgb(r, g, b)" or "rgba(r, g, b, a)".
func rgb(t *testing.T, s string) (r, g, b float64) {
	t.Helper()
	inner := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]
	parts := strings.Split(inner, ",")
	if len(parts) < 3 {
		t.Fatalf("colour %q", s)
	}
	v := make([]float64, 3)
	for i := range v {
		f, err := strconv.ParseFloat(strings.TrimSpace(parts[i]), 64)
		if err != nil {
			t.Fatalf("colour %q: %v", s, err)
		}
		v[i] = f
	}
	return v[0], v[1], v[2]
}

// contrast is the WCAG 2 contrast ratio of two colours.
func contrast(t *testing.T, fg, bg string) float64 {
	t.Helper()
	lum := func(s string) float64 {
		r, g, b := rgb(t, s)
		ch := func(c float64) float64 {
			c /= 255
			if c <= 0.03928 {
				return c / 12.92
			}
			return math.Pow((c+0.055)/1.055, 2.4)
		}
		return 0.2126*ch(r) + 0.7152*ch(g) + 0.0722*ch(b)
	}
	a, b := lum(fg), lum(bg)
	if a < b {
		a, b = b, a
	}
	return (a + 0.05) / (b + 0.05)
}
