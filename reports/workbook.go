package reports

import (
	"archive/zip"
	"fmt"
	"io"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/reconcile"
)

// Sheet names, in workbook order. Summary is first: it is what opens, and
// what a headless conversion to CSV exports.
const (
	SheetSummary    = "Summary"
	SheetTieOut     = "Tie-out"
	SheetExceptions = "Exceptions"
	SheetDetails    = "Details"
	SheetInvalid    = "Invalid input"
)

// WriteWorkbook writes the reconciliation workbook of res to w.
func WriteWorkbook(w io.Writer, meta Meta, res *reconcile.Result, o Options) error {
	return WriteWorkbookLines(w, meta, res, slices.Values(res.Lines), o)
}

// WriteWorkbookLines is WriteWorkbook with the lines given as an iterator,
// for reconciliations too large to hold twice: Totals, TieOut and Invalid
// come from res (res.Lines is ignored), and lines is ranged over exactly
// once, streaming both the Details and the Exceptions sheet. Memory stays
// flat: excelize's StreamWriter spills sheet XML to temporary files.
func WriteWorkbookLines(w io.Writer, meta Meta, res *reconcile.Result, lines iter.Seq[reconcile.Line], o Options) error {
	return writeWorkbook(w, meta, lines, func() (Meta, *reconcile.Result, error) { return meta, res, nil }, o)
}

// writeWorkbook streams lines into the line sheets first and then writes
// the Summary, Tie-out and Invalid input sheets from what final returns,
// called once the lines are done: so one pass over the journal gives both
// the lines and the totals they add up to. meta's time zone formats the
// lines; final's meta heads the summary.
func writeWorkbook(w io.Writer, meta Meta, lines iter.Seq[reconcile.Line], final func() (Meta, *reconcile.Result, error), o Options) (err error) {
	f := excelize.NewFile()
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	st, err := newStyles(f)
	if err != nil {
		return err
	}
	if err := f.SetSheetName("Sheet1", SheetSummary); err != nil {
		return err
	}
	for _, name := range []string{SheetTieOut, SheetExceptions, SheetDetails, SheetInvalid} {
		if _, err := f.NewSheet(name); err != nil {
			return err
		}
	}
	if err := writeLineSheets(f, st, meta, lines, o); err != nil {
		return err
	}
	meta, res, err := final()
	if err != nil {
		return err
	}
	if err := writeSummary(f, st, meta, res); err != nil {
		return fmt.Errorf("summary sheet: %w", err)
	}
	if err := writeTieOut(f, st, res); err != nil {
		return fmt.Errorf("tie-out sheet: %w", err)
	}
	// After the sheets' autofilters, which set the sheets' properties anew.
	if err := pageSetup(f, SheetSummary, summaryHeaderRow); err != nil {
		return err
	}
	if err := pageSetup(f, SheetTieOut, 1); err != nil {
		return err
	}
	if err := writeInvalid(f, st, res.Invalid, o); err != nil {
		return fmt.Errorf("invalid input sheet: %w", err)
	}
	if err := writeStreamed(f, w); err != nil {
		return fmt.Errorf("write workbook: %w", err)
	}
	return nil
}

// writeStreamed writes f to w as it is zipped. excelize's WriteTo builds
// the whole zip in a memory buffer first (WriteToBuffer), so that a
// million-row workbook cost its compressed size in memory on top of
// everything else; its zip writer is pointed at w instead, and the buffer
// it then copies out stays empty. (The buffer's only other use is a
// patch of the local headers of entries over 4 GiB uncompressed, which a
// sheet of a few million rows does not reach.)
func writeStreamed(f *excelize.File, w io.Writer) error {
	f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(w) })
	_, err := f.WriteTo(w)
	return err
}

// styles are the few cell styles of the workbook, created once.
type styles struct {
	f      *excelize.File
	title  int
	header int
	label  int
	date   int
	amount map[int]int // exponent -> style
}

func newStyles(f *excelize.File) (*styles, error) {
	s := &styles{f: f, amount: map[int]int{}}
	var err error
	if s.title, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}}); err != nil {
		return nil, err
	}
	if s.header, err = f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Alignment: &excelize.Alignment{Vertical: "center"},
	}); err != nil {
		return nil, err
	}
	if s.label, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}}); err != nil {
		return nil, err
	}
	df := "yyyy-mm-dd hh:mm:ss"
	if s.date, err = f.NewStyle(&excelize.Style{CustomNumFmt: &df}); err != nil {
		return nil, err
	}
	for _, e := range []int{0, 2, 3} {
		if _, err := s.amountStyle(e); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *styles) amountStyle(exp int) (int, error) {
	if id, ok := s.amount[exp]; ok {
		return id, nil
	}
	nf := numFmt(exp)
	id, err := s.f.NewStyle(&excelize.Style{CustomNumFmt: &nf})
	if err != nil {
		return 0, err
	}
	s.amount[exp] = id
	return id, nil
}

