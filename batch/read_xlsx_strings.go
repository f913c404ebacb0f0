package batch

import (
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/pan"
)

// A workbook's shared strings (the text of its cells, each string once)
// can be as large as its sheet: they are read once, as a stream, into a
// store that stays in memory while small and moves to an unnamed temporary
// file beyond sharedMemory bytes, with an index in memory of one offset per
// sharedStride strings. A cell's string is then found with at most
// sharedStride records skipped in a cached block of the file.
//
// Card numbers are masked before a string is stored, so that none is ever
// written to disk; the masked numbers are kept with the string, for the
// row to be refused.
const (
	sharedMemory  = 8 << 20
	sharedStride  = 64
	sharedMaxStrs = 64 << 20 // a sheet of Excel's 1,048,576 rows has fewer distinct strings
	cacheBlock    = 64 << 10
	cacheBlocks   = 16
)

type sharedStrings struct {
	mem    []byte   // the records while small
	file   *os.File // the records once they outgrow mem
	size   int64    // bytes of records
	sparse []int64  // offset of every sharedStride-th record
	n      int
	cache  [cacheBlocks]cachedBlock
	tick   uint64
}

type cachedBlock struct {
	off  int64 // -1: empty
	data []byte
	used uint64
}

// sharedString is one shared string: its text, card numbers masked, and
// the masked numbers ("" for none).
type sharedString struct{ text, cards string }

// readSharedStrings reads the shared strings part, if the workbook has one.
func readSharedStrings(wb *workbook, part string) (*sharedStrings, error) {
	s := &sharedStrings{}
	for i := range s.cache {
		s.cache[i].off = -1
	}
	if part == "" || !wb.has(part) {
		return s, nil
	}
	x, err := wb.open(part)
	if err != nil {
		return nil, err
	}
	defer x.close()
	for {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			return s, nil
		}
		if err != nil {
			s.close()
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "si" {
			text, err := richText(x)
			if err != nil {
				s.close()
				return nil, err
			}
			if err := s.add(text); err != nil {
				s.close()
				return nil, err
			}
		}
	}
}

// richText reads a string item (<si> or <is>, just opened): its <t>
// elements, directly or in rich text runs, but not the phonetic guide
// (<rPh>) that Japanese workbooks add.
func richText(x *xmlStream) (string, error) {
	var b strings.Builder
	for depth := 1; depth > 0; {
		tok, err := x.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return "", xlsxErr(x.wb.name, "part %s ends inside a string", x.part)
			}
			return "", err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "t":
				s, err := x.text()
				if err != nil {
					return "", err
				}
				if b.Len()+len(s) > xlsxMaxToken {
					return "", errTokenTooLarge
				}
				b.WriteString(s)
			case "rPh":
				if err := x.skip(); err != nil {
					return "", err
				}
			default:
				depth++
			}
		case xml.EndElement:
			depth--
		}
	}
	return decodeXString(b.String()), nil
}

