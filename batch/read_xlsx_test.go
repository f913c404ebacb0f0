package batch

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

func TestExcelDecimal(t *testing.T) {
	for in, want := range map[string]string{
		"118.00000000000001":    "118",
		"1.1800000000000001E+2": "118",
		"5.8999999999999995":    "5.9",
		"11.799999999999999":    "11.8",
		"114.99999999999999":    "115",
		"0.30000000000000004":   "0.3",
		"0.0354":                "0.0354",
		"1E-3":                  "0.001",
		"1.005":                 "1.005",
		"1500.5":                "1500.5",
		"30000":                 "30000",
		"-2.5":                  "-2.5",
		"0":                     "0",
		"0.000":                 "0",
		"9.9999999999999999":    "10",
		"123456789012345678":    "123456789012346000",
		"4.1111111111111E+15":   "4111111111111100",
		"abc":                   "abc",
		"1e999":                 "1e999",
		"":                      "",
	} {
		if got := excelDecimal(in); got != want {
			t.Errorf("excelDecimal(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestXLSXFormulaAmounts: amounts computed by formulas hold float
// artifacts in their cached values (=A2*1.18 with A2 = 5 stores
// 5.8999999999999995); they read as Excel shows them. A true third decimal
// is still refused, and a text cell keeps its exact digits.
func TestXLSXFormulaAmounts(t *testing.T) {
	f := excelize.NewFile()
	defer f.Close()
	header := []string{"payout_id", "provider", "method", "country", "currency", "amount", "base",
		"beneficiary_name", "beneficiary_last_name", "document_type", "document_number", "bank_code", "cci"}
	type row struct {
		id, formula string
		base        float64
		factor      float64
	}
	rows := []row{
		{"F-05", "G%d*1.18", 5, 1.18},          // 5.8999999999999995
		{"F-10", "G%d*1.18", 10, 1.18},         // 11.799999999999999
		{"F-23", "G%d*1.18", 23, 1.18},         // 27.139999999999997
		{"F-100", "G%d*1.18", 100, 1.18},       // 118
		{"F-115", "G%d*100", 1.15, 100},        // 114.99999999999999
		{"F-03", "G%d*3", 0.1, 3},              // 0.30000000000000004
		{"F-THIRD", "G%d*1", 1.005, 1},         // a true third decimal
		{"F-TAX", "G%d*1.18", 0.03, 1.18},      // 0.0354: four true decimals
		{"F-TEXT", "", 0, 0},                   // text cell, exact digits
		{"F-ZEROS", "", 0, 0},                  // text cell, leading zeros kept
		{"F-BIG", "G%d*1", 123456.789, 1},      // three decimals, refused
		{"F-NEG", "G%d*1.18", -10, 1.18},       // negative: refused by the amount rule
		{"F-MANY", "G%d*1.18", 12345678, 1.18}, // 14567900.04: 10 significant digits
	}
	// Written as Excel writes a formula cell: the formula and its cached
	// value, a number (excelize's StreamWriter does; SetCellFormula would
	// mark the cell as text).
	sw, err := f.NewStreamWriter("Sheet1")
	must(t, err)
	head := make([]any, len(header))
	for i, h := range header {
		head[i] = h
	}
	must(t, sw.SetRow("A1", head))
	for i, r := range rows {
		n := i + 2
		currency := "PEN"
		if r.id == "F-MANY" {
			currency = "USD" // no Monnet limit
		}
		vals := []any{r.id, "monnet", "bank_transfer", "PE", currency, nil, nil, "Ana", "Rojas", "DNI", "01234567", "002", "00243000584290204477"}
		switch r.id {
		case "F-TEXT":
			vals[5] = "118.00000000000001"
		case "F-ZEROS":
			vals[5] = "0100.50"
		default:
			// The cached value, computed in float64 as Excel does.
			vals[5] = excelize.Cell{Formula: fmt.Sprintf(r.formula, n), Value: r.base * r.factor}
			vals[6] = r.base
		}
		must(t, sw.SetRow(fmt.Sprintf("A%d", n), vals))
	}
	must(t, sw.Flush())
	p := filepath.Join(t.TempDir(), "formulas.xlsx")
	must(t, f.SaveAs(p))

	// The cells hold the artifacts, as Excel stores them.
	raw, err := excelize.OpenFile(p)
	must(t, err)
	if v, _ := raw.GetCellValue("Sheet1", "F2", excelize.Options{RawCellValue: true}); v != "5.8999999999999995" {
		t.Fatalf("cached value of F2 = %q; the test does not build the artifact", v)
	}
	raw.Close()

	_, got, _ := readAll(t, p, ReadOptions{})
	amounts := map[string]string{}
	for _, r := range got {
		amounts[r.PayoutID] = r.Amount
	}
	want := map[string]string{"F-05": "5.9", "F-10": "11.8", "F-23": "27.14", "F-100": "118", "F-115": "115",
		"F-03": "0.3", "F-THIRD": "1.005", "F-TAX": "0.0354", "F-TEXT": "118.00000000000001", "F-ZEROS": "0100.50",
		"F-BIG": "123456.789", "F-NEG": "-11.8", "F-MANY": "14567900.04"}
	for id, w := range want {
		if amounts[id] != w {
			t.Errorf("%s: amount %q, want %q", id, amounts[id], w)
		}
	}
	rep, err := ValidateFile(p, ReadOptions{}, ValidateOptions{})
	must(t, err)
	bad := map[int]string{}
	for _, e := range rep.Errors {
		bad[e.Row] = e.Column + ": " + e.Reason
	}
	for i, r := range rows {
		refused := r.id == "F-THIRD" || r.id == "F-TAX" || r.id == "F-TEXT" || r.id == "F-BIG" || r.id == "F-NEG"
		if _, isBad := bad[i+2]; isBad != refused {
			t.Errorf("%s (row %d): refused=%v (%s), want %v", r.id, i+2, isBad, bad[i+2], refused)
		}
	}
	if !strings.Contains(bad[8], "more decimals than the currency allows") {
		t.Errorf("F-THIRD: %s", bad[8])
	}
}

// xlsxPart is one part of a hand-built workbook: its content written by a
// function, its declared uncompressed size (0 = the true one), and raw
// deflate data to store as is (nil = compress what write writes).
type xlsxPart struct {
	name     string
	write    func(io.Writer) error
	raw      []byte
	rawCRC   uint32
	declared uint64
}

// writeXLSX builds a minimal workbook: the parts every reader needs, and
// sheet (and shared strings, styles, when given) as the caller writes them.
func writeXLSX(t *testing.T, path string, parts ...xlsxPart) {
	t.Helper()
	out, err := os.Create(path)
	must(t, err)
	defer out.Close()
	zw := zip.NewWriter(out)
	text := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	base := []xlsxPart{
		{name: "_rels/.rels", write: text(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)},
		{name: "xl/workbook.xml", write: text(`<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
			`<sheets><sheet name="Pagos" sheetId="1" r:id="rId1"/></sheets></workbook>`)},
		{name: "xl/_rels/workbook.xml.rels", write: text(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>` +
			`<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)},
	}
	// A part the caller gives replaces the base one of the same name.
	for _, p := range parts {
		base = slices.DeleteFunc(base, func(b xlsxPart) bool { return b.name == p.name })
	}
	for _, p := range append(base, parts...) {
		if p.raw != nil {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: p.name, Method: zip.Deflate, CRC32: p.rawCRC,
				CompressedSize64: uint64(len(p.raw)), UncompressedSize64: p.declared})
			must(t, err)
			_, err = w.Write(p.raw)
			must(t, err)
			continue
		}
		w, err := zw.Create(p.name)
		must(t, err)
		bw := bufio.NewWriterSize(w, 1<<20)
		must(t, p.write(bw))
		must(t, bw.Flush())
	}
	must(t, zw.Close())
}

const sheetHead = `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`
const sheetTail = `</sheetData></worksheet>`

// headerRowXML is a header row of inline strings.
func headerRowXML(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<row r="%d">`, n)
	for i, c := range strings.Split(minimalHeader, ",") {
		fmt.Fprintf(&b, `<c r="%c%d" t="inlineStr"><is><t>%s</t></is></c>`, 'A'+i, n, c)
	}
	b.WriteString(`</row>`)
	return b.String()
}

// spaceBomb returns raw deflate data that inflates to the XML head, n MiB
// of spaces (white space between elements, valid XML) and the tail, with
// its CRC: a zip bomb built without compressing gigabytes. Deflate
// compresses each further MiB of spaces to the same bytes once its window
// holds nothing else, so that chunk is repeated.
func spaceBomb(t *testing.T, head, tail string, n int) ([]byte, uint32, uint64) {
	t.Helper()
	mib := bytes.Repeat([]byte(" "), 1<<20)
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	must(t, err)
	chunk := func(b []byte) []byte {
		start := buf.Len()
		_, err := fw.Write(b)
		must(t, err)
		must(t, fw.Flush())
		return append([]byte(nil), buf.Bytes()[start:]...)
	}
	first := chunk(append([]byte(head), mib...))
	steady := chunk(mib)
	if again := chunk(mib); !bytes.Equal(again, steady) {
		t.Fatal("deflate chunks of spaces are not repeatable")
	}
	start := buf.Len()
	_, err = fw.Write([]byte(tail))
	must(t, err)
	must(t, fw.Close())
	end := buf.Bytes()[start:]
	out := append([]byte(nil), first...)
	for i := 1; i < n; i++ {
		out = append(out, steady...)
	}
	out = append(out, end...)
	crc := crc32.ChecksumIEEE([]byte(head))
	for i := 0; i < n; i++ {
		crc = crc32.Update(crc, crc32.IEEETable, mib)
	}
	crc = crc32.Update(crc, crc32.IEEETable, []byte(tail))
	return out, crc, uint64(len(head)) + uint64(n)<<20 + uint64(len(tail))
}

// randomLetters returns n letters that deflate cannot shrink much.
func randomLetters(n int) string {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	return string(b)
}

// hostileCase builds one hostile workbook and says how it must be refused.
type hostileCase struct {
	name  string
	build func(t *testing.T, path string)
	want  string // in the error
}

func hostileCases() []hostileCase {
	return []hostileCase{
		{"zip bomb", func(t *testing.T, p string) {
			raw, crc, size := spaceBomb(t, sheetHead+headerRowXML(1), sheetTail, 3<<10) // 3 GiB of spaces
			writeXLSX(t, p, xlsxPart{name: "xl/worksheets/sheet1.xml", raw: raw, rawCRC: crc, declared: size})
		}, "refused as a zip bomb"},
		{"zip bomb declaring a small size", func(t *testing.T, p string) {
			raw, crc, _ := spaceBomb(t, sheetHead+headerRowXML(1), sheetTail, 3<<10)
			writeXLSX(t, p, xlsxPart{name: "xl/worksheets/sheet1.xml", raw: raw, rawCRC: crc, declared: 512 << 10})
		}, "cannot be read as a workbook"},
		{"zip bomb within the ratio", func(t *testing.T, p string) {
			// 20 MiB of spaces behind a cell of random letters, which
			// keep the part under the ratio: the spaces are one token.
			head := sheetHead + headerRowXML(1) + `<row r="2"><c r="G2" t="inlineStr"><is><t>` + randomLetters(700<<10) + `</t></is></c></row>`
			raw, crc, size := spaceBomb(t, head, sheetTail, 20)
			writeXLSX(t, p, xlsxPart{name: "xl/worksheets/sheet1.xml", raw: raw, rawCRC: crc, declared: size})
		}, "a cell or tag longer than"},
		{"billion laughs", func(t *testing.T, p string) {
			var b strings.Builder
			b.WriteString(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">`)
			prev := "lol"
			for i := 1; i <= 9; i++ {
				fmt.Fprintf(&b, `<!ENTITY lol%d "%s">`, i, strings.Repeat("&"+prev+";", 10))
				prev = fmt.Sprintf("lol%d", i)
			}
			b.WriteString(`]><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
				headerRowXML(1) + `<row r="2"><c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c></row>` + sheetTail)
			s := b.String()
			writeXLSX(t, p, xlsxPart{name: "xl/worksheets/sheet1.xml", write: func(w io.Writer) error { _, err := io.WriteString(w, s); return err }})
		}, "invalid character entity &lol9;"},
		{"a million empty rows", func(t *testing.T, p string) {
			writeXLSX(t, p, xlsxPart{name: "xl/worksheets/sheet1.xml", write: func(w io.Writer) error {
				io.WriteString(w, sheetHead+headerRowXML(1))
				for i := 2; i <= 1_000_001; i++ {
					fmt.Fprintf(w, `<row r="%d"/>`, i)
				}
				_, err := io.WriteString(w, sheetTail)
				return err
			}})
		}, "header but no payout rows"},
		{"rows past Excel's last", func(t *testing.T, p string) {
			writeXLSX(t, p, xlsxPart{name: "xl/worksheets/sheet1.xml", write: func(w io.Writer) error {
				_, err := io.WriteString(w, sheetHead+headerRowXML(1)+`<row r="1048577"><c r="A1048577" t="inlineStr"><is><t>x</t></is></c></row>`+sheetTail)
				return err
			}})
		}, "beyond Excel's last row"},
		{"a huge cell", func(t *testing.T, p string) {
			writeXLSX(t, p, xlsxPart{name: "xl/worksheets/sheet1.xml", write: func(w io.Writer) error {
				// Random letters: a repeated one would be refused as a zip
				// bomb before its size is seen.
				_, err := io.WriteString(w, sheetHead+headerRowXML(1)+`<row r="2"><c r="G2" t="inlineStr"><is><t>`+
					randomLetters(8<<20)+`</t></is></c></row>`+sheetTail)
				return err
			}})
		}, "a cell or tag longer than"},
		{"a huge shared string", func(t *testing.T, p string) {
			writeXLSX(t, p,
				xlsxPart{name: "xl/sharedStrings.xml", write: func(w io.Writer) error {
					_, err := io.WriteString(w, `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>`+
						randomLetters(8<<20)+`</t></si></sst>`)
					return err
				}},
				xlsxPart{name: "xl/worksheets/sheet1.xml", write: func(w io.Writer) error {
					_, err := io.WriteString(w, sheetHead+headerRowXML(1)+`<row r="2"><c r="A2" t="s"><v>0</v></c></row>`+sheetTail)
					return err
				}})
		}, "a cell or tag longer than"},
		{"deep nesting", func(t *testing.T, p string) {
			writeXLSX(t, p, xlsxPart{name: "xl/worksheets/sheet1.xml", write: func(w io.Writer) error {
				_, err := io.WriteString(w, sheetHead+headerRowXML(1)+strings.Repeat(`<x>`, 100))
				return err
			}})
		}, "nests elements deeper than"},
	}
}

// peakRSS is the high-water mark of this process's resident set, in bytes.
func peakRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10, true
}

// TestHostileXLSX builds each hostile workbook and reads it in a child
// process (this test binary, TestHostileXLSXChild), whose peak resident
// set must stay under 200 MB while the file is refused with a clear error.
func TestHostileXLSX(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads the child's peak memory from /proc")
	}
	if testing.Short() {
		t.Skip("builds workbooks of millions of rows; skipped with -short")
	}
	const limit = 200 << 20
	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "hostile.xlsx")
			tc.build(t, p)
			st, err := os.Stat(p)
			must(t, err)
			cmd := exec.Command(os.Args[0], "-test.run=^TestHostileXLSXChild$", "-test.v")
			cmd.Env = append(os.Environ(), "PAYRUN_HOSTILE_XLSX="+p)
			out, err := cmd.CombinedOutput()
			m := regexp.MustCompile(`RESULT rows=(\d+) peak=(\d+) err=(.*)`).FindSubmatch(out)
			if err != nil || m == nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			peak, _ := strconv.ParseInt(string(m[2]), 10, 64)
			msg := string(m[3])
			t.Logf("%s: %d KiB file, peak RSS %d MiB, %s", tc.name, st.Size()>>10, peak>>20, msg)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %s, want one saying %q", msg, tc.want)
			}
			if peak > limit {
				t.Errorf("peak RSS %d MiB, more than %d MiB", peak>>20, limit>>20)
			}
		})
	}
}

// TestHostileXLSXChild reads the file TestHostileXLSX names, with the
// configuration's default limits, and prints the outcome and its peak
// resident set.
func TestHostileXLSXChild(t *testing.T) {
	p := os.Getenv("PAYRUN_HOSTILE_XLSX")
	if p == "" {
		t.Skip("run by TestHostileXLSX")
	}
	rows, err := 0, error(nil)
	rd, err := OpenFile(p, ReadOptions{MaxBytes: 512 << 20, MaxRows: 2_000_000})
	if err == nil {
		for {
			_, err = rd.Next()
			if err != nil {
				break
			}
			rows++
		}
		rd.Close()
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	if err != nil && !errors.Is(err, ErrInput) {
		t.Errorf("%v is not an input error", err)
	}
	peak, _ := peakRSS()
	fmt.Printf("RESULT rows=%d peak=%d err=%v\n", rows, peak, err)
}

// TestLargeSharedStrings: a workbook of 150,000 rows with five distinct
// strings each (750,000 shared strings, more than is kept in memory, so
// they go to the unnamed file) reads every value back in place.
func TestLargeSharedStrings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large workbook; skipped with -short")
	}
	const rows = 150_000
	p := filepath.Join(t.TempDir(), "large.xlsx")
	str := func(i, k int) string { return fmt.Sprintf("v%d-%d_x000D_", i, k) }
	writeXLSX(t, p,
		xlsxPart{name: "xl/sharedStrings.xml", write: func(w io.Writer) error {
			io.WriteString(w, `<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
			for _, c := range strings.Split(minimalHeader, ",") {
				fmt.Fprintf(w, `<si><t>%s</t></si>`, c)
			}
			for i := 0; i < rows; i++ {
				for k := 0; k < 5; k++ {
					fmt.Fprintf(w, `<si><r><t>%s</t></r><rPh><t>ignored</t></rPh></si>`, str(i, k))
				}
			}
			_, err := io.WriteString(w, `</sst>`)
			return err
		}},
		xlsxPart{name: "xl/worksheets/sheet1.xml", write: func(w io.Writer) error {
			io.WriteString(w, sheetHead+`<row r="1">`)
			for i := 0; i < 6; i++ {
				fmt.Fprintf(w, `<c r="%c1" t="s"><v>%d</v></c>`, 'A'+i, i)
			}
			io.WriteString(w, `</row>`)
			for i := 0; i < rows; i++ {
				fmt.Fprintf(w, `<row r="%d">`, i+2)
				for k := 0; k < 5; k++ {
					fmt.Fprintf(w, `<c r="%c%d" t="s"><v>%d</v></c>`, 'A'+k, i+2, 6+i*5+k)
				}
				fmt.Fprintf(w, `<c r="F%d"><v>%d.5</v></c></row>`, i+2, i)
			}
			_, err := io.WriteString(w, sheetTail)
			return err
		}})
	rd, err := OpenFile(p, ReadOptions{})
	must(t, err)
	defer rd.Close()
	n := 0
	for {
		r, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		must(t, err)
		i := r.Number - 2
		if r.PayoutID != fmt.Sprintf("v%d-0", i) || r.Currency != fmt.Sprintf("v%d-4", i) || r.Amount != fmt.Sprintf("%d.5", i) {
			t.Fatalf("row %d = %+v", r.Number, r)
		}
		n++
	}
	if n != rows {
		t.Fatalf("%d rows, want %d", n, rows)
	}
}