// money is a streamed amount cell: a number with its currency's format.
func (s *styles) money(minor int64, currency string) excelize.Cell {
	dec := decimal(minor, currency)
	id, _ := s.amountStyle(exponent(currency)) // every exponent in money is pre-created
	if v, ok := streamNumber(dec); ok {
		return excelize.Cell{StyleID: id, Value: v}
	}
	// More significant digits than a spreadsheet number holds: the exact
	// text is better than a rounded number.
	return excelize.Cell{Value: Neutralise(dec)}
}

// time is a streamed date-time cell in the report's zone; empty when zero.
func (s *styles) time(meta Meta, t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return excelize.Cell{StyleID: s.date, Value: t.In(meta.loc())}
}

// column is one column of a sheet: its header and width.
type column struct {
	header string
	width  float64
}

// setAmount writes an exact decimal amount as a number on a regular
// (non-streamed) sheet: SetCellDefault stores the text verbatim as the
// cell's numeric value, with no float involved.
func setAmount(f *excelize.File, st *styles, sheet, cell string, minor int64, currency string) error {
	dec := decimal(minor, currency)
	if _, ok := streamNumber(dec); !ok {
		return f.SetCellStr(sheet, cell, Neutralise(dec))
	}
	if err := f.SetCellDefault(sheet, cell, dec); err != nil {
		return err
	}
	id, err := st.amountStyle(exponent(currency))
	if err != nil {
		return err
	}
	return f.SetCellStyle(sheet, cell, cell, id)
}

func cellName(col, row int) string {
	n, _ := excelize.CoordinatesToCellName(col, row)
	return n
}

func writeHeader(f *excelize.File, st *styles, sheet string, row int, cols []column) error {
	for i, c := range cols {
		if err := f.SetCellStr(sheet, cellName(i+1, row), c.header); err != nil {
			return err
		}
	}
	return f.SetCellStyle(sheet, cellName(1, row), cellName(len(cols), row), st.header)
}

// widthsOf are the widths of cols, by column number (A is 1).
func widthsOf(cols []column) map[int]float64 {
	w := make(map[int]float64, len(cols))
	for i, c := range cols {
		w[i+1] = c.width
	}
	return w
}

// setWidths sets a sheet's column widths, all at once: excelize puts each
// width it is given before the ones it has, so they are given from the
// last column to the first, and the sheet lists them in ascending order,
// as the format wants (some readers drop widths listed otherwise). set is
// the File's or a StreamWriter's SetColWidth.
func setWidths(widths map[int]float64, set func(col int, width float64) error) error {
	cols := make([]int, 0, len(widths))
	for c := range widths {
		cols = append(cols, c)
	}
	slices.Sort(cols)
	for i := len(cols) - 1; i >= 0; i-- {
		if err := set(cols[i], widths[cols[i]]); err != nil {
			return err
		}
	}
	return nil
}

// pageSetup makes a sheet print as an accountant reads it: landscape, as
// wide as one page (as many pages down as it takes), with the table's
// header row repeated at the top of every page. A streamed sheet is set
// up before its StreamWriter is made.
func pageSetup(f *excelize.File, sheet string, headerRow int) error {
	landscape, wide, tall, fit := "landscape", 1, 0, true
	if err := f.SetSheetProps(sheet, &excelize.SheetPropsOptions{FitToPage: &fit}); err != nil {
		return err
	}
	if err := f.SetPageLayout(sheet, &excelize.PageLayoutOptions{Orientation: &landscape, FitToWidth: &wide, FitToHeight: &tall}); err != nil {
		return err
	}
	return f.SetDefinedName(&excelize.DefinedName{Name: "_xlnm.Print_Titles", Scope: sheet,
		RefersTo: fmt.Sprintf("'%s'!$%d:$%d", sheet, headerRow, headerRow)})
}

func colName(i int) string {
	n, _ := excelize.ColumnNumberToName(i)
	return n
}

