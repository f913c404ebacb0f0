package batch

import (
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
)

// xlsxRows streams one worksheet through excelize's Rows iterator. Cells
// are read with RawCellValue: the text as stored, never formatted and never
// through a float64, so "00123456" stays "00123456" and a numeric amount
// cell gives its stored decimal text ("1500.5"), which money.Parse then
// takes exactly or refuses.
type xlsxRows struct {
	f    *excelize.File
	rows *excelize.Rows
	src  *Source
	row  int // sheet row of the last Next, 1-based
	cols []string
}

// rawCells is how every cell is read.
var rawCells = excelize.Options{RawCellValue: true}

func openXLSX(src *Source, o ReadOptions, m headerMatcher) (rowSource, error) {
	opts := excelize.Options{RawCellValue: true}
	if o.MaxBytes > 0 {
		// A workbook is a zip: cap what it may inflate to, so that a small
		// hostile file cannot fill the disk. Large sheets go to temporary
		// files, not memory (UnzipXMLSizeLimit).
		opts.UnzipSizeLimit = max(o.MaxBytes*64, 64<<20)
		opts.UnzipXMLSizeLimit = min(16<<20, opts.UnzipSizeLimit)
	}
	f, err := excelize.OpenFile(src.Path, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %s cannot be opened as a workbook: %v", ErrFormat, src.Name, err)
	}
	sheets := f.GetSheetList()
	sheet := ""
	if o.Sheet == "" {
		if len(sheets) > 0 {
			sheet = sheets[0]
		}
	} else {
		for _, s := range sheets {
			if s == o.Sheet {
				sheet = s
				break
			}
		}
		if sheet == "" {
			for _, s := range sheets {
				if strings.EqualFold(strings.TrimSpace(s), strings.TrimSpace(o.Sheet)) {
					sheet = s
					break
				}
			}
		}
	}
	if sheet == "" {
		f.Close()
		return nil, fmt.Errorf("%w: %s has no sheet %q; its sheets are: %s", ErrNoSheet, src.Name, o.Sheet, quoteList(sheets))
	}
	src.Sheet = sheet
	rows, err := f.Rows(sheet)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s sheet %s: %v", ErrFormat, src.Name, sheet, err)
	}
	x := &xlsxRows{f: f, rows: rows, src: src}
	for {
		cols, err := x.advance()
		if err == io.EOF {
			x.close()
			return nil, fmt.Errorf("%w: %s has no header row", ErrEmpty, where(src.Name, sheet))
		}
		if err != nil {
			x.close()
			return nil, err
		}
		if !blankRecord(cols) {
			if err := m.match(src, cols, x.row); err != nil {
				x.close()
				return nil, err
			}
			return x, nil
		}
	}
}

// advance moves to the next sheet row, blank or not.
func (x *xlsxRows) advance() ([]string, error) {
	if !x.rows.Next() {
		if err := x.rows.Error(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", where(x.src.Name, x.src.Sheet), err)
		}
		return nil, io.EOF
	}
	// Next is called once per sheet row, gaps included, so counting the
	// calls gives the row number the spreadsheet shows.
	x.row++
	cols, err := x.rows.Columns(rawCells)
	if err != nil {
		return nil, fmt.Errorf("reading %s row %d: %w", where(x.src.Name, x.src.Sheet), x.row, err)
	}
	return cols, nil
}

func (x *xlsxRows) next() (Row, error) {
	for {
		cols, err := x.advance()
		if err != nil {
			return Row{}, err
		}
		if blankRecord(cols) {
			continue
		}
		r := Row{Number: x.row}
		for c, i := range x.src.Columns {
			if i < len(cols) {
				r.set(c, cols[i])
			}
		}
		if len(x.src.ExtraIndex) > 0 {
			r.Extra = make([]string, len(x.src.ExtraIndex))
			for j, i := range x.src.ExtraIndex {
				if i < len(cols) {
					r.Extra[j] = strings.TrimSpace(cols[i])
				}
			}
		}
		// Cells right of the header (an operator's note) are positioned,
		// unlike CSV values, so they cannot shift a column: they are left out.
		r.trim()
		if r.blank() {
			continue
		}
		return r, nil
	}
}

func (x *xlsxRows) close() error {
	err := x.rows.Close()
	if cerr := x.f.Close(); err == nil {
		err = cerr
	}
	return err
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
