package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/pgtest"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
)

// TestJournalCopyReconcilesAlike: a bbolt journal holding an item in every
// state, webhook events (applied and queued) and mail is copied into
// PostgreSQL with `payrun journal copy`; `payrun reconcile --json` then
// says the same of both, line for line.
func TestJournalCopyReconcilesAlike(t *testing.T) {
	dsn := pgtest.New(t, nil)
	dir := t.TempDir()
	file := filepath.Join(dir, "payrun.db")
	j, err := boltjournal.Open(file, boltjournal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var items []journal.Item
	for i, s := range journal.States {
		it := journaltest.ValidItem(fmt.Sprintf("P-%02d", i), "teemopay", int64(1000+i))
		it.State = s
		it.Last = providers.Status{Outcome: providers.Processing, Message: "as the provider said", Refs: providers.Refs{ProviderID: fmt.Sprintf("TF%02d", i)}}
		items = append(items, it)
	}
	journaltest.Import(t, j, "B1", items...)
	for i, outcome := range []providers.Outcome{providers.Succeeded, providers.Failed} {
		id := fmt.Sprintf("E-%d", i)
		st := providers.Status{Outcome: outcome, Refs: providers.Refs{PayoutID: "P-03"}}
		r := journal.Receipt{ReplayKey: "teemopay:n" + id,
			Events: []journal.Event{{Provider: "teemopay", ID: id, PayoutID: "P-03", Received: time.Now().UTC(), Body: []byte(`{"id":"` + id + `"}`)}},
			Facts:  []journal.EventFact{{Provider: "teemopay", EventID: id, Status: st}}}
		if _, _, err := j.Persist(ctx, r); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, _, err := j.ApplyQueued(ctx, 1, func(tx journal.EventTx, f journal.EventFact) (journal.Judged, error) {
				ok, err := tx.ApplyStatus("P-03", "webhook", f.Status)
				return journal.Judged{Applied: ok}, err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := j.EnqueueMail(ctx, "m1", []byte("Subject: x\r\n\r\nbody")); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "journal", "copy", "--from", file, "--to", dsn); code != exitOK {
		t.Fatalf("journal copy: exit %d\n%s%s", code, out, errOut)
	}
	reconciled := func(location string) string {
		t.Helper()
		cfg := filepath.Join(t.TempDir(), "payrun.yaml")
		if err := os.WriteFile(cfg, []byte("journal: "+location+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCLI(t, "--config", cfg, "reconcile", "--no-poll", "--json", "--batch", "B1")
		if code != exitOK {
			t.Fatalf("reconcile on %s: exit %d\n%s", location, code, errOut)
		}
		var res map[string]any
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		delete(res, "generated_at")
		raw, _ := json.MarshalIndent(res, "", " ")
		return string(raw)
	}
	a, b := reconciled(file), reconciled(dsn)
	if a != b {
		t.Fatalf("the copy reconciles differently:\n%s\n---\n%s", a, b)
	}
	if len(a) < 1000 {
		t.Fatalf("the reconciliation says little: %s", a)
	}
}
