package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// Scope says which rows a reconciliation covers. Fields combine: a Date
// with Open is the nightly report (that day's batches, plus every item
// still open from earlier ones). The zero Scope covers every batch.
type Scope struct {
	BatchID string `json:"batch_id,omitempty"`
	// Date (YYYY-MM-DD, in MatchOptions.Location) selects the batches
	// received that day.
	Date string `json:"date,omitempty"`
	// Open adds every item that is not final, or whose status is in
	// conflict, whatever its batch: open items carry forward.
	Open bool `json:"open,omitempty"`
}

// String describes the scope for a report header.
func (s Scope) String() string {
	var parts []string
	if s.BatchID != "" {
		parts = append(parts, "batch "+s.BatchID)
	}
	if s.Date != "" {
		parts = append(parts, "date "+s.Date)
	}
	if s.Open {
		parts = append(parts, "open items")
	}
	if len(parts) == 0 {
		return "all batches"
	}
	return strings.Join(parts, " + ")
}

// MatchOptions configure Match.
type MatchOptions struct {
	// Location is the time zone of Scope.Date and of the report (default UTC).
	Location *time.Location
	// SLA is how long a payout may stay pending before it is stale
	// (default 48 h).
	SLA time.Duration
}

// Match compares the input rows in scope with what the providers said
// (responses, status queries and webhooks folded into each item, and the
// journal's event facts) and places every row in exactly one Category,
// with its reason, provider code, age and ageing bucket; then it tallies
// totals and the tie-out. Events about payouts payrun never sent are added
// as unexpected_at_provider lines (Row 0), outside the tie-out's input side.
// Every line is kept in Result.Lines: for a scope too large to hold
// (a line is ~0.9 KB, a million rows ~0.9 GB), use MatchLines.
func Match(ctx context.Context, j journal.Journal, scope Scope, now time.Time, o MatchOptions) (*Result, error) {
	var lines []Line
	res, err := matchLines(ctx, j, scope, now, o, func(rows int) func(Line) error {
		lines = make([]Line, 0, rows)
		return func(l Line) error {
			lines = append(lines, l)
			return nil
		}
	})
	if err != nil {
		return nil, err
	}
	res.Lines = lines
	return res, nil
}

// MatchLines is Match without keeping the lines: fn receives every line as
// it is placed (in the order Match keeps them), and the Result has the
// batches, totals, tie-out and invalid rows but no Lines. The matcher then
// holds one line at a time, whatever the size of the scope. An error from
// fn stops the match and is returned. fn may be nil (totals only).
func MatchLines(ctx context.Context, j journal.Journal, scope Scope, now time.Time, o MatchOptions, fn func(Line) error) (*Result, error) {
	return matchLines(ctx, j, scope, now, o, func(int) func(Line) error { return fn })
}

