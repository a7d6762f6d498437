package queue_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tillscan/tillscan/queue"
	bolt "go.etcd.io/bbolt"
)

// writeBolt makes a bbolt file at path and runs fn in one update.
func writeBolt(tb testing.TB, path string, fn func(tx *bolt.Tx) error) {
	tb.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 1e9})
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

// queueFile returns a valid queue file with jobs in it, closed.
func queueFile(tb testing.TB, dir string, jobs int) string {
	tb.Helper()
	path := filepath.Join(dir, "queue.db")
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	scans := make([]queue.Scan, jobs)
	for i := range scans {
		scans[i] = scan("544256-439-856")
		scans[i].Raw = strings.Repeat("r", 200)
	}
	if err := q.EnqueueBatch(scans, t0); err != nil {
		tb.Fatal(err)
	}
	if err := q.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// jobLeaves returns the bytes of a compacted queue file with n jobs, whose
// records fill several leaf pages.
func jobLeaves(t *testing.T, n int) []byte {
	t.Helper()
	src := queueFile(t, t.TempDir(), n)
	tight := filepath.Join(t.TempDir(), "tight.db")
	if err := queue.Compact(src, tight); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(tight)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jobLeaf returns the offset of the i-th leaf page of job records in b (a
// leaf whose first key is 26 bytes long and whose value is a JSON object).
func jobLeaf(t *testing.T, b []byte, i int) int {
	t.Helper()
	ps, ne := os.Getpagesize(), binary.NativeEndian
	for off := 2 * ps; off+ps <= len(b); off += ps {
		flags, count := ne.Uint16(b[off+8:]), ne.Uint16(b[off+10:])
		pos, ksize := int(ne.Uint32(b[off+16+4:])), ne.Uint32(b[off+16+8:])
		if flags != 2 || count == 0 || ksize != 26 || off+16+pos+26 >= len(b) || b[off+16+pos+26] != '{' {
			continue
		}
		if i == 0 {
			return off
		}
		i--
	}
	t.Fatal("no such leaf page of job records")
	return 0
}

func TestOpen_InvalidFileMovedAside(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		why  string // in the reported reason
	}{
		{"garbage", func(t *testing.T, path string) {
			b := make([]byte, 64<<10)
			for i := range b {
				b[i] = byte(rand.Uint32())
			}
			os.WriteFile(path, b, 0o600)
		}, "no valid bbolt meta page"},
		{"empty", func(t *testing.T, path string) { os.WriteFile(path, nil, 0o600) }, "empty"},
		{"tiny", func(t *testing.T, path string) { os.WriteFile(path, []byte("hello\n"), 0o600) }, "too short"},
		{"truncated", func(t *testing.T, path string) {
			src := queueFile(t, t.TempDir(), 3000)
			b, _ := os.ReadFile(src)
			os.WriteFile(path, b[:3*4096], 0o600) // both meta pages intact, the data gone
		}, "truncated"},
		{"both meta pages damaged", func(t *testing.T, path string) {
			src := queueFile(t, t.TempDir(), 10)
			b, _ := os.ReadFile(src)
			for _, off := range []int{16 + 60, 4096 + 16 + 60} { // inside each meta's checksum
				b[off] ^= 0xff
			}
			os.WriteFile(path, b, 0o600)
		}, "no valid bbolt meta page"},
		{"damaged data pages", func(t *testing.T, path string) {
			src := queueFile(t, t.TempDir(), 3000)
			b, _ := os.ReadFile(src)
			for i := 6 * 4096; i < 12*4096; i++ {
				b[i] = 0xAA
			}
			os.WriteFile(path, b, 0o600)
		}, ""},
		{"damaged freelist", func(t *testing.T, path string) {
			src := queueFile(t, t.TempDir(), 3000)
			b, _ := os.ReadFile(src)
			fl := int(binary.NativeEndian.Uint64(b[16+32:])) // meta 0's freelist page
			for i := fl * 4096; i < (fl+1)*4096; i++ {
				b[i] = 0x55
			}
			os.WriteFile(path, b, 0o600)
		}, ""},
		// bbolt's own check reads keys on a goroutine of its own: an offset
		// past the mapping killed the process there (found by TestDamagedFile).
		{"element offset past the file", func(t *testing.T, path string) {
			b := jobLeaves(t, 300)
			binary.NativeEndian.PutUint32(b[jobLeaf(t, b, 0)+16+4:], 0x10000000) // element 0's key 256 MiB away
			os.WriteFile(path, b, 0o600)
		}, "points past the page"},
		// A leaf's first key no longer equal to its branch key passes
		// bbolt's check, but the next write into that page duplicated the
		// page's reference and corrupted the file (TestDamagedFile).
		{"first key of a page changed", func(t *testing.T, path string) {
			b := jobLeaves(t, 300)
			off := jobLeaf(t, b, 1)
			pos := binary.NativeEndian.Uint32(b[off+16+4:])
			b[off+16+int(pos)+25] ^= 0x01 // the key's last character
			os.WriteFile(path, b, 0o600)
		}, "is not the first key of page"},
		{"foreign bbolt file", func(t *testing.T, path string) {
			writeBolt(t, path, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("settings"))
				if err != nil {
					return err
				}
				return b.Put([]byte("k"), []byte("v"))
			})
		}, "without tillscan's marker"},
		{"queue without its buckets", func(t *testing.T, path string) {
			writeBolt(t, path, func(tx *bolt.Tx) error {
				b, err := tx.CreateBucket([]byte("meta"))
				if err != nil {
					return err
				}
				return errors.Join(b.Put([]byte("magic"), []byte("tillscan-queue")),
					b.Put([]byte("format"), binary.BigEndian.AppendUint32(nil, 1)))
			})
		}, "buckets missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "queue.db")
			tt.make(t, path)
			orig, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			q, err := queue.Open(path, queue.Options{})
			if err != nil {
				t.Fatalf("Open() = %v, want a fresh queue", err)
			}
			defer q.Close()
			movedTo, why := q.Recovered()
			t.Logf("moved aside: %v", why)
			if !errors.Is(why, queue.ErrCorrupt) || !strings.Contains(why.Error(), tt.why) {
				t.Errorf("Recovered() reason = %v, want ErrCorrupt mentioning %q", why, tt.why)
			}
			if !strings.HasPrefix(movedTo, path+".corrupt-") || len(movedTo) != len(path+".corrupt-20261125T182233Z") {
				t.Errorf("moved to %q, want %s.corrupt-<UTC time>", movedTo, path)
			}
			if got, err := os.ReadFile(movedTo); err != nil || !bytes.Equal(got, orig) {
				t.Errorf("moved file: %d bytes, %v; want the original %d bytes unchanged", len(got), err, len(orig))
			}
			st, err := q.Stats(t0)
			if err != nil || st.MovedAside != movedTo || st.MovedAsideWhy == "" {
				t.Errorf("Stats() = %+v, %v; want it to report the moved file", st, err)
			}
			j := enqueue(t, q, "A", t0) // the fresh queue works
			wantNext(t, q, t0, j.ID)
			mustCheck(t, q)
		})
	}
}