// decodeXString undoes the _xHHHH_ escapes of OOXML strings (Excel writes
// a carriage return as _x000D_, and a literal "_x" as _x005F_x).
func decodeXString(s string) string {
	if !strings.Contains(s, "_x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+7 <= len(s) && s[i] == '_' && s[i+1] == 'x' && s[i+6] == '_' {
			if v, err := strconv.ParseUint(s[i+2:i+6], 16, 16); err == nil {
				b.WriteRune(rune(v))
				i += 7
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

// add stores the next string: a flag byte (card numbers found), the
// masked numbers when flagged, and the text, each length-prefixed.
func (s *sharedStrings) add(text string) error {
	if s.n >= sharedMaxStrs {
		return fmt.Errorf("%w: the workbook has more than %d distinct strings", ErrInput, sharedMaxStrs)
	}
	if s.n%sharedStride == 0 {
		s.sparse = append(s.sparse, s.size)
	}
	var rec []byte
	if ms := pan.Find(text); len(ms) > 0 {
		rec = append(rec, 1)
		rec = binary.AppendUvarint(rec, uint64(len(maskedList(ms))))
		rec = append(rec, maskedList(ms)...)
		text = pan.MaskText(text)
	} else {
		rec = append(rec, 0)
	}
	rec = binary.AppendUvarint(rec, uint64(len(text)))
	rec = append(rec, text...)
	if s.file == nil && s.size+int64(len(rec)) > sharedMemory {
		f, err := os.CreateTemp("", "payrun-strings-*")
		if err != nil {
			return err
		}
		// Unnamed at once: nothing is left behind, whatever happens.
		_ = os.Remove(f.Name())
		if _, err := f.Write(s.mem); err != nil {
			f.Close()
			return err
		}
		s.file, s.mem = f, nil
	}
	if s.file != nil {
		if _, err := s.file.Write(rec); err != nil {
			return err
		}
	} else {
		s.mem = append(s.mem, rec...)
	}
	s.size += int64(len(rec))
	s.n++
	return nil
}

// get returns string i.
func (s *sharedStrings) get(i int) (sharedString, error) {
	if i < 0 || i >= s.n {
		return sharedString{}, fmt.Errorf("shared string %d does not exist (the workbook has %d)", i, s.n)
	}
	off := s.sparse[i/sharedStride]
	for k := i - i%sharedStride; ; k++ {
		flag, err := s.bytes(off, 1)
		if err != nil {
			return sharedString{}, err
		}
		off++
		var cards string
		if flag[0] == 1 {
			var c []byte
			if c, off, err = s.field(off); err != nil {
				return sharedString{}, err
			}
			cards = string(c)
		}
		text, next, err := s.field(off)
		if err != nil {
			return sharedString{}, err
		}
		if k == i {
			return sharedString{text: string(text), cards: cards}, nil
		}
		off = next
	}
}

// field reads a length-prefixed field at off and returns the offset after.
func (s *sharedStrings) field(off int64) ([]byte, int64, error) {
	head, err := s.bytes(off, int(min(binary.MaxVarintLen64, s.size-off)))
	if err != nil {
		return nil, 0, err
	}
	n, w := binary.Uvarint(head)
	if w <= 0 || n > uint64(s.size-off-int64(w)) {
		return nil, 0, errors.New("shared strings store is corrupt")
	}
	b, err := s.bytes(off+int64(w), int(n))
	return b, off + int64(w) + int64(n), err
}

// bytes returns n bytes at off, valid until the next call.
func (s *sharedStrings) bytes(off int64, n int) ([]byte, error) {
	if off < 0 || off+int64(n) > s.size {
		return nil, errors.New("shared strings store is corrupt")
	}
	if s.file == nil {
		return s.mem[off : off+int64(n)], nil
	}
	start := off - off%cacheBlock
	if off+int64(n) > start+cacheBlock {
		// Across a block boundary, or long: read directly.
		b := make([]byte, n)
		_, err := s.file.ReadAt(b, off)
		return b, err
	}
	s.tick++
	victim := 0
	for i := range s.cache {
		c := &s.cache[i]
		if c.off == start {
			c.used = s.tick
			return c.data[off-start : off-start+int64(n)], nil
		}
		if c.used < s.cache[victim].used {
			victim = i
		}
	}
	c := &s.cache[victim]
	if c.data == nil {
		c.data = make([]byte, cacheBlock)
	}
	m, err := s.file.ReadAt(c.data[:min(cacheBlock, s.size-start)], start)
	if err != nil && !errors.Is(err, io.EOF) {
		c.off = -1
		return nil, err
	}
	c.data = c.data[:cap(c.data)]
	c.off, c.used = start, s.tick
	if int64(m) < off-start+int64(n) {
		return nil, errors.New("shared strings store is short")
	}
	return c.data[off-start : off-start+int64(n)], nil
}

func (s *sharedStrings) close() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
}
