package batch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/payrun/payrun/internal/pan"
)

// ErrInput is wrapped by every refusal of an input file as a whole (too
// large, too many rows, not a payout file, an unusable header, a missing
// sheet): the operator must fix the file, payrun cannot.
var ErrInput = errors.New("invalid input file")

// Refusals of a whole file. Each wraps ErrInput.
var (
	ErrTooLarge    = fmt.Errorf("%w: file is larger than the configured maximum", ErrInput)
	ErrTooManyRows = fmt.Errorf("%w: file has more rows than the configured maximum", ErrInput)
	ErrFormat      = fmt.Errorf("%w: not a CSV or XLSX payout file", ErrInput)
	ErrNoSheet     = fmt.Errorf("%w: sheet not found", ErrInput)
	ErrEmpty       = fmt.Errorf("%w: file has no header row", ErrInput)
)

// File kinds.
const (
	KindCSV  = "csv"
	KindXLSX = "xlsx"
)

// Encodings a CSV file is read in.
const (
	EncodingUTF8        = "utf-8"
	EncodingUTF8BOM     = "utf-8-bom"
	EncodingWindows1252 = "windows-1252"
)

// ReadOptions configure a reader; the zero value reads any file with the
// canonical headers and no caps.
type ReadOptions struct {
	// Aliases maps a canonical column to the header names a team uses.
	Aliases map[string][]string
	// Sheet is the XLSX sheet to read ("" = the first).
	Sheet string
	// MaxBytes refuses a larger file before reading it (0 = no cap).
	MaxBytes int64
	// MaxRows refuses a file with more data rows (0 = no cap).
	MaxRows int
}

// Source describes the file being read: what it is and how its columns
// map to the canonical schema.
type Source struct {
	Path, Name string // the path as given, and its base name for messages
	Kind       string // KindCSV or KindXLSX
	Delimiter  rune   // CSV only
	Encoding   string // CSV only
	Sheet      string // XLSX only
	// HeaderRow is the row of the header (1 unless blank rows precede it).
	HeaderRow int
	// Header holds the header cells as in the file (card numbers masked).
	Header []string
	// Columns maps a canonical column to its 0-based index in Header.
	Columns map[string]int
	// Extra names the header cells that are not canonical columns, and
	// ExtraIndex their indexes; Row.Extra holds their values.
	Extra      []string
	ExtraIndex []int
}

// Has reports whether the file has the canonical column.
func (s Source) Has(column string) bool {
	_, ok := s.Columns[column]
	return ok
}

// Reader streams the rows of a payout file: its memory does not grow with
// the number of rows. It is not safe for concurrent use.
type Reader struct {
	src  Source
	rows rowSource
	max  int
	n    int
	err  error
	// first is the first data row (or the error in its place), read by
	// OpenFile to refuse a file without rows; Next returns it first.
	first    *Row
	firstErr error
}

// rowSource is one file format's row stream.
type rowSource interface {
	next() (Row, error)
	close() error
}

// OpenFile opens a CSV or XLSX payout file, reads its header and matches
// it to the canonical schema. The format comes from the content (an XLSX
// file is a zip archive) and then from the extension. A header that cannot
// be used is a *HeaderError listing every problem.
//
// A path that holds a card number is refused before the file is read, as
// a header that cannot be used is: a batch keeps its file's name and path,
// and every report and message shows them. (The daemon's intake masks the number in what it takes from the
// inbox; a file given on the command line is renamed by its owner.)
func OpenFile(path string, o ReadOptions) (*Reader, error) {
	if pan.Contains(path) {
		return nil, &HeaderError{File: pan.MaskText(filepath.Base(path)), Row: 1,
			Problems: []string{"the file's name (or its folder's) holds a card number; rename it"}}
	}
	matcher, err := newHeaderMatcher(o.Aliases)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	name := filepath.Base(path)
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is a directory", ErrFormat, name)
	}
	if o.MaxBytes > 0 && st.Size() > o.MaxBytes {
		f.Close()
		return nil, fmt.Errorf("%w: %s is %d bytes, the maximum is %d (input.max_bytes)", ErrTooLarge, name, st.Size(), o.MaxBytes)
	}
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	src := Source{Path: path, Name: name}
	ext := strings.ToLower(filepath.Ext(path))
	isZip := n == 4 && bytes.Equal(magic[:], []byte("PK\x03\x04"))
	var rows rowSource
	switch {
	case isZip:
		if ext != ".xlsx" && ext != ".xlsm" && ext != "" {
			f.Close()
			return nil, fmt.Errorf("%w: %s is a zip archive but not named .xlsx", ErrFormat, name)
		}
		f.Close()
		src.Kind = KindXLSX
		rows, err = openXLSX(&src, o, matcher)
	case ext == ".xls" || (n == 4 && bytes.Equal(magic[:], []byte{0xd0, 0xcf, 0x11, 0xe0})):
		f.Close()
		return nil, fmt.Errorf("%w: %s is an old Excel 97-2003 workbook; save it as .xlsx or .csv", ErrFormat, name)
	case ext == ".xlsx":
		f.Close()
		return nil, fmt.Errorf("%w: %s is named .xlsx but is not a workbook", ErrFormat, name)
	default:
		src.Kind = KindCSV
		rows, err = openCSV(f, &src, matcher)
	}
	if err != nil {
		return nil, err
	}
	rd := &Reader{src: src, rows: rows, max: o.MaxRows}
	// A header without a single row is refused: an empty batch is a
	// mistake (the wrong sheet, the rows deleted), never an order to pay
	// nothing. It is a header problem, so that every caller refuses it
	// before anything is written.
	first, err := rows.next()
	if errors.Is(err, io.EOF) {
		rows.close()
		return nil, &HeaderError{File: src.Name, Sheet: src.Sheet, Row: src.HeaderRow,
			Problems: []string{"the file has a header but no payout rows"}}
	}
	rd.first, rd.firstErr = &first, err
	return rd, nil
}

// Source describes the file and its columns.
func (r *Reader) Source() Source { return r.src }

// Next returns the next non-blank data row, or io.EOF after the last.
// Card numbers in its values are masked, and recorded for the validator.
//
// An error that concerns one row only (a CSV line with a broken quote) is a
// *RowError: the reader can go on with the next row. Any other error is
// final and is returned again by every later call. More than MaxRows data
// rows is ErrTooManyRows.
func (r *Reader) Next() (Row, error) {
	if r.err != nil {
		return Row{}, r.err
	}
	var row Row
	var err error
	if r.first != nil {
		row, err = *r.first, r.firstErr
		r.first, r.firstErr = nil, nil
	} else {
		row, err = r.rows.next()
	}
	if err != nil {
		var re *RowError
		if errors.As(err, &re) {
			return Row{}, err
		}
		r.err = err
		return Row{}, err
	}
	r.n++
	if r.max > 0 && r.n > r.max {
		r.err = fmt.Errorf("%w: %s has more than %d data rows (input.max_rows)", ErrTooManyRows, where(r.src.Name, r.src.Sheet), r.max)
		return Row{}, r.err
	}
	// No card number leaves the reader in clear (the validator refuses
	// the row).
	row.maskCards(r.src.Extra)
	return row, nil
}

// Close releases the file. It is safe to call more than once.
func (r *Reader) Close() error {
	if r.rows == nil {
		return nil
	}
	err := r.rows.close()
	r.rows = nil
	if r.err == nil {
		r.err = errors.New("batch: reader is closed")
	}
	return err
}

// where names a file, and its sheet when there is one, for messages.
func where(file, sheet string) string {
	if sheet != "" {
		return file + " sheet " + sheet
	}
	return file
}