// The title block's values are in column B: a run time (a date, which
// does not overflow into the next cell as text does) needs 20.
var summaryColumns = []column{
	{"Currency", 10}, {"Provider", 20}, {"Category", 30}, {"Count", 10}, {"Amount", 18}, {"Fees", 14},
}

// summaryHeaderRow is where the Summary table starts, below the title
// block (at most eight rows, from row 2).
const summaryHeaderRow = 11

// blockRow is one line of the Summary's title block: text, or a time.
type blockRow struct {
	label string
	value any
}

func writeSummary(f *excelize.File, st *styles, meta Meta, res *reconcile.Result) error {
	sh := SheetSummary
	if err := f.SetCellStr(sh, "A1", "payrun reconciliation"); err != nil {
		return err
	}
	if err := f.SetCellStyle(sh, "A1", "A1", st.title); err != nil {
		return err
	}
	balanced := "yes"
	if !res.Balanced() {
		balanced = "NO: see Tie-out"
	}
	cov := coverageOf(meta, res)
	block := []blockRow{
		{"Period", text(cov.PeriodText)},
		{"Batches", ident(cov.Batches)},
		{"Files", text(cov.Files)},
	}
	if a := approvals(meta, res); a != "" {
		block = append(block, blockRow{"Approved", text(a)})
	}
	if cov.Carried != "" {
		block = append(block, blockRow{"Carried forward", ident(cov.Carried)})
	}
	var runAt any
	if !meta.RunAt.IsZero() {
		runAt = meta.RunAt.In(meta.loc())
	}
	block = append(block, blockRow{"Run time", runAt}, blockRow{"Time zone", meta.zoneName()}, blockRow{"Balanced", balanced})
	if res.ReviewCount > 0 {
		block = append(block, blockRow{"Needs review", text(reviewText(res))})
	}
	for i, kv := range block {
		r := 2 + i
		if err := f.SetCellStr(sh, cellName(1, r), kv.label); err != nil {
			return err
		}
		switch v := kv.value.(type) {
		case nil:
		case time.Time:
			// A date a spreadsheet can sort and compute with, shown in
			// the report's zone.
			if err := f.SetCellValue(sh, cellName(2, r), v); err != nil {
				return err
			}
			if err := f.SetCellStyle(sh, cellName(2, r), cellName(2, r), st.date); err != nil {
				return err
			}
		default:
			if err := f.SetCellStr(sh, cellName(2, r), v.(string)); err != nil {
				return err
			}
		}
	}
	if err := f.SetCellStyle(sh, "A2", cellName(1, 1+len(block)), st.label); err != nil {
		return err
	}
	widths := widthsOf(summaryColumns)
	widths[outcomeColumn], widths[outcomeColumn+1] = 30, 8
	if err := setWidths(widths, func(c int, w float64) error { return f.SetColWidth(sh, colName(c), colName(c), w) }); err != nil {
		return err
	}
	if err := writeHeader(f, st, sh, summaryHeaderRow, summaryColumns); err != nil {
		return err
	}
	row := summaryHeaderRow
	for _, t := range res.Totals {
		row++
		if err := summaryRow(f, st, row, t.Currency, text(t.Provider), t.Category.Label(), t.Count, t.Amount, t.Fees); err != nil {
			return err
		}
	}
	last := row
	if last == summaryHeaderRow {
		last++ // an autofilter needs a row below its header
	}
	if err := f.AutoFilter(sh, cellName(1, summaryHeaderRow)+":"+cellName(len(summaryColumns), last), nil); err != nil {
		return err
	}
	// Input totals per currency, below the filtered table: the figures an
	// accountant ties to the bank. Unexpected payouts are not input.
	row++
	for _, ct := range currencyTotals(res.TieOut) {
		row++
		if err := summaryRow(f, st, row, ct.Currency, "All providers", "Total input", ct.InputCount, ct.InputAmount, ct.Fees); err != nil {
			return err
		}
		if err := f.SetCellStyle(sh, cellName(1, row), cellName(3, row), st.label); err != nil {
			return err
		}
	}
	if err := writeOutcomes(f, st, res); err != nil {
		return err
	}
	return f.SetPanes(sh, &excelize.Panes{Freeze: true, YSplit: summaryHeaderRow, TopLeftCell: cellName(1, summaryHeaderRow+1), ActivePane: "bottomLeft"})
}

