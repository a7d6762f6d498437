package scanner_test

import (
	"fmt"
	"time"

	"github.com/tillscan/tillscan/scanner"
)

// A serial scanner framing codes as STX … ETX CR: pieces are joined, the
// decoration is removed, and garbage is rejected without losing the next
// scan.
func ExampleFramer() {
	f, err := scanner.NewFramer(scanner.FrameConfig{Terminator: scanner.TermCR, Prefix: "\x02", Suffix: "\x03"})
	if err != nil {
		panic(err)
	}
	t := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, chunk := range []string{"\x02544256-4", "39-856\x03\r", "\x02\x1b\x00\x03\r\x02https://x.example/c/123456-789-012\x03\r"} {
		scans, rejects := f.Feed([]byte(chunk), t)
		for _, s := range scans {
			fmt.Printf("scan %q\n", s.Text)
		}
		for _, r := range rejects {
			fmt.Println("rejected:", r)
		}
		t = t.Add(10 * time.Millisecond)
	}
	// Output:
	// scan "544256-439-856"
	// scan "https://x.example/c/123456-789-012"
	// rejected: scanner: scan contains control or binary bytes: control character U+001B at offset 0 (4 bytes: "\x02\x1b\x00\x03")
}
