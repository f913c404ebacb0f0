package reconcile

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

var matchNow = time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)

// recordFact stores an event and its fact as the receiver would.
func recordFact(t testing.TB, j journal.Journal, provider, id string, st providers.Status, note string, dup bool) {
	t.Helper()
	f := journal.EventFact{Provider: provider, EventID: id, Status: st, DuplicateNotice: dup}
	r := journal.Receipt{Events: []journal.Event{{Provider: provider, ID: id, PayoutID: st.Refs.PayoutID, Received: matchNow.Add(-time.Hour)}},
		Facts: []journal.EventFact{f}}
	if _, _, err := j.Persist(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := j.MarkEventFact(ctx, note == "", note, f); err != nil {
		t.Fatal(err)
	}
}

func pen(minor int64) money.Money { return money.Money{Minor: minor, Currency: "PEN"} }

// TestMatchCategories places one row of each kind.
func TestMatchCategories(t *testing.T) {
	t.Parallel()
	j := testjournal.Open(t, func() time.Time { return matchNow.Add(-72 * time.Hour) })
	row := 1
	item := func(id string, state journal.State, last providers.Status, edit ...func(*journal.Item)) journal.Item {
		row++
		it := journaltest.ValidItem(id, "teemopay", 10000)
		it.Row = row
		it.State = state
		it.Refs.ProviderID = "TF-" + id
		last.Refs = it.Refs
		it.Last = last
		it.SentAt = matchNow.Add(-time.Hour)
		for _, e := range edit {
			e(&it)
		}
		return it
	}
	old := func(it *journal.Item) { it.SentAt = matchNow.Add(-5 * 24 * time.Hour) }
	ok := providers.Status{Outcome: providers.Succeeded, Amount: pen(10000), Fee: 100}
	cases := []struct {
		it   journal.Item
		want Category
	}{
		{item("matched", journal.Succeeded, ok), Matched},
		{item("over", journal.Succeeded, providers.Status{Outcome: providers.Succeeded, Amount: pen(10001)}), AmountOver},
		{item("under", journal.Succeeded, providers.Status{Outcome: providers.Succeeded, Amount: pen(9000)}), AmountUnder},
		{item("currency", journal.Succeeded, providers.Status{Outcome: providers.Succeeded, Amount: money.Money{Minor: 10000, Currency: "USD"}}), DataMismatch},
		{item("unreported", journal.Succeeded, providers.Status{Outcome: providers.Succeeded}), Matched},
		{item("failed", journal.Failed, providers.Status{Outcome: providers.Failed, Code: "1000", Message: "account restricted"}), FailedAtProvider},
		{item("pending", journal.Submitted, providers.Status{Outcome: providers.Processing}), Pending},
		{item("stale", journal.Submitted, providers.Status{Outcome: providers.Processing}, old), Stale},
		{item("doubt-stale", journal.InDoubt, providers.Status{}, old), Stale},
		{item("missing", journal.Submitted, providers.Status{Outcome: providers.Processing, RawStatus: NotFoundAtProvider}), MissingAtProvider},
		{item("benef", journal.AwaitingBeneficiary, providers.Status{Outcome: providers.AwaitingBeneficiary}), AwaitingBeneficiary},
		{item("expired", journal.Expired, providers.Status{Outcome: providers.Expired}), Expired},
		{item("reversed", journal.Reversed, providers.Status{Outcome: providers.Reversed, Code: "1001"}), ReversedAfterSuccess},
		{item("conflict", journal.Failed, providers.Status{Outcome: providers.Failed}, func(it *journal.Item) { it.Conflict = "poller says succeeded" }), StatusConflict},
		{item("held", journal.Held, providers.Status{}), Held},
		{item("cancelled", journal.Cancelled, providers.Status{}), Cancelled},
		{item("twice", journal.Succeeded, ok), DuplicateAtProvider},
	}
	var items []journal.Item
	for _, c := range cases {
		items = append(items, c.it)
	}
	journaltest.Import(t, j, "b1", items...)
	err := j.ImportRejected(ctx, []journal.RejectedRow{
		{BatchID: "b1", Row: 100, PayoutID: "bad", State: journal.Invalid, Provider: "teemopay", Currency: "PEN", Amount: 500,
			Errors: []batch.RowError{{Row: 100, Column: "cci", Value: "12", Reason: "must have 20 digits"}}},
		{BatchID: "b1", Row: 101, PayoutID: "matched", State: journal.Duplicate, Original: "b0", Provider: "teemopay", Currency: "PEN", Amount: 700},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A second provider payout for "twice", a refused duplicate for
	// "matched" (never a duplicate at provider), and an unexpected payout.
	recordFact(t, j, "teemopay", "e1", providers.Status{Outcome: providers.Succeeded,
		Refs: providers.Refs{PayoutID: "twice", ProviderID: "TF-other"}}, NoteOtherPayout+" TF-other: succeeded", false)
	recordFact(t, j, "teemopay", "e2", providers.Status{Outcome: providers.Failed,
		Refs: providers.Refs{PayoutID: "matched", ProviderID: "TF-dup"}, Code: "2005"}, NoteDuplicateNotice, true)
	recordFact(t, j, "teemopay", "e3", providers.Status{Outcome: providers.Succeeded, Amount: pen(4200),
		Refs: providers.Refs{PayoutID: "ghost", ProviderID: "TF-ghost"}}, NoteUnexpected, false)
	recordFact(t, j, "teemopay", "e4", providers.Status{Outcome: providers.Succeeded, Amount: pen(4200),
		Refs: providers.Refs{PayoutID: "ghost", ProviderID: "TF-ghost"}}, NoteUnexpected, false)

	res, err := Match(ctx, j, Scope{BatchID: "b1"}, matchNow, MatchOptions{SLA: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Line{}
	for _, l := range res.Lines {
		got[fmt.Sprintf("%s/%d", l.PayoutID, l.Row)] = l
	}
	for _, c := range cases {
		l := got[fmt.Sprintf("%s/%d", c.it.PayoutID, c.it.Row)]
		if l.Category != c.want {
			t.Errorf("%s: %s (%q), want %s", c.it.PayoutID, l.Category, l.Reason, c.want)
		}
	}
	for key, want := range map[string]Category{"bad/100": InvalidInput, "matched/101": DuplicateInput, "ghost/0": UnexpectedAtProvider} {
		if got[key].Category != want {
			t.Errorf("%s: %s, want %s", key, got[key].Category, want)
		}
	}
	if l := got["failed/7"]; l.ProviderCode != "1000" || l.Reason != "1000 account restricted" {
		t.Errorf("failed line code %q reason %q", l.ProviderCode, l.Reason)
	}
	if l := got["stale/9"]; l.AgeDays != 5 || l.AgeBucket != Age4to7 {
		t.Errorf("stale line age %d bucket %q, want 5 and %q", l.AgeDays, l.AgeBucket, Age4to7)
	}
	if len(res.Lines) != len(cases)+3 {
		t.Errorf("%d lines, want %d (one per row, one unexpected)", len(res.Lines), len(cases)+3)
	}
	if len(res.Invalid) != 1 || res.Invalid[0].Column != "cci" {
		t.Errorf("invalid rows %+v", res.Invalid)
	}
	if !res.Balanced() {
		t.Fatalf("tie-out %+v", res.TieOut)
	}
	var fees int64
	for _, to := range res.TieOut {
		fees += to.Fees
	}
	if fees != 200 { // "matched" and "twice"
		t.Errorf("fees %d, want 200", fees)
	}
}

// TestMatchScopes: a day's batches, one batch, and open items carried
// forward from earlier batches.
func TestMatchScopes(t *testing.T) {
	t.Parallel()
	lima, err := time.LoadLocation("America/Lima")
	if err != nil {
		t.Skip("no time zone data")
	}
	at := matchNow.Add(-48 * time.Hour)
	j := testjournal.Open(t, func() time.Time { return at })
	done := journaltest.ValidItem("d-1", "teemopay", 100)
	done.State = journal.Succeeded
	open := journaltest.ValidItem("d-2", "teemopay", 200)
	open.State = journal.Submitted
	journaltest.Import(t, j, "day1", done, open)
	at = matchNow // 02:00 in Lima, the 22nd
	today := journaltest.ValidItem("t-1", "teemopay", 300)
	today.State = journal.Succeeded
	journaltest.Import(t, j, "day3", today)

	count := func(s Scope) map[string]bool {
		t.Helper()
		res, err := Match(ctx, j, s, matchNow, MatchOptions{Location: lima})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Balanced() {
			t.Errorf("%s: not balanced", s)
		}
		out := map[string]bool{}
		for _, l := range res.Lines {
			if out[l.PayoutID] {
				t.Errorf("%s: %s twice", s, l.PayoutID)
			}
			out[l.PayoutID] = true
		}
		return out
	}
	if got := count(Scope{Date: "2026-11-22"}); len(got) != 1 || !got["t-1"] {
		t.Errorf("date scope: %v", got)
	}
	if got := count(Scope{Date: "2026-11-22", Open: true}); len(got) != 2 || !got["t-1"] || !got["d-2"] {
		t.Errorf("date + open scope: %v", got)
	}
	if got := count(Scope{Open: true}); len(got) != 1 || !got["d-2"] {
		t.Errorf("open scope: %v", got)
	}
	if got := count(Scope{BatchID: "day1"}); len(got) != 2 {
		t.Errorf("batch scope: %v", got)
	}
	if _, err := Match(ctx, j, Scope{BatchID: "nope"}, matchNow, MatchOptions{}); err == nil {
		t.Error("an unknown batch matched")
	}
}

// TestMatchProperty: for random batches and random provider behaviour,
// every input row is in exactly one category and the tie-out difference is
// zero for every currency and provider, with input totals that equal those
// generated.
func TestMatchProperty(t *testing.T) {
	t.Parallel()
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { matchProperty(t, seed) })
	}
}

func matchProperty(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	j := testjournal.Open(t, func() time.Time { return matchNow.Add(-time.Duration(rng.IntN(10*24)) * time.Hour) })
	provs := []string{"monnet", "teemopay", "bank131", "smartglocal"}
	currencies := []string{"PEN", "USD", "RUB", "CLP"}
	outcomes := []providers.Outcome{providers.Processing, providers.AwaitingConfirmation, providers.AwaitingBeneficiary,
		providers.Succeeded, providers.Failed, providers.Reversed, providers.Expired, providers.Cancelled}
	type key struct{ cur, prov string }
	want := map[key]int64{}        // every row's amount, by group
	payable := map[key]int64{}     // the items' amounts: the tie-out's money
	notPayable := map[string]int{} // rejected rows: the counts-only lines
	wantRows := 0
	var ids []string
	for b := range 1 + rng.IntN(4) {
		bid := fmt.Sprintf("s%d-b%d", seed, b)
		var items []journal.Item
		var rejected []journal.RejectedRow
		for r := range rng.IntN(200) {
			row := r + 2
			prov, cur := provs[rng.IntN(len(provs))], currencies[rng.IntN(len(currencies))]
			amount := rng.Int64N(1_000_000_00) + 1
			id := fmt.Sprintf("%s-r%d", bid, row)
			want[key{cur, prov}] += amount
			wantRows++
			switch rng.IntN(10) {
			case 0:
				rejected = append(rejected, journal.RejectedRow{BatchID: bid, Row: row, PayoutID: id, State: journal.Invalid,
					Provider: prov, Currency: cur, Amount: amount, Errors: []batch.RowError{{Row: row, Column: "amount", Reason: "random"}}})
				notPayable[NotPayableInvalid]++
				continue
			case 1:
				rejected = append(rejected, journal.RejectedRow{BatchID: bid, Row: row, PayoutID: id, State: journal.Duplicate,
					Provider: prov, Currency: cur, Amount: amount, Original: "earlier"})
				notPayable[NotPayableDuplicate]++
				continue
			}
			payable[key{cur, prov}] += amount
			it := journaltest.Item(id, prov, providers.BankTransfer, amount, cur)
			it.Row = row
			it.State = journal.States[rng.IntN(len(journal.States))]
			it.Refs.ProviderID = "P" + id
			o := outcomes[rng.IntN(len(outcomes))]
			st := providers.Status{Outcome: o, Refs: it.Refs, Fee: rng.Int64N(3) * 50}
			switch rng.IntN(5) {
			case 0: // the provider reports nothing about the amount
			case 1:
				st.Amount = money.Money{Minor: amount + rng.Int64N(200) - 100, Currency: cur}
			case 2:
				st.Amount = money.Money{Minor: amount, Currency: currencies[rng.IntN(len(currencies))]}
			default:
				st.Amount = money.Money{Minor: amount, Currency: cur}
			}
			if rng.IntN(20) == 0 {
				st.RawStatus = NotFoundAtProvider
			}
			it.Last = st
			if rng.IntN(25) == 0 {
				it.Conflict = "webhook and query disagree"
			}
			if rng.IntN(3) > 0 {
				it.SentAt = matchNow.Add(-time.Duration(rng.IntN(12*24)) * time.Hour)
			}
			items = append(items, it)
			ids = append(ids, id)
		}
		journaltest.Import(t, j, bid, items...)
		if err := j.ImportRejected(ctx, rejected); err != nil {
			t.Fatal(err)
		}
	}
	// Random provider facts: unexpected payouts, second payouts, notices.
	for e := range rng.IntN(30) {
		st := providers.Status{Outcome: outcomes[rng.IntN(len(outcomes))], Amount: money.Money{Minor: rng.Int64N(10000), Currency: "PEN"}}
		note, dup := NoteUnexpected, false
		st.Refs = providers.Refs{PayoutID: fmt.Sprintf("ghost-%d", rng.IntN(10)), ProviderID: fmt.Sprintf("G%d", rng.IntN(10))}
		if len(ids) > 0 && rng.IntN(2) == 0 {
			st.Refs = providers.Refs{PayoutID: ids[rng.IntN(len(ids))], ProviderID: fmt.Sprintf("X%d", e)}
			note, dup = NoteOtherPayout+" X", rng.IntN(2) == 0
		}
		recordFact(t, j, provs[rng.IntN(len(provs))], fmt.Sprintf("ev-%d", e), st, note, dup)
	}

	res, err := Match(ctx, j, Scope{}, matchNow, MatchOptions{SLA: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	valid := map[Category]bool{}
	for _, c := range Categories {
		valid[c] = true
	}
	seen := map[string]int{}
	got := map[key]int64{}
	rows := 0
	for _, l := range res.Lines {
		if !valid[l.Category] {
			t.Fatalf("line %s/%d has category %q", l.BatchID, l.Row, l.Category)
		}
		if l.Category == UnexpectedAtProvider {
			if l.Row != 0 {
				t.Errorf("unexpected line with row %d", l.Row)
			}
			continue
		}
		seen[fmt.Sprintf("%s/%d", l.BatchID, l.Row)]++
		got[key{l.Currency, l.Provider}] += l.Amount
		rows++
	}
	if rows != wantRows {
		t.Errorf("%d input lines, want %d", rows, wantRows)
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("row %s in %d categories", k, n)
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%v: lines total %d, generated %d", k, got[k], v)
		}
	}
	if !res.Balanced() {
		t.Errorf("not balanced: %+v", res.TieOut)
	}
	for _, to := range res.TieOut {
		if to.CountsOnly {
			if to.Currency != "" || to.InputCount != notPayable[to.Provider] || to.InputAmount != 0 {
				t.Errorf("tie-out %+v, generated %d rows", to, notPayable[to.Provider])
			}
			continue
		}
		if to.Difference != 0 || to.InputAmount != payable[key{to.Currency, to.Provider}] {
			t.Errorf("tie-out %+v, generated input %d", to, payable[key{to.Currency, to.Provider}])
		}
	}
	for _, s := range []Scope{{}, {Open: true}, {BatchID: fmt.Sprintf("s%d-b0", seed), Open: true}} {
		sameStreamed(t, j, s)
	}
}

// sameStreamed: MatchLines hands over the lines Match keeps, in the same
// order, and the same totals and tie-out, without keeping them.
func sameStreamed(t *testing.T, j journal.Journal, s Scope) {
	t.Helper()
	o := MatchOptions{SLA: 48 * time.Hour}
	kept, err := Match(ctx, j, s, matchNow, o)
	if err != nil {
		t.Fatal(err)
	}
	var lines []Line
	streamed, err := MatchLines(ctx, j, s, matchNow, o, func(l Line) error {
		lines = append(lines, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if streamed.Lines != nil || streamed.LineCount != len(lines) || kept.LineCount != len(kept.Lines) {
		t.Errorf("%s: streamed result keeps %d lines, counts %d of %d; kept counts %d of %d", s,
			len(streamed.Lines), streamed.LineCount, len(lines), kept.LineCount, len(kept.Lines))
	}
	if !reflect.DeepEqual(lines, kept.Lines) {
		t.Errorf("%s: streamed lines differ from the kept ones", s)
	}
	streamed.Lines = kept.Lines
	if !reflect.DeepEqual(streamed, kept) {
		t.Errorf("%s: streamed result %+v, kept %+v", s, streamed, kept)
	}
	stop := errors.New("stop")
	n := 0
	if _, err := MatchLines(ctx, j, s, matchNow, o, func(Line) error { n++; return stop }); len(lines) > 0 && (!errors.Is(err, stop) || n != 1) {
		t.Errorf("%s: the sink's error gave %v after %d lines", s, err, n)
	}
}

// TestDayReportCarriesOnlyWhatWasOpenBefore: the report of day D holds
// the batches received on D and every item open from before D, never a
// payout of a later day (the morning report runs after midnight), and
// says what it carried and from which batches.
func TestDayReportCarriesOnlyWhatWasOpenBefore(t *testing.T) {
	t.Parallel()
	lima, err := time.LoadLocation("America/Lima")
	if err != nil {
		t.Skip("no time zone data")
	}
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, lima) }
	at := day(4, 10)
	j := testjournal.Open(t, func() time.Time { return at })
	old := journaltest.ValidItem("o-1", "teemopay", 100)
	old.State = journal.Submitted
	oldDone := journaltest.ValidItem("o-2", "teemopay", 100)
	oldDone.State = journal.Succeeded
	journaltest.Import(t, j, "B-4th", old, oldDone)
	at = day(5, 18)
	fifth := journaltest.ValidItem("f-1", "teemopay", 200)
	fifth.State = journal.Succeeded
	journaltest.Import(t, j, "B-5th", fifth)
	at = day(6, 1) // after midnight: the next day's file
	sixth := journaltest.ValidItem("s-1", "teemopay", 300)
	sixth.State = journal.Submitted
	journaltest.Import(t, j, "B-6th", sixth)

	res, err := Match(ctx, j, Scope{Date: "2026-11-05", Open: true}, day(6, 7), MatchOptions{Location: lima})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, l := range res.Lines {
		got[l.PayoutID] = true
	}
	if len(got) != 2 || !got["f-1"] || !got["o-1"] {
		t.Errorf("the report of the 5th holds %v, want f-1 (the 5th) and o-1 (open from the 4th)", got)
	}
	if len(res.Batches) != 1 || res.Batches[0].ID != "B-5th" || res.Carried != 1 || strings.Join(res.CarriedBatches, ",") != "B-4th" {
		t.Errorf("batches %v, carried %d from %v", res.Batches, res.Carried, res.CarriedBatches)
	}
}
