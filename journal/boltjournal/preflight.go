package boltjournal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
)

// preflight refuses, before bbolt maps it, a file that cannot be a bbolt
// database or that was cut short. bbolt trusts its meta pages: it maps
// more than the file holds and reads any page the meta page names, and a
// page past the end of the file is a SIGBUS, which no recover() catches.
// So the meta page bbolt would open the file by must name no more pages
// than the file holds.
func preflight(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open journal %s: %w", path, err)
	}
	defer f.Close()
	// The meta pages are read before the size: bbolt grows the file before
	// a meta page names the new pages, so a journal another process is
	// writing is never taken for one cut short.
	m, ok := liveMeta(f)
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open journal %s: %w", path, err)
	}
	size := st.Size()
	if size == 0 {
		return nil // a new file bbolt initialises
	}
	if size < 2*4096 {
		return corrupt(path, fmt.Errorf("%d bytes is shorter than a journal's two meta pages", size))
	}
	if !ok {
		return corrupt(path, errors.New("neither of its two meta pages is valid: it is not a journal, or its first pages are damaged"))
	}
	if m.pgid > uint64(size)/uint64(m.pageSize) {
		return corrupt(path, fmt.Errorf("the file holds %d bytes but its pages need %d (%d pages of %d bytes): it was cut short",
			size, m.pgid*uint64(m.pageSize), m.pgid, m.pageSize))
	}
	return nil
}

// A meta page as bbolt v1.5 writes it (go.etcd.io/bbolt
// internal/common/page.go and meta.go), in the machine's byte order: a
// page header of 16 bytes, then the magic number, format version, page
// size and flags (4 bytes each), the root bucket (16), the free list's
// page id, pgid (the high-water mark: the pages the file holds), the
// transaction id, and an FNV-64a checksum of all of the meta before it
// (8 bytes each).
const (
	metaOffset   = 16
	metaLen      = 64
	metaChecksum = 56
	metaMagic    = 0xED0CDAED
	metaVersion  = 2
)

// metaPage is what preflight needs of a meta page.
type metaPage struct {
	pageSize   uint32
	pgid, txid uint64
}

// readMeta reads the meta page at off; ok is false when the file ends
// before it or it fails bbolt's validation (magic, version, checksum).
// A page size under 1 KB, which bbolt never writes, fails too.
func readMeta(f *os.File, off int64) (m metaPage, ok bool) {
	var b [metaOffset + metaLen]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return m, false
	}
	raw, ne := b[metaOffset:], binary.NativeEndian
	h := fnv.New64a()
	h.Write(raw[:metaChecksum])
	if ne.Uint32(raw[0:]) != metaMagic || ne.Uint32(raw[4:]) != metaVersion || ne.Uint64(raw[metaChecksum:]) != h.Sum64() {
		return m, false
	}
	m = metaPage{pageSize: ne.Uint32(raw[8:]), pgid: ne.Uint64(raw[40:]), txid: ne.Uint64(raw[48:])}
	return m, m.pageSize >= 1024
}

// liveMeta returns the meta page bbolt would open f by, as bbolt's Open
// chooses it: the page size is the first meta page's, or if that one is
// invalid, that of the first valid meta page found where a second one
// would be for a page size of 1 KB, 2 KB, ... 16 MB; then of the meta
// pages at 0 and at the page size, the valid one of the higher
// transaction id. ok is false when neither is valid (bbolt refuses such a
// file).
func liveMeta(f *os.File) (m metaPage, ok bool) {
	m0, ok0 := readMeta(f, 0)
	var pageSize uint32
	if ok0 {
		pageSize = m0.pageSize
	}
	for i := 0; pageSize == 0 && i <= 14; i++ {
		if m, ok := readMeta(f, 1024<<i); ok {
			pageSize = m.pageSize
		}
	}
	if pageSize == 0 {
		return m, false
	}
	m1, ok1 := readMeta(f, int64(pageSize))
	switch {
	case ok1 && (!ok0 || m1.txid > m0.txid):
		return m1, true
	case ok0:
		return m0, true
	}
	return m, false
}
