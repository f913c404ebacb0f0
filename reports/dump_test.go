package reports

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

var formulaTag = regexp.MustCompile(`<f[ >/]`)

// dumpWorkbook renders a workbook as text: per sheet, every non-empty cell
// with its type, its raw stored value and, for numbers, its number format.
// It fails when any worksheet holds a formula.
func dumpWorkbook(t testing.TB, b []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		if !strings.HasPrefix(zf.Name, "xl/worksheets/") || !strings.HasSuffix(zf.Name, ".xml") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		x, _ := io.ReadAll(rc)
		rc.Close()
		if formulaTag.Match(x) {
			t.Errorf("%s holds a formula", zf.Name)
		}
	}
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out strings.Builder
	for _, sh := range f.GetSheetList() {
		fmt.Fprintf(&out, "== %s\n", sh)
		panes, _ := f.GetPanes(sh)
		if panes.Freeze {
			fmt.Fprintf(&out, "freeze %s\n", panes.TopLeftCell)
		}
		rows, err := f.GetRows(sh, excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		for r, row := range rows {
			for c, v := range row {
				if v == "" {
					continue
				}
				ref, _ := excelize.CoordinatesToCellName(c+1, r+1)
				typ, _ := f.GetCellType(sh, ref)
				kind := "s"
				if typ == excelize.CellTypeUnset || typ == excelize.CellTypeNumber {
					kind = "n"
				}
				line := fmt.Sprintf("%s %s %q", ref, kind, v)
				if kind == "n" {
					if id, _ := f.GetCellStyle(sh, ref); id != 0 {
						st, _ := f.GetStyle(id)
						if st.CustomNumFmt != nil {
							line += " [" + *st.CustomNumFmt + "]"
						} else if st.NumFmt != 0 {
							line += fmt.Sprintf(" [fmt %d]", st.NumFmt)
						}
					}
				}
				out.WriteString(line + "\n")
			}
		}
	}
	return out.String()
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the output (go test ./reports -update rewrites it); got:\n%s", path, got)
	}
}
