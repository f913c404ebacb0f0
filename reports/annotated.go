package reports

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/reconcile"
)

// AnnotationColumns are appended to the input file's own columns.
var AnnotationColumns = []string{"payrun_status", "payrun_category", "payrun_reason", "payrun_provider_reference", "payrun_fee"}

// LineLookup finds the reconciliation line of an input row by its number
// (Row.Number, the row as the spreadsheet shows it).
type LineLookup func(row int) (reconcile.Line, bool)

// LinesByRow indexes the lines of one input file (lines of other files
// and unexpected payouts are left out).
func LinesByRow(lines []reconcile.Line, file string) LineLookup {
	idx := make(map[int]int, len(lines))
	for i := range lines {
		if lines[i].Row > 0 && (file == "" || lines[i].File == file) {
			idx[lines[i].Row] = i
		}
	}
	return func(row int) (reconcile.Line, bool) {
		i, ok := idx[row]
		if !ok {
			return reconcile.Line{}, false
		}
		return lines[i], true
	}
}

// WriteAnnotated writes to dst the input file src, re-read with ro (the
// same aliases and sheet as when it was ingested), in its own format: a CSV
// keeps its delimiter and encoding (Windows-1252 stays Windows-1252, a BOM
// stays), an XLSX stays a workbook with the same sheet name. Every original
// column, extra columns included, is kept in order, and AnnotationColumns
// are appended. Cell safety applies: values are neutralised, account and
// document numbers masked unless o.Unmasked, card numbers masked. The
// copy holds no card number in clear whatever the file holds: batch's
// reader masks them in every value and header cell as it reads, before
// anything here sees them (MaskCards below is the second net).
func WriteAnnotated(dst, src string, ro batch.ReadOptions, lookup LineLookup, o Options) (err error) {
	r, err := batch.OpenFile(src, ro)
	if err != nil {
		return err
	}
	defer r.Close()
	s := r.Source()
	var out annotatedSink
	switch s.Kind {
	case batch.KindCSV:
		out, err = newCSVSink(dst, s)
	case batch.KindXLSX:
		out, err = newXLSXSink(dst, s)
	default:
		return fmt.Errorf("annotate %s: unknown kind %q", s.Name, s.Kind)
	}
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.close(err == nil); err == nil {
			err = cerr
		}
	}()
	layout := newAnnotatedLayout(s)
	if err := out.header(append(append([]string(nil), s.Header...), AnnotationColumns...)); err != nil {
		return err
	}
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		var rowErr *batch.RowError
		if errors.As(err, &rowErr) {
			cells := make([]annotatedCell, len(s.Header))
			cells = append(cells, annotatedCell{s: "unreadable"}, annotatedCell{}, annotatedCell{s: text(rowErr.Reason)}, annotatedCell{}, annotatedCell{})
			if err := out.row(cells); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := out.row(layout.cells(&row, lookup, o)); err != nil {
			return err
		}
	}
}

// annotatedCell is text, or an exact amount when currency is set (a CSV
// writes s when there is one, the amount otherwise; an XLSX the amount).
type annotatedCell struct {
	s        string
	minor    int64
	currency string
}

// annotatedLayout maps the file's columns back from a Row.
type annotatedLayout struct {
	header    []string
	canonical []string // per header index: the canonical column, or ""
	extra     []int    // per header index: index into Row.Extra, or -1
}

func newAnnotatedLayout(s batch.Source) annotatedLayout {
	l := annotatedLayout{header: s.Header, canonical: make([]string, len(s.Header)), extra: make([]int, len(s.Header))}
	for i := range l.extra {
		l.extra[i] = -1
	}
	for c, i := range s.Columns {
		if i < len(s.Header) {
			l.canonical[i] = c
		}
	}
	for j, i := range s.ExtraIndex {
		if i < len(s.Header) {
			l.extra[i] = j
		}
	}
	return l
}

func (l annotatedLayout) cells(row *batch.Row, lookup LineLookup, o Options) []annotatedCell {
	cells := make([]annotatedCell, 0, len(l.canonical)+len(AnnotationColumns))
	for i, c := range l.canonical {
		var v string
		switch {
		case c != "":
			v = row.Get(c)
		case l.extra[i] >= 0 && l.extra[i] < len(row.Extra):
			v = row.Extra[l.extra[i]]
		}
		switch c {
		case batch.ColAmount:
			// An amount stays a number, so that the copy adds up in a
			// spreadsheet; one that is not an amount of its currency
			// (an invalid row) stays the text it was.
			// A CSV copy keeps the amount as the file wrote it.
			if m, err := money.Parse(v, row.Currency); err == nil {
				cells = append(cells, annotatedCell{s: text(v), minor: m.Minor, currency: m.Currency})
				continue
			}
			v = text(v)
		case batch.ColPayoutID:
			v = ident(v)
		case batch.ColAccountNumber, batch.ColDocumentNumber, batch.ColCCI:
			v = o.sensitive(v)
		case "":
			v = o.inputValue(l.header[i], v) // an extra column: judged by its header
		default:
			v = text(v)
		}
		cells = append(cells, annotatedCell{s: v})
	}
	line, ok := lookup(row.Number)
	if !ok {
		return append(cells, annotatedCell{s: "not processed"}, annotatedCell{}, annotatedCell{}, annotatedCell{}, annotatedCell{})
	}
	fee := annotatedCell{}
	if _, known := money.Lookup(line.Currency); known {
		fee = annotatedCell{minor: line.Fee, currency: line.Currency}
	}
	return append(cells, annotatedCell{s: text(line.State)}, annotatedCell{s: line.Category.Label()},
		annotatedCell{s: text(line.Reason)}, annotatedCell{s: ident(line.ProviderRef)}, fee)
}

