package batch

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/payrun/payrun/internal/pan"
)

// Excel's sheet bounds.
const (
	xlsxMaxRows    = 1 << 20 // 1,048,576
	xlsxMaxColumns = 1 << 14 // 16,384 (XFD)
	// xlsxMaxRowText bounds the text of one row: a payout row is far
	// smaller, and a huge one would sit in memory whole.
	xlsxMaxRowText = 4 << 20
)

// xlsxRows streams one worksheet of a workbook: its XML is read token by
// token, never whole, and its cells are the text as stored, never
// formatted: "00123456" stays "00123456". A numeric amount cell is read at
// Excel's precision (excelDecimal), so that 118.00000000000001, what =A2*1.18
// stores, reads as the 118 Excel shows.
//
// excelize is not used to read: it reads the whole file into memory and the
// shared strings whole, which a file at the size limit cannot afford (it
// still writes the template and the reports).
type xlsxRows struct {
	wb     *workbook
	sst    *sharedStrings
	styles *cellStyles
	x      *xmlStream
	src    *Source
	row    int // sheet row of the last row read, 1-based
	width  int // columns kept: the header's (all while reading the header)
	amount int // the amount column's index, or -1
	done   bool
	// date1904 says the workbook counts days from 1904 (old Mac Excel),
	// for a date in a message.
	date1904 bool

	cells []xlsxCell
}

// xlsxCell is one cell's text, whether Excel stores it as a number, the
// card numbers masked in it as stored (shared strings only), and what
// Excel shows it as when that is not the number or text (a date, a
// boolean...).
type xlsxCell struct {
	text   string
	number bool
	cards  string
	kind   valueKind
}

// sheetRef is a sheet of the workbook: its name and its part.
type sheetRef struct {
	name, part string
	worksheet  bool
}

func openXLSX(src *Source, o ReadOptions, m headerMatcher) (rowSource, error) {
	wb, err := openWorkbook(src.Path, src.Name, o)
	if err != nil {
		return nil, err
	}
	x, err := openSheet(wb, src, o.Sheet)
	if err != nil {
		wb.close()
		return nil, err
	}
	x.amount = -1
	for {
		cells, err := x.nextRow()
		if err == io.EOF {
			x.close()
			return nil, fmt.Errorf("%w: %s has no header row", ErrEmpty, where(src.Name, src.Sheet))
		}
		if err != nil {
			x.close()
			return nil, err
		}
		if blankCells(cells) {
			continue
		}
		header := make([]string, len(cells))
		for i, c := range cells {
			header[i] = c.text
		}
		if err := m.match(src, header, x.row); err != nil {
			x.close()
			return nil, err
		}
		x.width = len(header)
		if i, ok := src.Columns[ColAmount]; ok {
			x.amount = i
		}
		return x, nil
	}
}

// openSheet finds the sheet to read (the first worksheet, or the one named,
// matched exactly and then ignoring case) and opens its XML and the shared
// strings.
func openSheet(wb *workbook, src *Source, want string) (*xlsxRows, error) {
	root := "xl/workbook.xml"
	rels, err := wb.relations("")
	if err != nil {
		return nil, err
	}
	for _, r := range rels {
		if strings.HasSuffix(r.typ, "/officeDocument") {
			root = r.target
		}
	}
	sheets, date1904, err := readSheetList(wb, root)
	if err != nil {
		return nil, err
	}
	wbRels, err := wb.relations(root)
	if err != nil {
		return nil, err
	}
	sstPart := path.Join(path.Dir(root), "sharedStrings.xml")
	stylesPart := path.Join(path.Dir(root), "styles.xml")
	for _, r := range wbRels {
		switch {
		case strings.HasSuffix(r.typ, "/sharedStrings"):
			sstPart = r.target
		case strings.HasSuffix(r.typ, "/styles"):
			stylesPart = r.target
		}
	}
	names := make([]string, 0, len(sheets))
	for i := range sheets {
		r, ok := wbRels[sheets[i].part]
		sheets[i].part, sheets[i].worksheet = r.target, ok && strings.HasSuffix(r.typ, "/worksheet")
		// A sheet's name is text from the file like a cell's: shown
		// (messages, the annotated copy's sheet) with card numbers masked.
		names = append(names, pan.MaskText(sheets[i].name))
	}
	var sheet *sheetRef
	if want == "" {
		for i := range sheets {
			if sheets[i].worksheet {
				sheet = &sheets[i]
				break
			}
		}
	} else {
		for i := range sheets {
			if sheets[i].name == want {
				sheet = &sheets[i]
				break
			}
		}
		for i := range sheets {
			if sheet == nil && strings.EqualFold(strings.TrimSpace(sheets[i].name), strings.TrimSpace(want)) {
				sheet = &sheets[i]
			}
		}
	}
	if sheet == nil {
		return nil, fmt.Errorf("%w: %s has no sheet %q; its sheets are: %s", ErrNoSheet, src.Name, pan.MaskText(want), quoteList(names))
	}
	if !sheet.worksheet {
		return nil, fmt.Errorf("%w: %s: sheet %q is not a worksheet (a chart?)", ErrNoSheet, src.Name, pan.MaskText(sheet.name))
	}
	src.Sheet = pan.MaskText(sheet.name)
	styles, err := readStyles(wb, stylesPart)
	if err != nil {
		return nil, err
	}
	sst, err := readSharedStrings(wb, sstPart)
	if err != nil {
		return nil, err
	}
	x, err := wb.open(sheet.part)
	if err != nil {
		sst.close()
		return nil, err
	}
	return &xlsxRows{wb: wb, sst: sst, styles: styles, x: x, src: src, date1904: date1904}, nil
}