func TestOpen_NotCorrupt(t *testing.T) {
	t.Run("newer format", func(t *testing.T) {
		path := queueFile(t, t.TempDir(), 3)
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 1e9})
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("meta")).Put([]byte("format"), binary.BigEndian.AppendUint32(nil, 9))
		})
		db.Close()
		if q, err := queue.Open(path, queue.Options{}); !errors.Is(err, queue.ErrNewerFormat) {
			if q != nil {
				q.Close()
			}
			t.Fatalf("Open() = %v, want ErrNewerFormat", err)
		}
		assertNotMoved(t, path)
	})
	t.Run("directory", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "queue.db")
		os.Mkdir(path, 0o700)
		if _, err := queue.Open(path, queue.Options{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("Open(directory) = %v, want a not-a-regular-file error", err)
		}
		assertNotMoved(t, path)
	})
	t.Run("permission denied", func(t *testing.T) {
		if os.Geteuid() == 0 {
			// File permissions do not stop root (CI runs as root): run this
			// case again as the unprivileged user nobody.
			runAsNobody(t, "^TestOpen_NotCorrupt$/^permission_denied$")
			return
		}
		path := queueFile(t, t.TempDir(), 3)
		os.Chmod(path, 0o000)
		if _, err := queue.Open(path, queue.Options{}); !errors.Is(err, os.ErrPermission) {
			t.Fatalf("Open(unreadable) = %v, want a permission error", err)
		}
		assertNotMoved(t, path)
	})
}

func assertNotMoved(t *testing.T, path string) {
	t.Helper()
	if m, _ := filepath.Glob(path + ".corrupt-*"); len(m) != 0 {
		t.Errorf("file moved aside: %v", m)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("original file: %v", err)
	}
}

func TestOpen_CreateLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue.db")
	// A create that crashed before linking its file into place.
	os.WriteFile(path+".init-123", []byte("half-made"), 0o600)
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != "queue.db" {
		t.Errorf("directory holds %v, want only queue.db", names)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("queue file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
}

func TestOpen_ReopenKeepsJobs(t *testing.T) {
	path := queueFile(t, t.TempDir(), 100)
	q, err := queue.Open(path, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if movedTo, _ := q.Recovered(); movedTo != "" {
		t.Errorf("a valid file was moved to %s", movedTo)
	}
	if jobs, err := q.List(queue.Pending, 0, ""); len(jobs) != 100 || err != nil {
		t.Errorf("List(pending) = %d, %v; want 100", len(jobs), err)
	}
}