// approvals says who approved the report's batches, when, and who
// dropped them (maker-checker): "B1 by ana 2026-11-21 10:02 (dropped by
// bob)"; "" when none was approved.
func approvals(meta Meta, res *reconcile.Result) string {
	var parts []string
	for _, b := range res.Batches {
		if b.ApprovedBy == "" {
			continue
		}
		p := b.ID + " by " + b.ApprovedBy + " " + b.Approved.In(meta.loc()).Format("2006-01-02 15:04")
		if b.DroppedBy != "" {
			p += " (dropped by " + b.DroppedBy + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func summaryRow(f *excelize.File, st *styles, row int, currency, provider, category string, count int, amount, fees int64) error {
	sh := SheetSummary
	for i, v := range []string{Neutralise(currency), provider, category} {
		if err := f.SetCellStr(sh, cellName(i+1, row), v); err != nil {
			return err
		}
	}
	if err := f.SetCellInt(sh, cellName(4, row), int64(count)); err != nil {
		return err
	}
	if err := setAmount(f, st, sh, cellName(5, row), amount, currency); err != nil {
		return err
	}
	return setAmount(f, st, sh, cellName(6, row), fees, currency)
}

// currencyTotals sums the tie-out's input side per currency.
func currencyTotals(ties []reconcile.TieOut) []reconcile.TieOut {
	var out []reconcile.TieOut
	idx := map[string]int{}
	for _, t := range ties {
		if t.CountsOnly { // rows never sent: no money
			continue
		}
		i, ok := idx[t.Currency]
		if !ok {
			i = len(out)
			idx[t.Currency] = i
			out = append(out, reconcile.TieOut{Key: reconcile.Key{Currency: t.Currency}})
		}
		out[i].InputCount += t.InputCount
		out[i].InputAmount += t.InputAmount
		out[i].Fees += t.Fees
	}
	slices.SortFunc(out, func(a, b reconcile.TieOut) int {
		if a.Currency < b.Currency {
			return -1
		}
		if a.Currency > b.Currency {
			return 1
		}
		return 0
	})
	return out
}

// outcomeColumn is where the Summary's rows per category start (H).
const outcomeColumn = 8

// writeOutcomes writes the rows per category (all currencies: counts add
// up across currencies, amounts do not) and a bar chart of them.
func writeOutcomes(f *excelize.File, st *styles, res *reconcile.Result) error {
	sh := SheetSummary
	counts := map[reconcile.Category]int{}
	for _, t := range res.Totals {
		counts[t.Category] += t.Count
	}
	const col = outcomeColumn
	if err := f.SetCellStr(sh, cellName(col, summaryHeaderRow), "Outcome"); err != nil {
		return err
	}
	if err := f.SetCellStr(sh, cellName(col+1, summaryHeaderRow), "Rows"); err != nil {
		return err
	}
	if err := f.SetCellStyle(sh, cellName(col, summaryHeaderRow), cellName(col+1, summaryHeaderRow), st.header); err != nil {
		return err
	}
	row := summaryHeaderRow
	for _, c := range reconcile.Categories {
		n, ok := counts[c]
		if !ok {
			continue
		}
		row++
		if err := f.SetCellStr(sh, cellName(col, row), c.Label()); err != nil {
			return err
		}
		if err := f.SetCellInt(sh, cellName(col+1, row), int64(n)); err != nil {
			return err
		}
	}
	if row == summaryHeaderRow {
		return nil // nothing to chart
	}
	ref := func(c int) string {
		return fmt.Sprintf("'%s'!$%s$%d:$%s$%d", sh, colName(c), summaryHeaderRow+1, colName(c), row)
	}
	return f.AddChart(sh, cellName(col+3, 2), &excelize.Chart{
		Type:      excelize.Bar,
		Series:    []excelize.ChartSeries{{Name: fmt.Sprintf("'%s'!$%s$%d", sh, colName(col+1), summaryHeaderRow), Categories: ref(col), Values: ref(col + 1)}},
		Title:     excelize.ChartTitle{Paragraph: []excelize.RichTextRun{{Text: "Outcomes (rows)"}}},
		Legend:    excelize.ChartLegend{Position: "none"},
		Dimension: excelize.ChartDimension{Width: 560, Height: 360},
	})
}

var tieOutColumns = []column{
	{"Currency", 10}, {"Provider", 16}, {"Input rows", 12}, {"Input amount", 18}, {"Category rows", 14},
	{"Categories amount", 18}, {"Difference", 14}, {"Fees", 14}, {"Balanced", 10},
}

func writeTieOut(f *excelize.File, st *styles, res *reconcile.Result) error {
	sh := SheetTieOut
	if err := writeHeader(f, st, sh, 1, tieOutColumns); err != nil {
		return err
	}
	if err := setWidths(widthsOf(tieOutColumns), func(c int, w float64) error { return f.SetColWidth(sh, colName(c), colName(c), w) }); err != nil {
		return err
	}
	row := 1
	for _, t := range res.TieOut {
		row++
		ok := "yes"
		if t.Difference != 0 || t.InputCount != t.CategoriesCount {
			ok = "NO"
		}
		if err := f.SetCellStr(sh, cellName(1, row), Neutralise(t.Currency)); err != nil {
			return err
		}
		if err := f.SetCellStr(sh, cellName(2, row), text(t.Provider)); err != nil {
			return err
		}
		if err := f.SetCellInt(sh, cellName(3, row), int64(t.InputCount)); err != nil {
			return err
		}
		if err := setAmount(f, st, sh, cellName(4, row), t.InputAmount, t.Currency); err != nil {
			return err
		}
		if err := f.SetCellInt(sh, cellName(5, row), int64(t.CategoriesCount)); err != nil {
			return err
		}
		if err := setAmount(f, st, sh, cellName(6, row), t.CategoriesAmount, t.Currency); err != nil {
			return err
		}
		if err := setAmount(f, st, sh, cellName(7, row), t.Difference, t.Currency); err != nil {
			return err
		}
		if err := setAmount(f, st, sh, cellName(8, row), t.Fees, t.Currency); err != nil {
			return err
		}
		if err := f.SetCellStr(sh, cellName(9, row), ok); err != nil {
			return err
		}
	}
	last := max(row, 2)
	if err := f.AutoFilter(sh, "A1:"+cellName(len(tieOutColumns), last), nil); err != nil {
		return err
	}
	return f.SetPanes(sh, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"})
}

// streamSheet is one streamed sheet being written.
type streamSheet struct {
	sw   *excelize.StreamWriter
	name string
	cols int
	row  int
}

func newStreamSheet(f *excelize.File, st *styles, name string, cols []column) (*streamSheet, error) {
	if err := pageSetup(f, name, 1); err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(name)
	if err != nil {
		return nil, err
	}
	if err := setWidths(widthsOf(cols), func(c int, w float64) error { return sw.SetColWidth(c, c, w) }); err != nil {
		return nil, err
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, err
	}
	hdr := make([]any, len(cols))
	for i, c := range cols {
		hdr[i] = excelize.Cell{StyleID: st.header, Value: c.header}
	}
	if err := sw.SetRow("A1", hdr, excelize.RowOpts{Height: 20}); err != nil {
		return nil, err
	}
	return &streamSheet{sw: sw, name: name, cols: len(cols), row: 1}, nil
}

func (s *streamSheet) add(values []any) error {
	s.row++
	return s.sw.SetRow("A"+strconv.Itoa(s.row), values)
}

// finish adds the autofilter (as a table over the whole range) and flushes.
func (s *streamSheet) finish(table string) error {
	last := max(s.row, 2)
	off := false
	if err := s.sw.AddTable(&excelize.Table{
		Range: "A1:" + cellName(s.cols, last), Name: table, StyleName: "TableStyleLight1", ShowRowStripes: &off,
	}); err != nil {
		return err
	}
	return s.sw.Flush()
}

// Widths fit what the columns hold: a batch id is 20 characters
// (B20261121-0123456789), a state up to 21 (awaiting_confirmation), a
// date-time 19.
var exceptionColumns = []column{
	{"Batch", 22}, {"Row", 7}, {"Payout ID", 22}, {"Provider", 13}, {"Currency", 9}, {"Amount", 16},
	{"Category", 28}, {"Reason", 44}, {"Provider code", 14}, {"Provider status", 18}, {"State", 23},
	{"Age (days)", 10}, {"Age bucket", 11}, {"Updated", 20},
}

var detailColumns = []column{
	{"Batch", 22}, {"File", 24}, {"Row", 7}, {"Payout ID", 22}, {"Provider", 13}, {"Method", 14},
	{"Currency", 9}, {"Amount", 16}, {"Provider amount", 16}, {"Fee", 12}, {"Category", 28}, {"Reason", 44},
	{"State", 23}, {"Provider code", 14}, {"Provider status", 18}, {"Provider reference", 24},
	{"Payment link", 30}, {"Beneficiary", 26}, {"Account", 16}, {"Document", 14}, {"Created", 20},
	{"Updated", 20}, {"Age (days)", 10}, {"Age bucket", 11},
}

// lineRow renders a Details row into buf (reused between rows).
func (s *styles) detailRow(buf []any, meta Meta, l *reconcile.Line, o Options) []any {
	var pamount any
	if l.ProviderAmount != 0 {
		pamount = s.money(l.ProviderAmount, l.Currency)
	}
	return append(buf[:0],
		ident(l.BatchID), text(l.File), rowNumber(l.Row), ident(l.PayoutID), text(l.Provider), text(l.Method),
		Neutralise(l.Currency), s.money(l.Amount, l.Currency), pamount, s.money(l.Fee, l.Currency),
		l.Category.Label(), text(l.Reason), text(l.State), text(l.ProviderCode), text(l.ProviderStatus),
		ident(l.ProviderRef), o.link(l.URL), text(l.Beneficiary), o.sensitive(l.Account), o.sensitive(l.Document),
		s.time(meta, l.Created), s.time(meta, l.Updated), l.AgeDays, l.AgeBucket,
	)
}

func (s *styles) exceptionRow(buf []any, meta Meta, l *reconcile.Line) []any {
	return append(buf[:0],
		ident(l.BatchID), rowNumber(l.Row), ident(l.PayoutID), text(l.Provider), Neutralise(l.Currency),
		s.money(l.Amount, l.Currency), l.Category.Label(), text(l.Reason), text(l.ProviderCode),
		text(l.ProviderStatus), text(l.State), l.AgeDays, l.AgeBucket, s.time(meta, l.Updated),
	)
}

// rowNumber leaves the row empty for lines with no input row (unexpected).
func rowNumber(n int) any {
	if n <= 0 {
		return nil
	}
	return n
}

func writeLineSheets(f *excelize.File, st *styles, meta Meta, lines iter.Seq[reconcile.Line], o Options) error {
	exc, err := newStreamSheet(f, st, SheetExceptions, exceptionColumns)
	if err != nil {
		return fmt.Errorf("exceptions sheet: %w", err)
	}
	det, err := newStreamSheet(f, st, SheetDetails, detailColumns)
	if err != nil {
		return fmt.Errorf("details sheet: %w", err)
	}
	dbuf := make([]any, 0, len(detailColumns))
	ebuf := make([]any, 0, len(exceptionColumns))
	for l := range lines {
		dbuf = st.detailRow(dbuf, meta, &l, o)
		if err := det.add(dbuf); err != nil {
			return fmt.Errorf("details sheet: %w", err)
		}
		if l.Category.Exception() {
			ebuf = st.exceptionRow(ebuf, meta, &l)
			if err := exc.add(ebuf); err != nil {
				return fmt.Errorf("exceptions sheet: %w", err)
			}
		}
	}
	if err := exc.finish("Exceptions"); err != nil {
		return fmt.Errorf("exceptions sheet: %w", err)
	}
	if err := det.finish("Details"); err != nil {
		return fmt.Errorf("details sheet: %w", err)
	}
	return nil
}

var invalidColumns = []column{
	{"Batch", 22}, {"File", 24}, {"Row", 7}, {"Column", 18}, {"Value", 26}, {"Reason", 50},
}

func writeInvalid(f *excelize.File, st *styles, rows []reconcile.InvalidRow, o Options) error {
	s, err := newStreamSheet(f, st, SheetInvalid, invalidColumns)
	if err != nil {
		return err
	}
	buf := make([]any, 0, len(invalidColumns))
	for _, r := range rows {
		buf = append(buf[:0], ident(r.BatchID), text(r.File), rowNumber(r.Row), text(r.Column),
			o.inputValue(r.Column, r.Value), text(r.Reason))
		if err := s.add(buf); err != nil {
			return err
		}
	}
	return s.finish("InvalidInput")
}

// reviewText names the payouts a provider paid with another amount or
// currency than the input asked: the first thing an accountant must see.
func reviewText(res *reconcile.Result) string {
	ids := make([]string, len(res.Review))
	for i, l := range res.Review {
		ids[i] = l.PayoutID
	}
	more := ""
	if res.ReviewCount > len(ids) {
		more = fmt.Sprintf(" and %d more", res.ReviewCount-len(ids))
	}
	return fmt.Sprintf("%d paid with another amount or currency than the input (never counted as paid, never sent again): %s%s",
		res.ReviewCount, strings.Join(ids, ", "), more)
}
