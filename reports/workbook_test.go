package reports

import (
	"bytes"
	"testing"
)

func TestWorkbookGolden(t *testing.T) {
	meta, res := fixture()
	var b bytes.Buffer
	if err := WriteWorkbook(&b, meta, res, Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "workbook.golden", dumpWorkbook(t, b.Bytes()))
}

func TestWorkbookUnmaskedGolden(t *testing.T) {
	meta, res := fixture()
	var b bytes.Buffer
	if err := WriteWorkbook(&b, meta, res, Options{Unmasked: true}); err != nil {
		t.Fatal(err)
	}
	golden(t, "workbook_unmasked.golden", dumpWorkbook(t, b.Bytes()))
}