// matchLines places every row of the scope and hands each line to the
// sink that start returns, given the number of input rows expected.
func matchLines(ctx context.Context, j journal.Journal, scope Scope, now time.Time, o MatchOptions, start func(rows int) func(Line) error) (*Result, error) {
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.SLA <= 0 {
		o.SLA = 48 * time.Hour
	}
	m := &matcher{now: now, o: o, batches: map[string]journal.Batch{}}
	res := &Result{Scope: scope.String(), GeneratedAt: now, TimeZone: o.Location.String()}

	all, err := j.ListBatches(ctx)
	if err != nil {
		return nil, err
	}
	for _, b := range all {
		m.batches[b.ID] = b
	}
	selected, from, to, err := selectBatches(all, scope, o.Location)
	if err != nil {
		return nil, err
	}
	if err := m.readFacts(ctx, j); err != nil {
		return nil, err
	}
	rows := 0
	for _, b := range selected {
		rows += b.Rows
	}
	sink := start(rows)
	var t tally
	// payable: the line is an item's (a row made an item at ingest), not a
	// rejected row's; see inputOf for the tie-out's two sides.
	emit := func(l Line, payable bool) error {
		t.add(&l, payable)
		if l.State == string(journal.Mismatch) {
			res.noteReview(l)
		}
		if sink == nil {
			return nil
		}
		return sink(l)
	}
	// The open items of other batches follow the selected batches' rows:
	// an item belongs to one batch, so the selected batches' ids (a few)
	// tell which were placed already, where a set of their payout_ids
	// would grow with the rows.
	placed := make(map[string]bool, len(selected))
	for _, b := range selected {
		placed[b.ID] = true
	}
	for _, b := range selected {
		res.Batches = append(res.Batches, BatchInfo{ID: b.ID, File: b.File, SHA256: b.SHA256, Received: b.Created,
			State: string(b.State), Rows: b.Rows, DroppedBy: b.DroppedBy, ApprovedBy: b.ApprovedBy, Approved: b.Approved})
		if err := inputOf(ctx, j, b, &t); err != nil {
			return nil, err
		}
		var ferr error
		err := j.BatchItems(ctx, b.ID, func(it journal.Item) bool {
			if ferr = emit(m.itemLine(it), true); ferr != nil {
				return false
			}
			return true
		})
		if err := errors.Join(err, ferr); err != nil {
			return nil, err
		}
		err = j.RejectedRows(ctx, b.ID, func(r journal.RejectedRow) bool {
			if ferr == nil {
				ferr = emit(m.rejectedLine(b, r), false)
			}
			for _, e := range r.Errors {
				res.Invalid = append(res.Invalid, InvalidRow{BatchID: b.ID, File: b.File, Row: e.Row, Column: e.Column,
					Value: e.Value, Reason: e.Reason})
			}
			return true
		})
		if err := errors.Join(err, ferr); err != nil {
			return nil, err
		}
	}
	if scope.Open {
		var ferr error
		carried := map[string]bool{}
		err := j.AllItems(ctx, func(it journal.Item) bool {
			if it.State.Final() && it.Conflict == "" {
				return true
			}
			if placed[it.BatchID] {
				return true
			}
			// A day's report carries forward what was open before its
			// end, never a payout of a later day.
			if !to.IsZero() && !m.batches[it.BatchID].Created.Before(to) {
				return true
			}
			res.Carried++
			carried[it.BatchID] = true
			// A carried item's input is its row as journaled at its
			// batch's ingest (an item's payout never changes), counted
			// here, apart from the line placed for it.
			t.input(Key{Currency: it.Payout.Amount.Currency, Provider: it.Provider}, 1, it.Payout.Amount.Minor)
			ferr = emit(m.itemLine(it), true)
			return ferr == nil
		})
		if err := errors.Join(err, ferr); err != nil {
			return nil, err
		}
		res.CarriedBatches = m.oldestFirst(carried)
	}
	for _, l := range m.unexpectedLines(from, to) {
		if err := emit(l, false); err != nil {
			return nil, err
		}
	}
	t.finish(res)
	return res, nil
}

// inputOf adds a batch's input to the input side of the tie-out.
//
// The tie-out proves that every input row was placed in exactly one
// category, so its input side must not come from the lines placed: it is
// the record ingest wrote of the file when it journaled it (Batch.Totals:
// the count and amount of the rows made items, per currency and provider;
// Batch.Invalid and Batch.Duplicates: the rows never sent). The lines,
// read from the items and rejected rows, are the categories side: a row
// the matcher loses or places twice, or an item missing from the store,
// shows as a difference. Invalid and duplicate rows tie by count only, on
// lines of their own (an invalid row's amount, currency or provider may be
// unreadable; a duplicate's amount is recorded nowhere but on its row).
//
// A day's report (Scope.Date with Open) adds the day's batches this way,
// and each item carried forward from an earlier day as its own input: the
// payout journaled at its batch's ingest, counted as it is read, apart
// from its line (matchLines). A batch's record covers the whole batch,
// never part of it, so it is the right input only for a batch whose rows
// are all in scope, which is how scopes take batches.
//
// A batch with no such record (journaled by Import, as tests, benchmarks
// and older tools do, or still ingesting) has its input read from the
// journal in a pass of its own, apart from the matcher's: weaker (a row
// missing from the store is not seen), but a matcher that loses or
// doubles a line still shows.
func inputOf(ctx context.Context, j journal.Journal, b journal.Batch, t *tally) error {
	if recorded(b) {
		for _, tot := range b.Totals {
			t.input(Key{Currency: tot.Currency, Provider: tot.Provider}, tot.Count, tot.Amount)
		}
		t.inputRows(b.Invalid, b.Duplicates)
		return nil
	}
	if err := j.BatchItems(ctx, b.ID, func(it journal.Item) bool {
		t.input(Key{Currency: it.Payout.Amount.Currency, Provider: it.Provider}, 1, it.Payout.Amount.Minor)
		return true
	}); err != nil {
		return err
	}
	return j.RejectedRows(ctx, b.ID, func(r journal.RejectedRow) bool {
		if r.State == journal.Duplicate {
			t.inputRows(0, 1)
		} else {
			t.inputRows(1, 0)
		}
		return true
	})
}