// readSheetList reads the workbook part's sheets, in order, each with its
// relationship id in part, and whether its dates count from 1904.
func readSheetList(wb *workbook, root string) ([]sheetRef, bool, error) {
	x, err := wb.open(root)
	if err != nil {
		return nil, false, err
	}
	defer x.close()
	var out []sheetRef
	date1904 := false
	for {
		tok, err := x.next()
		if errors.Is(err, io.EOF) {
			return out, date1904, nil
		}
		if err != nil {
			return nil, false, err
		}
		se, ok := tok.(xml.StartElement)
		if ok && se.Name.Local == "workbookPr" {
			v := attr(se, "date1904")
			date1904 = v == "1" || v == "true"
		}
		if !ok || se.Name.Local != "sheet" {
			continue
		}
		if len(out) >= xlsxMaxEntries {
			return nil, false, xlsxErr(wb.name, "more than %d sheets", xlsxMaxEntries)
		}
		out = append(out, sheetRef{name: attr(se, "name"), part: attr(se, "id")})
	}
}

// nextRow reads the next <row> of the sheet: its cells up to the kept
// width, as stored. io.EOF after the last.
func (x *xlsxRows) nextRow() ([]xlsxCell, error) {
	if x.done {
		return nil, io.EOF
	}
	for {
		tok, err := x.x.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				x.done = true
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Local == "row" {
				return x.readRow(t)
			}
		case xml.EndElement:
			if t.Name.Local == "sheetData" {
				x.done = true
				return nil, io.EOF
			}
		}
	}
}

func (x *xlsxRows) readRow(se xml.StartElement) ([]xlsxCell, error) {
	n := x.row + 1
	if r := attr(se, "r"); r != "" {
		v, err := strconv.Atoi(r)
		if err != nil || v < 1 {
			return nil, xlsxErr(x.wb.name, "sheet %s: row number %q", x.src.Sheet, r)
		}
		n = v
	}
	switch {
	case n > xlsxMaxRows:
		return nil, xlsxErr(x.wb.name, "sheet %s: row %d is beyond Excel's last row (%d)", x.src.Sheet, n, xlsxMaxRows)
	case n <= x.row:
		return nil, xlsxErr(x.wb.name, "sheet %s: row %d comes after row %d", x.src.Sheet, n, x.row)
	}
	x.row = n
	limit := xlsxMaxColumns
	if x.width > 0 {
		// Cells right of the header (an operator's note) are positioned,
		// unlike CSV values, so they cannot shift a column: they are left
		// out.
		limit = x.width
	}
	x.cells = x.cells[:0]
	text, col := 0, 0
	for {
		tok, err := x.x.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, xlsxErr(x.wb.name, "sheet %s ends inside row %d", x.src.Sheet, n)
			}
			return nil, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Local == "row" {
				return x.cells, nil
			}
		case xml.StartElement:
			if t.Name.Local != "c" {
				if err := x.x.skip(); err != nil {
					return nil, err
				}
				continue
			}
			col++
			if ref := attr(t, "r"); ref != "" {
				c, ok := columnOf(ref)
				if !ok {
					return nil, xlsxErr(x.wb.name, "sheet %s row %d: cell reference %q", x.src.Sheet, n, ref)
				}
				col = c
			}
			if col > xlsxMaxColumns {
				return nil, xlsxErr(x.wb.name, "sheet %s row %d: a cell beyond Excel's last column", x.src.Sheet, n)
			}
			c, err := x.readCell(t)
			if err != nil {
				return nil, err
			}
			if col > limit || (c.text == "" && c.cards == "") {
				continue
			}
			if text += len(c.text); text > xlsxMaxRowText {
				return nil, fmt.Errorf("%w: %s row %d holds more than %d MiB of text", ErrInput, where(x.src.Name, x.src.Sheet), n, xlsxMaxRowText>>20)
			}
			for len(x.cells) < col {
				x.cells = append(x.cells, xlsxCell{})
			}
			x.cells[col-1] = c
		}
	}
}

