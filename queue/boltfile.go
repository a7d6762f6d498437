package queue

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// This file reads bbolt's on-disk structures itself, with plain reads,
// before bbolt maps the file. Two reasons: bbolt faults (SIGBUS) when a
// truncated file's header promises pages past its end, and bbolt's own
// Tx.Check runs on a goroutine of its own, so a damaged element offset that
// points outside the mapping kills the whole process (a fault there cannot
// be turned into a recoverable panic). Open must instead tell such a file
// apart from a locked or unreadable one and move it aside. It mirrors the
// meta, page, element and inline-bucket layout of go.etcd.io/bbolt v1.5.0
// (internal/common/meta.go, page.go, bucket.go); the layout has been stable
// since bbolt's version field became 2. It only decides whether every
// reachable page can be read safely: bbolt still validates everything else.

// checkFile validates the bbolt meta pages the way bbolt does, that the
// file is as long as the newest valid meta page says, and that every page
// reachable from it can be read within its bounds (checkPages).
func checkFile(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return errors.New("the file is empty")
	}
	if size < 2*1024 {
		return fmt.Errorf("the file is %d bytes, too short for a bbolt file", size)
	}
	m0, ok0 := readMeta(f, 0)
	var m1 meta
	var ok1 bool
	if ok0 {
		m1, ok1 = readMeta(f, int64(m0.pageSize))
	} else {
		// Page 0 is unreadable, so its page size is unknown: try them all, as bbolt does.
		for i := 0; i <= 14 && !ok1; i++ {
			if pos := int64(1024) << i; pos < size-1024 {
				m1, ok1 = readMeta(f, pos)
			}
		}
	}
	m := m0
	switch {
	case !ok0 && !ok1:
		return errors.New("no valid bbolt meta page (not a bbolt file, or both headers damaged)")
	case !ok0 || (ok1 && m1.txid > m0.txid):
		m = m1
	}
	if need := int64(m.pgid) * int64(m.pageSize); need > size {
		return fmt.Errorf("the file is truncated: %d bytes, its header says %d", size, need)
	}
	if m.root >= m.pgid || (m.freelist >= m.pgid && m.freelist != ^uint64(0)) {
		return errors.New("the bbolt header points past the end of the data")
	}
	return checkPages(f, m)
}

type meta struct {
	pageSize                   uint32
	root, freelist, pgid, txid uint64
}

// readMeta reads a bbolt meta page at off: a 16-byte page header, then magic,
// version, page size, flags, root bucket (root, sequence), freelist, pgid,
// txid and an FNV-64a checksum of everything before it, in native byte order.
func readMeta(r io.ReaderAt, off int64) (meta, bool) {
	var b [16 + 64]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return meta{}, false
	}
	m := b[16:]
	ne := binary.NativeEndian
	if ne.Uint32(m[0:]) != 0xED0CDAED || ne.Uint32(m[4:]) != 2 {
		return meta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:56])
	if h.Sum64() != ne.Uint64(m[56:]) {
		return meta{}, false
	}
	ps := ne.Uint32(m[8:])
	if ps < 512 || ps > 1<<24 {
		return meta{}, false
	}
	return meta{pageSize: ps, root: ne.Uint64(m[16:]), freelist: ne.Uint64(m[32:]), pgid: ne.Uint64(m[40:]), txid: ne.Uint64(m[48:])}, true
}

// The page layout: a 16-byte header (id uint64, flags uint16, count
// uint16, overflow uint32), then count 16-byte elements. A branch element is
// (pos, ksize uint32, child pgid uint64), a leaf element (flags, pos, ksize,
// vsize uint32); pos counts from the element itself, and a leaf's value
// follows its key. A leaf value flagged as a bucket starts with the bucket
// header (root pgid, sequence uint64); root 0 means the bucket's only page
// follows inline, inside the value.
const (
	pageHeaderSize   = 16
	elementSize      = 16
	bucketHeaderSize = 16
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01
	maxTreeDepth     = 64 // far deeper than any real file; stops a loop of pages
)

// pageReader reads pages of a file whose newest meta is m.
type pageReader struct {
	r       io.ReaderAt
	m       meta
	visited map[uint64]bool
}

// checkPages walks the B+trees from the root bucket and the freelist page
// and checks that every element, key, value and child page lies within its
// page and the file, and that no page is reached twice.
func checkPages(r io.ReaderAt, m meta) error {
	pr := &pageReader{r: r, m: m, visited: map[uint64]bool{}}
	if m.freelist != ^uint64(0) {
		p, err := pr.page(m.freelist)
		if err != nil {
			return fmt.Errorf("freelist: %w", err)
		}
		if err := checkFreelist(p, m.freelist); err != nil {
			return err
		}
	}
	_, err := pr.tree(m.root, 0)
	return err
}