// recorded reports whether a batch holds ingest's record of its file: its
// rows are its items and rejected rows, and its totals count its items.
func recorded(b journal.Batch) bool {
	if b.State == journal.BatchIngesting || b.Rows == 0 || b.Valid+b.Invalid+b.Duplicates != b.Rows {
		return false
	}
	n := 0
	for _, tot := range b.Totals {
		n += tot.Count
	}
	return n == b.Valid
}

// selectBatches returns the batches of the scope, oldest first, and the
// time window of the scope for unexpected events (zero: unbounded).
func selectBatches(all []journal.Batch, s Scope, loc *time.Location) ([]journal.Batch, time.Time, time.Time, error) {
	var out []journal.Batch
	var from, to time.Time
	switch {
	case s.BatchID != "":
		for _, b := range all {
			if b.ID == s.BatchID {
				out = append(out, b)
				from = b.Created
			}
		}
		if len(out) == 0 {
			return nil, from, to, fmt.Errorf("batch %s: %w", s.BatchID, journal.ErrNotFound)
		}
	case s.Date != "":
		day, err := time.ParseInLocation("2006-01-02", s.Date, loc)
		if err != nil {
			return nil, from, to, fmt.Errorf("date %q: want YYYY-MM-DD", s.Date)
		}
		from, to = day, day.AddDate(0, 0, 1)
		for _, b := range all {
			if !b.Created.Before(from) && b.Created.Before(to) {
				out = append(out, b)
			}
		}
	case !s.Open:
		out = append(out, all...)
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Created.Equal(out[b].Created) {
			return out[a].ID < out[b].ID
		}
		return out[a].Created.Before(out[b].Created)
	})
	return out, from, to, nil
}

// oldestFirst lists the batches of ids in the order they were received.
func (m *matcher) oldestFirst(ids map[string]bool) []string {
	out := make([]string, 0, len(ids))
	for id := range ids {
		out = append(out, id)
	}
	sort.Slice(out, func(a, b int) bool {
		ba, bb := m.batches[out[a]], m.batches[out[b]]
		if !ba.Created.Equal(bb.Created) {
			return ba.Created.Before(bb.Created)
		}
		return out[a] < out[b]
	})
	return out
}

type matcher struct {
	now     time.Time
	o       MatchOptions
	batches map[string]journal.Batch
	// others: payout_id -> a second provider payout that may have moved
	// money (duplicate_at_provider).
	others map[string]string
	// unexpected facts, one per provider payout, latest first.
	unexpected map[string]journal.EventFact
}

// readFacts reads what the receiver could not fold into items.
func (m *matcher) readFacts(ctx context.Context, j journal.Journal) error {
	m.others = map[string]string{}
	m.unexpected = map[string]journal.EventFact{}
	return j.EventFacts(ctx, func(f journal.EventFact) bool {
		switch {
		case f.DuplicateNotice:
		case f.Note == NoteUnexpected:
			k := f.Provider + "\x00" + unexpectedKey(f.Status.Refs)
			if prev, ok := m.unexpected[k]; !ok || f.Received.After(prev.Received) {
				m.unexpected[k] = f
			}
		case strings.HasPrefix(f.Note, NoteOtherPayout):
			if movesMoney(f.Status.Outcome) && f.Status.Refs.PayoutID != "" {
				ref := f.Status.Refs.SessionID
				if ref == "" {
					ref = f.Status.Refs.ProviderID
				}
				m.others[f.Status.Refs.PayoutID] = ref
			}
		}
		return true
	})
}

func unexpectedKey(r providers.Refs) string {
	switch {
	case r.ProviderID != "":
		return r.ProviderID
	case r.SessionID != "":
		return r.SessionID
	}
	return "ref:" + r.PayoutID
}

