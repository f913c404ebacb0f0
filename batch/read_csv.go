package batch

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/gocarina/gocsv"
	"golang.org/x/text/encoding/charmap"
)

// csvChunk is how many records are decoded by gocsv at a time: enough to
// amortise its per-call header work, few enough that memory stays flat.
const csvChunk = 256

// Bounds on what one CSV file can make the reader hold, whatever it holds:
// a record (a row, quoted line breaks included) of more than maxRecord
// bytes is not a payout row (Excel's cells stop at 32,767 characters), and
// a chunk stops early once its values pass maxChunkBytes.
const (
	maxRecord     = 4 << 20
	maxChunkBytes = 16 << 20
)

// errRecordTooLarge refuses a file with a record over maxRecord.
var errRecordTooLarge = fmt.Errorf("%w: a row of more than %d MiB: not a payout file", ErrInput, maxRecord>>20)

// recordCap counts the bytes read since the last record began and fails
// the read once they pass maxRecord, so that encoding/csv, which has no
// bound of its own, never holds a huge record. The count runs ahead by at
// most the bufio buffer above it.
type recordCap struct {
	r io.Reader
	n int64
}

func (c *recordCap) Read(p []byte) (int, error) {
	if c.n > maxRecord {
		return 0, errRecordTooLarge
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// csvRows streams a CSV file: encoding/csv does the lexing (so that the
// delimiter, quotes and CRLF are ours to configure) and gocsv maps each
// chunk of records onto Row through its decoder API.
type csvRows struct {
	f      *os.File
	cap    *recordCap
	cr     *csv.Reader
	src    *Source
	width  int      // number of header cells
	header []string // canonical names of the matched columns, for gocsv
	index  []int    // their positions in a record

	flat    []string // backing store of the chunk's compact records
	records [][]string
	lines   []int
	extras  [][]string
	decoded []Row
	pos     int
	pending error // a row error met while filling the chunk, returned after it
	done    bool
}

// chunkDecoder hands gocsv one header and a chunk of records.
type chunkDecoder [][]string

func (d chunkDecoder) GetCSVRows() ([][]string, error) { return d, nil }

// UnmarshalCSVWithFields is gocsv's hook for a whole struct
// (gocsv.TypeUnmarshalCSVWithFields): gocsv hands each cell of a record
// with its canonical column name, and the row sets it directly instead of
// through gocsv's reflection per field, a third of the CSV reader's time.
func (r *Row) UnmarshalCSVWithFields(column, value string) error {
	r.set(column, value)
	return nil
}

func openCSV(f *os.File, src *Source, m headerMatcher) (rowSource, error) {
	enc, skip, err := sniffEncoding(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s: %w", src.Name, err)
	}
	if _, err := f.Seek(skip, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	src.Encoding = enc
	var in io.Reader = f
	if enc == EncodingWindows1252 {
		in = charmap.Windows1252.NewDecoder().Reader(f)
	}
	rc := &recordCap{r: in}
	br := bufio.NewReaderSize(rc, bufferFor(f))
	src.Delimiter = sniffDelimiter(br)

	cr := csv.NewReader(br)
	cr.Comma = src.Delimiter
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true

	c := &csvRows{f: f, cap: rc, cr: cr, src: src}
	var header []string
	line := 0
	for {
		rc.n = 0
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			f.Close()
			return nil, fmt.Errorf("%w: %s is empty", ErrEmpty, src.Name)
		}
		if err != nil {
			f.Close()
			return nil, &HeaderError{File: src.Name, Row: parseErrorLine(err), Problems: []string{err.Error()}}
		}
		if !blankRecord(rec) {
			header = append([]string(nil), rec...)
			line, _ = cr.FieldPos(0)
			break
		}
	}
	if err := m.match(src, header, line); err != nil {
		f.Close()
		return nil, err
	}
	c.width = len(header)
	for _, col := range CanonicalColumns {
		if i, ok := src.Columns[col]; ok {
			c.header = append(c.header, col)
			c.index = append(c.index, i)
		}
	}
	return c, nil
}

// bufferFor sizes a read buffer: 64 KiB, or the file's size when smaller,
// so that a small file costs little.
func bufferFor(f *os.File) int {
	const size = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() < size {
		return max(int(st.Size()), 16)
	}
	return size
}

func (c *csvRows) next() (Row, error) {
	for {
		for c.pos >= len(c.decoded) {
			if c.pending != nil {
				err := c.pending
				c.pending = nil
				return Row{}, err
			}
			if c.done {
				return Row{}, io.EOF
			}
			if err := c.fill(); err != nil {
				return Row{}, err
			}
		}
		r := c.decoded[c.pos]
		r.Number = c.lines[c.pos]
		r.Extra = c.extras[c.pos]
		c.pos++
		r.trim()
		// A row whose only values sit under empty header cells has
		// nothing to read: it is blank.
		if !r.blank() {
			return r, nil
		}
	}
}

// fill reads the next chunk of non-blank records and decodes it.
func (c *csvRows) fill() error {
	n := len(c.index)
	if c.flat == nil {
		// The chunk's buffers, allocated on the first fill: a file
		// refused at its header never needs them.
		c.flat = make([]string, csvChunk*n)
		c.records = make([][]string, 0, csvChunk+1)
		c.decoded = make([]Row, 0, csvChunk)
	}
	c.records = append(c.records[:0], c.header)
	c.lines = c.lines[:0]
	c.extras = c.extras[:0]
	c.pos = 0
	held := 0
	for len(c.lines) < csvChunk && held < maxChunkBytes {
		c.cap.n = 0
		rec, err := c.cr.Read()
		if errors.Is(err, io.EOF) {
			c.done = true
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("reading %s: %w", c.src.Name, err)
			}
			c.pending = &RowError{File: c.src.Name, Row: pe.StartLine,
				Reason: fmt.Sprintf("the line cannot be read as %s: %v", delimiterName(c.src.Delimiter), pe.Err)}
			break
		}
		if blankRecord(rec) {
			continue
		}
		line, _ := c.cr.FieldPos(0)
		if len(rec) > c.width && !blankRecord(rec[c.width:]) {
			// An unquoted delimiter inside a value shifts every later
			// column: reading on would put one column's value in another.
			c.pending = &RowError{File: c.src.Name, Row: line, Column: "",
				Reason: fmt.Sprintf("the line has %d values but the header has %d columns (a %s inside a value must be quoted)",
					len(rec), c.width, delimiterName(c.src.Delimiter))}
			break
		}
		k := len(c.lines)
		vals := c.flat[k*n : (k+1)*n : (k+1)*n]
		for j, i := range c.index {
			vals[j] = ""
			if i < len(rec) {
				vals[j] = rec[i]
				held += len(rec[i])
			}
		}
		var extra []string
		if len(c.src.ExtraIndex) > 0 {
			extra = make([]string, len(c.src.ExtraIndex))
			for j, i := range c.src.ExtraIndex {
				if i < len(rec) {
					extra[j] = strings.TrimSpace(rec[i])
				}
			}
		}
		c.records = append(c.records, vals)
		c.lines = append(c.lines, line)
		c.extras = append(c.extras, extra)
	}
	c.decoded = c.decoded[:len(c.lines)]
	if len(c.lines) == 0 {
		return nil
	}
	if err := gocsv.UnmarshalDecoder(chunkDecoder(c.records), &c.decoded); err != nil {
		return fmt.Errorf("reading %s: %w", c.src.Name, err)
	}
	return nil
}

func (c *csvRows) close() error { return c.f.Close() }

func blankRecord(rec []string) bool {
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			return false
		}
	}
	return true
}

