package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// This file reads bbolt's file header itself, with plain reads, before
// bbolt maps the file: bbolt faults (SIGBUS) when a truncated file's header
// promises pages past its end, and Open must tell such a file apart from a
// locked or unreadable one. It mirrors the meta page layout of
// go.etcd.io/bbolt v1.5.0 (internal/common/meta.go and page.go); the layout
// has been stable since bbolt's version field became 2, and Open only uses
// it to decide whether a file is obviously damaged: bbolt itself still
// validates everything it reads.

// checkHeader validates the bbolt meta pages the way bbolt does, and that
// the file is as long as the newest valid meta page says.
func checkHeader(f *os.File) error {
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
	return nil
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