// movesMoney reports whether a provider payout in this outcome has paid,
// or may pay without payrun's say (two-phase sessions never do).
func movesMoney(o providers.Outcome) bool {
	switch o {
	case providers.Succeeded, providers.Reversed, providers.Processing, providers.AwaitingBeneficiary:
		return true
	}
	return false
}

// Reasons that do not depend on the row, allocated once.
const (
	reasonNotSent     = "not sent yet"
	reasonSending     = "being sent"
	reasonInDoubt     = "in doubt: the request may have reached the provider; being resolved"
	reasonWaiting     = "waiting for the provider's final status"
	reasonConfirm     = "waiting for the two-phase confirmation"
	reasonBeneficiary = "waiting for the beneficiary"
	reasonExpired     = "the beneficiary never acted"
	reasonMissing     = "the provider does not know this payout"
)

func (m *matcher) itemLine(it journal.Item) Line {
	b := m.batches[it.BatchID]
	st := it.Last
	l := Line{
		BatchID:        it.BatchID,
		File:           b.File,
		Row:            it.Row,
		PayoutID:       it.PayoutID,
		Provider:       it.Provider,
		Method:         string(it.Payout.Method),
		Currency:       it.Payout.Amount.Currency,
		Amount:         it.Payout.Amount.Minor,
		Fee:            st.Fee,
		State:          string(it.State),
		ProviderCode:   st.Code,
		ProviderStatus: st.RawStatus,
		ProviderRef:    it.Refs.ProviderID,
		URL:            st.URL,
		Beneficiary:    it.Payout.Beneficiary.FullName(),
		Account:        it.Payout.Beneficiary.AccountNumber,
		Document:       it.Payout.Beneficiary.DocumentNumber,
		Created:        it.Created,
		Updated:        it.Updated,
	}
	if l.ProviderRef == "" {
		l.ProviderRef = it.Refs.SessionID
	}
	if l.Account == "" {
		l.Account = it.Payout.Beneficiary.CCI
	}
	reported := st.Amount.Minor != 0 || st.Amount.Currency != ""
	if reported {
		l.ProviderAmount = st.Amount.Minor
	}
	since := it.SentAt
	if since.IsZero() {
		since = it.Created
	}
	age := max(m.now.Sub(since), 0)
	l.AgeDays = int(age / (24 * time.Hour))
	l.AgeBucket = AgeBucket(age)
	l.Category, l.Reason = m.categorise(it, reported, age)
	return l
}

func (m *matcher) categorise(it journal.Item, reported bool, age time.Duration) (Category, string) {
	st := it.Last
	if it.Conflict != "" {
		return StatusConflict, it.Conflict
	}
	if other, ok := m.others[it.PayoutID]; ok && other != it.Refs.ProviderID && other != it.Refs.SessionID {
		mine := it.Refs.ProviderID
		if it.Refs.SessionID != "" {
			mine = it.Refs.SessionID
		}
		return DuplicateAtProvider, fmt.Sprintf("two provider payouts for one payout_id: %s and %s", mine, other)
	}
	pending := func(why string) (Category, string) {
		if age > m.o.SLA {
			return Stale, fmt.Sprintf("%s for %d days, past the SLA of %s", why, int(age/(24*time.Hour)), m.o.SLA)
		}
		return Pending, why
	}
	switch it.State {
	case journal.Invalid:
		return InvalidInput, it.Reason
	case journal.Duplicate:
		return DuplicateInput, it.Reason
	case journal.Held:
		return Held, it.Reason
	case journal.Cancelled:
		return Cancelled, it.Reason
	case journal.Accepted, journal.Queued:
		return pending(reasonNotSent)
	case journal.Sending:
		return pending(reasonSending)
	case journal.Submitted, journal.InDoubt, journal.AwaitingConfirmation, journal.Confirming:
		if st.RawStatus == NotFoundAtProvider {
			return MissingAtProvider, reasonMissing
		}
		switch it.State {
		case journal.InDoubt:
			return pending(reasonInDoubt)
		case journal.AwaitingConfirmation, journal.Confirming:
			return pending(reasonConfirm)
		}
		return pending(reasonWaiting)
	case journal.AwaitingBeneficiary:
		return AwaitingBeneficiary, reasonBeneficiary
	case journal.Expired:
		return Expired, reasonExpired
	case journal.Reversed:
		return ReversedAfterSuccess, "paid, then returned" + detail(st)
	case journal.Failed:
		if r := detail(st); r != "" {
			return FailedAtProvider, r[2:]
		}
		return FailedAtProvider, it.Reason
	case journal.Succeeded, journal.Mismatch:
		want := it.Payout.Amount
		if reported && st.Amount.Currency != "" && !strings.EqualFold(st.Amount.Currency, want.Currency) {
			return DataMismatch, fmt.Sprintf("currency %s at the provider, %s in the input", strings.ToUpper(st.Amount.Currency), want.Currency)
		}
		if reported && st.Amount.Minor != want.Minor {
			diff := st.Amount.Minor - want.Minor
			c := AmountOver
			if diff < 0 {
				c = AmountUnder
			}
			return c, fmt.Sprintf("the provider paid %d, the input says %d (minor units of %s)", st.Amount.Minor, want.Minor, want.Currency)
		}
		if it.State == journal.Mismatch {
			return DataMismatch, it.Reason
		}
		return Matched, ""
	}
	return pending("state " + string(it.State))
}

