package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/providers/sandboxes"
)

// Card numbers put into the payout files: Visa in the canonical columns,
// Mastercard in an extra column and its header.
const (
	visaPAN   = "4111111111111111"
	masterPAN = "5555555555554444"
)

// clearPAN finds either number in clear, whatever separates its groups.
var clearPAN = regexp.MustCompile(`4111[ -]?1111[ -]?1111[ -]?1111|5555[ -]?5555[ -]?5555[ -]?4444`)

// TestNoCardNumberAtRest puts a card number in every column of a CSV and of
// an XLSX payout file (and in an extra column and its header), runs the
// real commands on them (validate, process against the sandboxes with
// on_invalid: skip_rows so that the rows are journaled as rejected, report
// with an email in the outbox and annotated copies, serve taking the file
// from its inbox and rejecting it), and then reads every file payrun wrote
// (journal, logs, standard output and error, reports, workbooks unzipped,
// annotated copies, the outbox, the rejected file's report) for the digits.
func TestNoCardNumberAtRest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every command against the sandboxes; skipped with -short")
	}
	for _, xlsx := range []bool{false, true} {
		name := "payouts.csv"
		if xlsx {
			name = "payouts.xlsx"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			in := filepath.Join(t.TempDir(), name)
			valid := writePANFile(t, in, xlsx)
			input, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			logs := filepath.Join(dir, "logs")
			if err := os.MkdirAll(logs, 0o700); err != nil {
				t.Fatal(err)
			}
			// Every command's standard output and error go to files under
			// dir, read with the rest.
			cli := func(label string, args ...string) (int, string) {
				code, out, errOut := runCLI(t, args...)
				os.WriteFile(filepath.Join(logs, label+".out"), []byte(out), 0o600)
				os.WriteFile(filepath.Join(logs, label+".err"), []byte(errOut), 0o600)
				return code, out + errOut
			}

			// Failures before the search are errors, not fatal: on code
			// that lets a card number through, the search below says where
			// it went.
			if code, out := cli("validate", "validate", in); code != exitInvalid || !strings.Contains(out, "411111******1111") {
				t.Errorf("validate: exit %d, want %d and the masked number\n%s", code, exitInvalid, out)
			}
			cli("validate-json", "validate", "--json", in)

			land, err := sandboxes.Start(sandboxes.Options{Dir: dir, ProcessingDelay: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer land.Close()
			cfg := sandboxConfig(land, dir, "")
			cfg.Dir = dir
			cfg.Input.OnInvalid = "skip_rows"
			cfg.Reports.Mask = false // account numbers in clear: only card numbers are masked
			cfg.Reports.AttachAnnotated = true
			cfg.Log.Format = "json"
			cfgPath := filepath.Join(dir, "payrun.yaml")
			if err := writeConfig(cfgPath, cfg); err != nil {
				t.Fatal(err)
			}
			code, out := cli("process", "--config", cfgPath, "process", "--wait", "20s", in)
			if code != exitOK {
				t.Fatalf("process: exit %d\n%s", code, out)
			}
			j, err := boltjournal.Open(filepath.Join(dir, "payrun.db"), boltjournal.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			bs, err := j.ListBatches(ctx)
			j.Close()
			if err != nil || len(bs) != 1 {
				t.Fatalf("batches %+v (%v), want one", bs, err)
			}
			if bs[0].Valid != valid {
				t.Errorf("%d valid rows, want %d: rows with a card number were accepted", bs[0].Valid, valid)
			}
			if code, out := cli("report", "--config", cfgPath, "report", "--batch", bs[0].ID, "--out", filepath.Join(dir, "reports"), "--email"); code != exitOK {
				t.Fatalf("report: exit %d\n%s", code, out)
			}
			cli("status", "--config", cfgPath, "status", "--batch", bs[0].ID)

			// The daemon takes the file from its inbox and rejects it
			// (on_invalid: reject_file), with a report beside it.
			serveRejects(t, land, filepath.Join(dir, "serve"), in, logs)

			checked := 0
			err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				if bytes.Equal(b, input) {
					return nil // the operator's own file, moved to rejected/ as it was
				}
				checked++
				for part, content := range contents(p, b) {
					if m := clearPAN.Find(content); m != nil {
						at := bytes.Index(content, m)
						t.Errorf("%s%s holds a card number in clear: …%q…", p, part, content[max(0, at-60):min(len(content), at+len(m)+20)])
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"payrun.db", "reconciliation-", "-annotated", ".eml", ".errors.txt", "process.err", "serve.err"} {
				if !walkHas(t, dir, want) {
					t.Errorf("no file %q* was written: the test checks less than it says", want)
				}
			}
			t.Logf("%d files read", checked)
		})
	}
}

// writePANFile writes the payout file: the template's rows that complete
// without a beneficiary (all valid), then one row per column with a card
// number in that column, and an extra column whose header and values hold
// one. It returns how many rows are valid.
func writePANFile(t *testing.T, path string, xlsx bool) int {
	t.Helper()
	header := append(append([]string(nil), batch.CanonicalColumns...), "Notas "+masterPAN)
	var rows [][]string
	add := func(r batch.Row, note string) []string {
		vals := make([]string, 0, len(header))
		for _, c := range batch.CanonicalColumns {
			vals = append(vals, r.Get(c))
		}
		vals = append(vals, note)
		rows = append(rows, vals)
		return vals
	}
	valid := 0
	for i, r := range batch.TemplateRows() {
		if r.Method == "card_push" || r.Method == "payment_link" {
			continue
		}
		r.PayoutID = fmt.Sprintf("OK-%d", i)
		add(r, "sin tarjeta")
		valid++
	}
	for i, col := range header {
		r := batch.TemplateRows()[0]
		r.PayoutID = fmt.Sprintf("PAN-%d", i)
		vals := add(r, "nota")
		switch col {
		case batch.ColPayoutID, batch.ColAmount:
			vals[i] = visaPAN
		case header[len(header)-1]:
			vals[i] = "tarjeta " + strings.Join([]string{masterPAN[:4], masterPAN[4:8], masterPAN[8:12], masterPAN[12:]}, "-")
		default:
			vals[i] = "ver " + strings.Join([]string{visaPAN[:4], visaPAN[4:8], visaPAN[8:12], visaPAN[12:]}, " ")
		}
	}
	if !xlsx {
		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.Write(header)
		w.WriteAll(rows)
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return valid
	}
	f := excelize.NewFile()
	defer f.Close()
	for i, vals := range append([][]string{header}, rows...) {
		for k, v := range vals {
			cell, _ := excelize.CoordinatesToCellName(k+1, i+1)
			var err error
			if v == visaPAN && header[k] == batch.ColAmount {
				err = f.SetCellInt("Sheet1", cell, 4111111111111111) // a number cell
			} else {
				err = f.SetCellStr("Sheet1", cell, v)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	return valid
}

// serveRejects runs payrun serve in dir (reject_file), drops a copy of the
// file into its inbox, and stops it once the file is rejected.
func serveRejects(t *testing.T, land *sandboxes.Landscape, dir, file, logs string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := sandboxConfig(land, dir, "")
	cfg.Dir = dir
	cfg.Log.Format = "json"
	cfg.Serve.Listen = freeAddr(t)
	cfg.Serve.StableFor = 200 * time.Millisecond
	cfg.Serve.ScanInterval = 100 * time.Millisecond
	cfgPath := filepath.Join(dir, "payrun.yaml")
	if err := writeConfig(cfgPath, cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(ctx, []string{"--config", cfgPath, "serve"}, &out, &errOut)
	}()
	defer func() {
		cancel()
		wg.Wait()
		os.WriteFile(filepath.Join(logs, "serve.out"), out.Bytes(), 0o600)
		os.WriteFile(filepath.Join(logs, "serve.err"), errOut.Bytes(), 0o600)
	}()
	inbox := filepath.Join(dir, cfg.Dirs.Inbox)
	waitFor(t, "the inbox", 10*time.Second, func() bool { _, err := os.Stat(inbox); return err == nil })
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "drop.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(inbox, filepath.Base(file))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the rejected file's report", 20*time.Second, func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, cfg.Dirs.Rejected, "*.errors.txt"))
		return len(m) > 0
	})
}

// contents returns what to search in a file: the file itself, and each
// part of it when it is a zip archive (a workbook), inflated.
func contents(path string, b []byte) map[string][]byte {
	out := map[string][]byte{"": b}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return out
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			continue
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		out[" ("+f.Name+")"] = data
	}
	return out
}

func walkHas(t *testing.T, dir, part string) bool {
	t.Helper()
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), part) {
			found = true
		}
		return nil
	})
	return found
}