// readCell reads a <c> element (just opened) by its type: a shared string
// (s), an inline string (inlineStr), a formula's text (str), a number (n,
// the default; its style says whether Excel shows it as a date, a time or
// a percentage), a boolean (b), an error (e) or a date (d). A formula cell
// gives its cached value.
func (x *xlsxRows) readCell(se xml.StartElement) (xlsxCell, error) {
	typ := attr(se, "t")
	var c xlsxCell
	var v string
	for {
		tok, err := x.x.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return c, xlsxErr(x.wb.name, "sheet %s ends inside a cell", x.src.Sheet)
			}
			return c, err
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if t.Name.Local != "c" {
				continue
			}
			switch typ {
			case "s":
				v = strings.TrimSpace(v)
				if v == "" {
					return c, nil
				}
				i, err := strconv.Atoi(v)
				if err != nil {
					return c, xlsxErr(x.wb.name, "sheet %s row %d: shared string index %q", x.src.Sheet, x.row, v)
				}
				s, err := x.sst.get(i)
				if err != nil {
					return c, xlsxErr(x.wb.name, "sheet %s row %d: %v", x.src.Sheet, x.row, err)
				}
				c.text, c.cards = s.text, s.cards
			case "inlineStr":
				// set from <is> below
			case "", "n":
				c.text, c.number = v, true
				c.kind = x.styles.kind(attr(se, "s"))
				// A card number keyed as a number may be stored in
				// scientific notation ("4.111111111111111E+15"), every
				// digit there: read as the digits it stands for.
				if d, ok := plainNumber(v); ok {
					if ms := pan.Find(d); len(ms) > 0 {
						c.text, c.cards = pan.MaskText(d), maskedList(ms)
					}
				}
			case "b":
				c.text, c.kind = v, kindBoolean
			case "e":
				c.text, c.kind = v, kindError
			case "d":
				c.text, c.kind = v, kindDate
			default:
				c.text = v
			}
			return c, nil
		case xml.StartElement:
			switch t.Name.Local {
			case "v":
				if v, err = x.x.text(); err != nil {
					return c, err
				}
			case "is":
				s, err := richText(x.x)
				if err != nil {
					return c, err
				}
				c.text = s
			default:
				if err := x.x.skip(); err != nil {
					return c, err
				}
			}
		}
	}
}

