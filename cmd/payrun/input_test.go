package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal/boltjournal"
)

// TestSmallHonestRefusals: a file with a header and no rows, and a file
// whose header misspells a column, are refused by validate and by ingest
// (exit 1, a clear message, nothing journaled).
func TestSmallHonestRefusals(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := os.WriteFile(cfgPath, []byte("journal: payrun.db\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	header := strings.Join(batch.CanonicalColumns, ",")
	row := "P-1,bank131,card_token,,RUB,10.00,Ivan,Petrov,,,,,,,,,8b1b924ff7cdbb10386fbf9f054185419eaabfbf37e8de0fc62ff7d06b3f5c2d,Payout"
	for _, tc := range []struct {
		name, content, says string
	}{
		{"empty.csv", header + "\r\n\r\n,,,\r\n", "the file has a header but no payout rows"},
		{"typo.csv", strings.Replace(header, "beneficiary_name", "benificiary_name", 1) + "\n" + row + "\n",
			"`benificiary_name`: did you mean `beneficiary_name`?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errOut := runCLI(t, "--config", cfgPath, "validate", p)
			if code != exitInvalid || !strings.Contains(out, tc.says) {
				t.Errorf("validate: exit %d, want %d saying %q\n%s%s", code, exitInvalid, tc.says, out, errOut)
			}
			code, out, errOut = runCLI(t, "--config", cfgPath, "ingest", p)
			if code != exitInvalid || !strings.Contains(out+errOut, tc.says) || strings.Contains(out+errOut, "goroutine") {
				t.Errorf("ingest: exit %d, want %d saying %q\n%s%s", code, exitInvalid, tc.says, out, errOut)
			}
			j, err := boltjournal.Open(filepath.Join(dir, "payrun.db"), boltjournal.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if bs, err := j.ListBatches(ctx); err != nil || len(bs) != 0 {
				t.Errorf("batches after a refused file: %+v, %v", bs, err)
			}
		})
	}
}
