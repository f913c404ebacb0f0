package reports

import (
	"bytes"
	"testing"
)

func TestCSVExportsGolden(t *testing.T) {
	meta, res := fixture()
	var s, d bytes.Buffer
	if err := WriteSummaryCSV(&s, res); err != nil {
		t.Fatal(err)
	}
	if err := WriteDetailsCSVResult(&d, meta, res, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{s.Bytes(), d.Bytes()} {
		if !bytes.HasPrefix(b, []byte(bom)) {
			t.Errorf("CSV export does not start with a UTF-8 BOM: %q", b[:8])
		}
	}
	golden(t, "summary.csv.golden", s.String())
	golden(t, "details.csv.golden", d.String())
}