// columnOf returns the 1-based column of a cell reference ("AB12" -> 28).
func columnOf(ref string) (int, bool) {
	col, i := 0, 0
	for ; i < len(ref); i++ {
		c := ref[i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c < 'A' || c > 'Z' {
			break
		}
		if col = col*26 + int(c-'A') + 1; col > xlsxMaxColumns {
			return 0, false
		}
	}
	if i == 0 {
		return 0, false
	}
	return col, true
}

func blankCells(cells []xlsxCell) bool {
	for _, c := range cells {
		if strings.TrimSpace(c.text) != "" {
			return false
		}
	}
	return true
}

func (x *xlsxRows) next() (Row, error) {
	for {
		cells, err := x.nextRow()
		if err != nil {
			return Row{}, err
		}
		if blankCells(cells) {
			continue
		}
		r := Row{Number: x.row}
		for c, i := range x.src.Columns {
			if i >= len(cells) {
				continue
			}
			v := cells[i].text
			if i == x.amount && cells[i].number && !pan.Contains(v) {
				v = excelDecimal(v)
			}
			if i == x.amount && cells[i].kind != kindPlain {
				// 46000 formatted as a date is 2025-12-09 to whoever
				// wrote it, not 46,000.00: refused, whatever the number.
				r.refused = append(r.refused, cellRefusal{column: c, reason: amountRefusal(cells[i].kind, strings.TrimSpace(cells[i].text), x.date1904)})
			}
			r.set(c, v)
			if cells[i].cards != "" {
				r.cards = append(r.cards, cardFound{column: c, masked: cells[i].cards})
			}
		}
		if len(x.src.ExtraIndex) > 0 {
			r.Extra = make([]string, len(x.src.ExtraIndex))
			for j, i := range x.src.ExtraIndex {
				if i < len(cells) {
					r.Extra[j] = strings.TrimSpace(cells[i].text)
					if cells[i].cards != "" {
						r.cards = append(r.cards, cardFound{column: x.src.Extra[j], masked: cells[i].cards})
					}
				}
			}
		}
		r.trim()
		if r.blank() {
			continue
		}
		return r, nil
	}
}

func (x *xlsxRows) close() error {
	err := x.x.close()
	x.sst.close()
	if cerr := x.wb.close(); err == nil {
		err = cerr
	}
	return err
}

// excelDecimal returns a number as stored in a cell ("118.00000000000001",
// "1.1800000000000001E+2") as Excel shows it: rounded to 15 significant
// digits (half away from zero), in plain decimal notation without trailing
// zeros ("118"). The rounding is done on the decimal digits, never through
// a float64. Text that is not a number is returned as it is, for the
// amount check to refuse.
func excelDecimal(s string) string {
	neg := strings.HasPrefix(s, "-")
	mant, exp := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+"), 0
	if i := strings.IndexAny(mant, "eE"); i >= 0 {
		e, err := strconv.Atoi(mant[i+1:])
		if err != nil || e > 400 || e < -400 {
			return s
		}
		mant, exp = mant[:i], e
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	ds := intPart + frac
	if ds == "" || !digits(ds) {
		return s
	}
	exp -= len(frac) // value = ds × 10^exp
	ds = strings.TrimLeft(ds, "0")
	if ds == "" {
		return "0"
	}
	const sig = 15
	if len(ds) > sig {
		round := ds[sig] >= '5'
		exp += len(ds) - sig
		b := []byte(ds[:sig])
		for i := len(b) - 1; round && i >= 0; i-- {
			if b[i] == '9' {
				b[i] = '0'
				continue
			}
			b[i]++
			round = false
		}
		ds = string(b)
		if round {
			ds = "1" + ds
		}
	}
	for len(ds) > 1 && ds[len(ds)-1] == '0' {
		ds = ds[:len(ds)-1]
		exp++
	}
	var out string
	switch {
	case exp >= 0:
		out = ds + strings.Repeat("0", exp)
	case -exp < len(ds):
		out = ds[:len(ds)+exp] + "." + ds[len(ds)+exp:]
	default:
		out = "0." + strings.Repeat("0", -exp-len(ds)) + ds
	}
	if neg && out != "0" {
		out = "-" + out
	}
	return out
}

// plainNumber writes a number stored in scientific notation
// ("4.111111111111111E+15", "6.011111111111117e15") in plain decimal
// notation with every digit kept ("4111111111111111"); ok is false for
// anything else.
func plainNumber(s string) (string, bool) {
	neg := strings.HasPrefix(s, "-")
	mant := strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	i := strings.IndexAny(mant, "eE")
	if i < 0 {
		return "", false
	}
	e, err := strconv.Atoi(mant[i+1:])
	if err != nil || e > 40 || e < -40 {
		return "", false
	}
	intPart, frac, _ := strings.Cut(mant[:i], ".")
	ds := intPart + frac
	if ds == "" || !digits(ds) {
		return "", false
	}
	var out string
	switch point := len(intPart) + e; {
	case point <= 0:
		out = "0." + strings.Repeat("0", -point) + ds
	case point >= len(ds):
		out = ds + strings.Repeat("0", point-len(ds))
	default:
		out = ds[:point] + "." + ds[point:]
	}
	if t := strings.TrimLeft(out, "0"); t != "" && t[0] != '.' {
		out = t
	}
	if neg {
		out = "-" + out
	}
	return out, true
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