// detail is ": code message" of a provider status, or "".
func detail(st providers.Status) string {
	s := strings.TrimSpace(strings.TrimSpace(st.Code + " " + st.Message))
	if s == "" {
		return ""
	}
	return ": " + s
}

func (m *matcher) rejectedLine(b journal.Batch, r journal.RejectedRow) Line {
	l := Line{BatchID: b.ID, File: b.File, Row: r.Row, PayoutID: r.PayoutID, Provider: r.Provider, Method: r.Method,
		Currency: r.Currency, Amount: r.Amount, State: string(r.State), Created: b.Created, Updated: b.Updated}
	age := max(m.now.Sub(b.Created), 0)
	l.AgeDays, l.AgeBucket = int(age/(24*time.Hour)), AgeBucket(age)
	if r.State == journal.Duplicate {
		l.Category = DuplicateInput
		l.Reason = "payout_id already journaled"
		if r.Original != "" {
			l.Reason += " by batch " + r.Original
		}
		return l
	}
	l.Category = InvalidInput
	var why []string
	for _, e := range r.Errors {
		if e.Column != "" {
			why = append(why, e.Column+": "+e.Reason)
		} else {
			why = append(why, e.Reason)
		}
	}
	l.Reason = strings.Join(why, "; ")
	return l
}

// unexpectedLines turns events about payouts payrun never sent into lines,
// one per provider payout, those received within [from, to) when bounded.
func (m *matcher) unexpectedLines(from, to time.Time) []Line {
	var out []Line
	for _, f := range m.unexpected {
		if !from.IsZero() && f.Received.Before(from) {
			continue
		}
		if !to.IsZero() && !f.Received.Before(to) {
			continue
		}
		st := f.Status
		age := max(m.now.Sub(f.Received), 0)
		ref := st.Refs.ProviderID
		if ref == "" {
			ref = st.Refs.SessionID
		}
		out = append(out, Line{
			PayoutID: st.Refs.PayoutID, Provider: f.Provider, Method: string(st.Refs.Method),
			Currency: strings.ToUpper(st.Amount.Currency), Amount: st.Amount.Minor, ProviderAmount: st.Amount.Minor,
			Fee: st.Fee, Category: UnexpectedAtProvider, State: string(st.Outcome),
			Reason:       "the provider reported a payout payrun never sent (" + string(st.Outcome) + ")",
			ProviderCode: st.Code, ProviderStatus: st.RawStatus, ProviderRef: ref,
			Created: f.Received, Updated: f.Received, AgeDays: int(age / (24 * time.Hour)), AgeBucket: AgeBucket(age),
		})
	}
	// A total order (one line per provider payout), so that two matches of
	// the same journal list them alike.
	sort.Slice(out, func(a, b int) bool {
		if out[a].Provider != out[b].Provider {
			return out[a].Provider < out[b].Provider
		}
		if out[a].PayoutID != out[b].PayoutID {
			return out[a].PayoutID < out[b].PayoutID
		}
		return out[a].ProviderRef < out[b].ProviderRef
	})
	return out
}