// page reads page id with its overflow pages.
func (pr *pageReader) page(id uint64) ([]byte, error) {
	if id < 2 || id >= pr.m.pgid {
		return nil, fmt.Errorf("page %d: outside the file's %d pages", id, pr.m.pgid)
	}
	if pr.visited[id] {
		return nil, fmt.Errorf("page %d: reached twice", id)
	}
	pr.visited[id] = true
	ps := int64(pr.m.pageSize)
	var h [pageHeaderSize]byte
	if _, err := pr.r.ReadAt(h[:], int64(id)*ps); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	ne := binary.NativeEndian
	if got := ne.Uint64(h[0:]); got != id {
		return nil, fmt.Errorf("page %d: its header says page %d", id, got)
	}
	overflow := uint64(ne.Uint32(h[12:]))
	if id+overflow >= pr.m.pgid {
		return nil, fmt.Errorf("page %d: %d overflow pages run past the file's %d pages", id, overflow, pr.m.pgid)
	}
	b := make([]byte, (int64(overflow)+1)*ps)
	if _, err := pr.r.ReadAt(b, int64(id)*ps); err != nil {
		return nil, fmt.Errorf("page %d: %w", id, err)
	}
	return b, nil
}

// tree checks the page id and, recursively, its children, and returns the
// page's first key.
func (pr *pageReader) tree(id uint64, depth int) ([]byte, error) {
	if depth > maxTreeDepth {
		return nil, fmt.Errorf("page %d: the tree is deeper than %d levels", id, maxTreeDepth)
	}
	p, err := pr.page(id)
	if err != nil {
		return nil, err
	}
	return pr.elements(p, id, depth)
}

// elements checks the elements of page p (a page of the file, or a bucket's
// inline page), follows child pages and buckets, and returns p's first key.
// A branch element's key must be its child's first key: bbolt keeps it so
// on every write, and a write into a tree where it is not (a damaged key)
// duplicates the child's reference and corrupts the file.
func (pr *pageReader) elements(p []byte, id uint64, depth int) (first []byte, err error) {
	ne := binary.NativeEndian
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	if flags != branchPageFlag && flags != leafPageFlag {
		return nil, fmt.Errorf("page %d: type %#x where a branch or leaf page should be", id, flags)
	}
	if pageHeaderSize+count*elementSize > len(p) {
		return nil, fmt.Errorf("page %d: %d elements do not fit in %d bytes", id, count, len(p))
	}
	for i := range count {
		at := pageHeaderSize + i*elementSize
		e := p[at : at+elementSize]
		if flags == branchPageFlag {
			pos, ksize, child := uint64(ne.Uint32(e[0:])), uint64(ne.Uint32(e[4:])), ne.Uint64(e[8:])
			if uint64(at)+pos+ksize > uint64(len(p)) {
				return nil, fmt.Errorf("page %d: branch element %d points past the page", id, i)
			}
			key := p[uint64(at)+pos : uint64(at)+pos+ksize]
			if i == 0 {
				first = key
			}
			childFirst, err := pr.tree(child, depth+1)
			if err != nil {
				return nil, err
			}
			if !bytes.Equal(childFirst, key) {
				return nil, fmt.Errorf("page %d: branch element %d's key is not the first key of page %d", id, i, child)
			}
			continue
		}
		eflags, pos, ksize, vsize := ne.Uint32(e[0:]), uint64(ne.Uint32(e[4:])), uint64(ne.Uint32(e[8:])), uint64(ne.Uint32(e[12:]))
		start := uint64(at) + pos + ksize
		if start+vsize > uint64(len(p)) {
			return nil, fmt.Errorf("page %d: leaf element %d points past the page", id, i)
		}
		if i == 0 {
			first = p[uint64(at)+pos : start]
		}
		if eflags&bucketLeafFlag == 0 {
			continue
		}
		v := p[start : start+vsize]
		if len(v) < bucketHeaderSize {
			return nil, fmt.Errorf("page %d: bucket element %d is %d bytes, shorter than a bucket header", id, i, len(v))
		}
		if root := ne.Uint64(v); root != 0 {
			if _, err := pr.tree(root, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		inline := v[bucketHeaderSize:]
		if len(inline) < pageHeaderSize {
			return nil, fmt.Errorf("page %d: inline bucket of element %d has no page", id, i)
		}
		if ne.Uint16(inline[8:]) != leafPageFlag {
			return nil, fmt.Errorf("page %d: inline bucket of element %d is not a leaf page", id, i)
		}
		if _, err := pr.elements(inline, id, depth+1); err != nil {
			return nil, err
		}
	}
	return first, nil
}

// checkFreelist checks that the freelist page p lists only ids that fit in
// it: a count of 0xFFFF means the real count is the first id slot.
func checkFreelist(p []byte, id uint64) error {
	ne := binary.NativeEndian
	if ne.Uint16(p[8:]) != freelistPageFlag {
		return fmt.Errorf("page %d: type %#x where the freelist should be", id, ne.Uint16(p[8:]))
	}
	n, skip := uint64(ne.Uint16(p[10:])), uint64(0)
	if n == 0xFFFF {
		if len(p) < pageHeaderSize+8 {
			return fmt.Errorf("page %d: freelist too short", id)
		}
		n, skip = ne.Uint64(p[pageHeaderSize:]), 1
	}
	if n > uint64(len(p)) || pageHeaderSize+(skip+n)*8 > uint64(len(p)) {
		return fmt.Errorf("page %d: freelist of %d ids does not fit in its page", id, n)
	}
	return nil
}
