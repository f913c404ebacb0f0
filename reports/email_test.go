package reports

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/reconcile"
)

func TestReportBodiesGolden(t *testing.T) {
	meta, res := fixture()
	var h, x bytes.Buffer
	if err := WriteHTML(&h, meta, res, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&x, meta, res, Options{}); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.html.golden", h.String())
	golden(t, "report.txt.golden", x.String())
}

func TestComposeStableMessageID(t *testing.T) {
	meta, res := fixture()
	env := Envelope{From: "payrun@example.com", To: []string{"ana@example.com"}, SubjectPrefix: "[payrun]"}
	a, err := Compose(meta, res, env, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Compose(meta, res, env, Options{})
	if MessageID(a) == "" || MessageID(a) != MessageID(b) {
		t.Errorf("Message-Ids %q and %q, want equal and set", MessageID(a), MessageID(b))
	}
	if !strings.HasPrefix(a.Subject, "[payrun] Reconciliation batch B20261121 (payouts-2026-11-21.csv): 3 matched, 5 exceptions") {
		t.Errorf("subject %q", a.Subject)
	}
	if _, err := Compose(meta, res, Envelope{From: "x@example.com"}, Options{}); err == nil {
		t.Error("Compose without recipients succeeded")
	}
}

func TestPreflightGolden(t *testing.T) {
	p := Preflight{
		BatchID: "B20261121", File: "payouts-2026-11-21.xlsx", At: time.Date(2026, 11, 21, 18, 0, 0, 0, lima), Location: lima,
		Groups: []PreflightGroup{
			{Provider: "teemopay", Currency: "PEN", Count: 1200, Amount: 250_000_00},
			{Provider: "monnet", Currency: "CLP", Count: 30, Amount: 4_500_000},
		},
		Invalid: []reconcile.InvalidRow{{Row: 17, Column: "amount", Value: "1.005", Reason: "amount has more decimals than the currency allows"}},
		Duplicates: []dispatch.SuspectedDuplicate{{Row: 42, PayoutID: "P-042", Account: "00191234564477", Currency: "PEN", Amount: 1500_50,
			OtherBatch: "B20261120", OtherPayoutID: "P-977", OtherDate: time.Date(2026, 11, 20, 18, 3, 0, 0, lima)}},
		Estimate: 7*time.Minute + 30*time.Second, Held: true,
		HoldReason: "PEN total 250,000.00 is above the approval threshold 100,000.00.", Approve: "payrun approve B20261121",
	}
	e, err := ComposePreflight(p, Envelope{From: "payrun@example.com", To: []string{"ops@example.com"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Subject, "HELD") {
		t.Errorf("subject %q does not say the batch is held", e.Subject)
	}
	golden(t, "preflight.txt.golden", string(e.Text))
	golden(t, "preflight.html.golden", string(e.HTML))
}