// annotatedSink writes the annotated copy in one format.
type annotatedSink interface {
	header([]string) error
	row([]annotatedCell) error
	close(ok bool) error
}

// csvSink writes the annotated CSV into a pendingFile, so that dst is
// replaced whole or not at all, as WriteFile would; it cannot use WriteFile
// itself because the rows arrive one call at a time.
type csvSink struct {
	f  *pendingFile
	bw *bufio.Writer
	cw *csv.Writer
}

func newCSVSink(dst string, s batch.Source) (*csvSink, error) {
	f, err := newPendingFile(dst, 0o600)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 64<<10)
	var enc io.Writer = bw
	switch s.Encoding {
	case batch.EncodingWindows1252:
		enc = encoding.ReplaceUnsupported(charmap.Windows1252.NewEncoder()).Writer(bw)
	case batch.EncodingUTF8BOM:
		if _, err := bw.WriteString(bom); err != nil {
			f.cleanup()
			return nil, err
		}
	}
	cw := csv.NewWriter(enc)
	if s.Delimiter != 0 {
		cw.Comma = s.Delimiter
	}
	cw.UseCRLF = true // what Excel writes, and what it reads back most reliably
	return &csvSink{f: f, bw: bw, cw: cw}, nil
}

func (c *csvSink) header(h []string) error { return c.cw.Write(h) }

func (c *csvSink) row(cells []annotatedCell) error {
	rec := make([]string, len(cells))
	for i, x := range cells {
		if x.currency != "" && x.s == "" {
			rec[i] = decimal(x.minor, x.currency)
		} else {
			rec[i] = x.s
		}
	}
	return c.cw.Write(rec)
}

func (c *csvSink) close(ok bool) error {
	defer c.f.cleanup()
	c.cw.Flush()
	err := c.cw.Error()
	if err == nil {
		err = c.bw.Flush()
	}
	if err != nil || !ok {
		return err
	}
	return c.f.commit()
}

type xlsxSink struct {
	f   *excelize.File
	st  *styles
	sw  *excelize.StreamWriter
	dst string
	n   int
	buf []any
}

func newXLSXSink(dst string, s batch.Source) (*xlsxSink, error) {
	f := excelize.NewFile()
	// The reader masks a card number in the sheet's name with '*', which
	// Excel refuses in a sheet's name.
	sheet := strings.ReplaceAll(s.Sheet, "*", "#")
	if sheet == "" {
		sheet = "Sheet1"
	}
	if sheet != "Sheet1" {
		if err := f.SetSheetName("Sheet1", sheet); err != nil {
			f.Close()
			return nil, err
		}
	}
	st, err := newStyles(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &xlsxSink{f: f, st: st, sw: sw, dst: dst}, nil
}

func (x *xlsxSink) header(h []string) error {
	for i := range h {
		if err := x.sw.SetColWidth(i+1, i+1, 16); err != nil {
			return err
		}
	}
	if err := x.sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	row := make([]any, len(h))
	for i, v := range h {
		row[i] = excelize.Cell{StyleID: x.st.header, Value: Neutralise(v)}
	}
	x.n = 1
	return x.sw.SetRow("A1", row)
}

func (x *xlsxSink) row(cells []annotatedCell) error {
	x.buf = x.buf[:0]
	for _, c := range cells {
		if c.currency != "" {
			x.buf = append(x.buf, x.st.money(c.minor, c.currency))
		} else {
			x.buf = append(x.buf, c.s)
		}
	}
	x.n++
	return x.sw.SetRow(cellName(1, x.n), x.buf)
}

func (x *xlsxSink) close(ok bool) error {
	defer x.f.Close()
	if !ok {
		return nil
	}
	if err := x.sw.Flush(); err != nil {
		return err
	}
	return WriteFile(x.dst, 0o600, func(w io.Writer) error {
		err := writeStreamed(x.f, w)
		return err
	})
}