func parseErrorLine(err error) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.StartLine
	}
	return 1
}

func delimiterName(d rune) string {
	switch d {
	case ';':
		return "semicolon-separated line"
	case '\t':
		return "tab-separated line"
	}
	return "comma-separated line"
}

// sniffEncoding tells UTF-8 (with or without a byte order mark) from
// Windows-1252, the encoding Excel in Latin America saves CSV in. A file is
// UTF-8 only if every byte of it is: the whole file is scanned once, in
// constant memory, because a lone "Ñ" may sit on the last line. It returns
// how many bytes to skip (the BOM).
func sniffEncoding(f *os.File) (string, int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	var bom [3]byte
	n, err := io.ReadFull(f, bom[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", 0, err
	}
	if n == 3 && bom == [3]byte{0xef, 0xbb, 0xbf} {
		return EncodingUTF8BOM, 3, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	ok, err := validUTF8(f)
	if err != nil {
		return "", 0, err
	}
	if ok {
		return EncodingUTF8, 0, nil
	}
	return EncodingWindows1252, 0, nil
}

// validUTF8 reads r to its end (or to the first invalid byte) and reports
// whether it is valid UTF-8.
func validUTF8(f *os.File) (bool, error) {
	size := bufferFor(f)
	buf := make([]byte, size+utf8.UTFMax)
	r := f
	carry := 0
	for {
		n, err := r.Read(buf[carry : carry+size])
		data := buf[:carry+n]
		end := len(data)
		if err == nil {
			// Hold back a rune cut in two by the read.
			i := len(data) - 1
			for i >= 0 && i > len(data)-utf8.UTFMax && !utf8.RuneStart(data[i]) {
				i--
			}
			if i >= 0 && !utf8.FullRune(data[i:]) {
				end = i
			}
		}
		if !utf8.Valid(data[:end]) {
			return false, nil
		}
		carry = copy(buf, data[end:])
		if errors.Is(err, io.EOF) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

// sniffDelimiter picks ',', ';' or tab: whichever occurs most often
// outside quotes in the header line. Excel in Spanish saves with ';'.
func sniffDelimiter(br *bufio.Reader) rune {
	b, _ := br.Peek(64 << 10)
	counts := map[byte]int{}
	quoted := false
	for _, c := range b {
		if c == '"' {
			quoted = !quoted
			continue
		}
		if quoted {
			continue
		}
		if c == '\n' {
			if counts[',']+counts[';']+counts['\t'] > 0 {
				break
			}
			continue // a blank first line: look at the next
		}
		if c == ',' || c == ';' || c == '\t' {
			counts[c]++
		}
	}
	best, d := counts[','], ','
	if counts[';'] > best {
		best, d = counts[';'], ';'
	}
	if counts['\t'] > best {
		d = '\t'
	}
	return rune(d)
}
