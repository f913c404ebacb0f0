package reconcile

import (
	"sort"
	"time"
)

// Category is where a row stands after matching. Every input row is in
// exactly one category (DESIGN.md "Reconciliation categories").
type Category string

// The categories, in the order reports show them.
const (
	Matched              Category = "matched"
	FailedAtProvider     Category = "failed"
	AmountOver           Category = "amount_mismatch_over"
	AmountUnder          Category = "amount_mismatch_under"
	DataMismatch         Category = "data_mismatch" // currency or other data differs
	MissingAtProvider    Category = "missing_at_provider"
	UnexpectedAtProvider Category = "unexpected_at_provider"
	DuplicateAtProvider  Category = "duplicate_at_provider"
	Pending              Category = "pending"
	Stale                Category = "stale" // pending past the SLA
	AwaitingBeneficiary  Category = "awaiting_beneficiary"
	Expired              Category = "expired"
	ReversedAfterSuccess Category = "reversed_after_success"
	StatusConflict       Category = "status_conflict"
	InvalidInput         Category = "invalid_input"
	DuplicateInput       Category = "duplicate_input"
	Held                 Category = "held"
	Cancelled            Category = "cancelled"
)

// Categories lists every category in report order.
var Categories = []Category{
	Matched, FailedAtProvider, AmountOver, AmountUnder, DataMismatch, MissingAtProvider,
	UnexpectedAtProvider, DuplicateAtProvider, Pending, Stale, AwaitingBeneficiary, Expired,
	ReversedAfterSuccess, StatusConflict, InvalidInput, DuplicateInput, Held, Cancelled,
}

// Open reports whether rows of this category are still moving and carry
// forward to the next reconciliation.
func (c Category) Open() bool {
	switch c {
	case Pending, Stale, AwaitingBeneficiary, MissingAtProvider, StatusConflict, Held:
		return true
	}
	return false
}

// Exception reports whether the row belongs on the Exceptions sheet.
func (c Category) Exception() bool { return c != Matched }

// Label is the category as an accountant reads it.
func (c Category) Label() string {
	switch c {
	case Matched:
		return "Matched"
	case FailedAtProvider:
		return "Failed"
	case AmountOver:
		return "Amount mismatch (over)"
	case AmountUnder:
		return "Amount mismatch (under)"
	case DataMismatch:
		return "Currency or data mismatch"
	case MissingAtProvider:
		return "Missing at provider"
	case UnexpectedAtProvider:
		return "Unexpected at provider"
	case DuplicateAtProvider:
		return "Duplicate at provider"
	case Pending:
		return "Pending"
	case Stale:
		return "Stale (past SLA)"
	case AwaitingBeneficiary:
		return "Awaiting beneficiary"
	case Expired:
		return "Expired"
	case ReversedAfterSuccess:
		return "Reversed after success"
	case StatusConflict:
		return "Status conflict"
	case InvalidInput:
		return "Invalid input (never sent)"
	case DuplicateInput:
		return "Duplicate input (never sent)"
	case Held:
		return "Held"
	case Cancelled:
		return "Cancelled"
	}
	return string(c)
}

// Ageing buckets for open items.
const (
	Age0to1  = "0-1 days"
	Age2to3  = "2-3 days"
	Age4to7  = "4-7 days"
	AgeOver7 = ">7 days"
)

// AgeBucket returns the ageing bucket of an open item.
func AgeBucket(age time.Duration) string {
	days := int(age / (24 * time.Hour))
	switch {
	case days <= 1:
		return Age0to1
	case days <= 3:
		return Age2to3
	case days <= 7:
		return Age4to7
	}
	return AgeOver7
}

// Line is one row of the reconciliation: an input row (or a provider fact
// with no input row, for unexpected payouts) and where it stands.
type Line struct {
	BatchID  string `json:"batch_id"`
	File     string `json:"file,omitempty"`
	Row      int    `json:"row"` // the input row number (0 for unexpected)
	PayoutID string `json:"payout_id"`
	Provider string `json:"provider"`
	Method   string `json:"method"`
	Currency string `json:"currency"`
	// Amount is the input amount in minor units of Currency.
	Amount int64 `json:"amount"`
	// ProviderAmount is what the provider reports (0 when it does not).
	ProviderAmount int64     `json:"provider_amount,omitempty"`
	Fee            int64     `json:"fee,omitempty"`
	Category       Category  `json:"category"`
	Reason         string    `json:"reason,omitempty"`
	State          string    `json:"state"`
	ProviderCode   string    `json:"provider_code,omitempty"`
	ProviderStatus string    `json:"provider_status,omitempty"`
	ProviderRef    string    `json:"provider_ref,omitempty"`
	URL            string    `json:"url,omitempty"`
	Beneficiary    string    `json:"beneficiary,omitempty"`
	Account        string    `json:"account,omitempty"`  // unmasked; reports mask
	Document       string    `json:"document,omitempty"` // unmasked; reports mask
	Created        time.Time `json:"created"`
	Updated        time.Time `json:"updated"`
	AgeDays        int       `json:"age_days"`
	AgeBucket      string    `json:"age_bucket,omitempty"`
}

// Key identifies a tie-out group.
type Key struct {
	Currency string `json:"currency"`
	Provider string `json:"provider"`
}

// Total is the count, amount and fees of one category in one group.
type Total struct {
	Key
	Category Category `json:"category"`
	Count    int      `json:"count"`
	Amount   int64    `json:"amount"`
	Fees     int64    `json:"fees"`
}

// TieOut proves that a group adds up: the input total equals the sum over
// categories, with the difference shown (zero expected).
//
// The input side is not added up from the lines: Match takes it from the
// journal's record of the input (the batch totals written at ingest, see
// Match), and the categories side from the lines it placed, so that a row
// lost or placed twice shows as a difference.
type TieOut struct {
	Key
	InputCount       int   `json:"input_count"`
	InputAmount      int64 `json:"input_amount"`
	CategoriesCount  int   `json:"categories_count"`
	CategoriesAmount int64 `json:"categories_amount"`
	Difference       int64 `json:"difference"`
	Fees             int64 `json:"fees"`
	// CountsOnly marks a line of rows that carry no payable amount
	// (invalid and duplicate input rows, never sent): it ties by count
	// alone, outside the money of any currency, and its Provider names
	// the rows (NotPayableInvalid, NotPayableDuplicate).
	CountsOnly bool `json:"counts_only,omitempty"`
}

// The Provider of the tie-out's counts-only lines. An invalid row's amount,
// currency or provider may be unreadable (it is carried at amount 0, often
// with a blank currency), so the rows never sent tie out by count, on lines
// of their own, while every payable row ties by count and amount in its
// currency and provider.
const (
	NotPayableInvalid   = "invalid rows (not payable)"
	NotPayableDuplicate = "duplicate rows (never sent)"
)

// InvalidRow is one problem of an invalid input row.
type InvalidRow struct {
	BatchID string `json:"batch_id"`
	File    string `json:"file"`
	Row     int    `json:"row"`
	Column  string `json:"column"`
	Value   string `json:"value"`
	Reason  string `json:"reason"`
}

// BatchInfo describes one batch in the scope of a reconciliation.
type BatchInfo struct {
	ID       string    `json:"id"`
	File     string    `json:"file"`
	SHA256   string    `json:"sha256"`
	Received time.Time `json:"received"`
	State    string    `json:"state"`
	Rows     int       `json:"rows"`
	// DroppedBy brought the file; ApprovedBy approved it at Approved (the
	// totals approved are in the journal's batch).
	DroppedBy  string    `json:"dropped_by,omitempty"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	Approved   time.Time `json:"approved,omitzero"`
}

// Result is a reconciliation: every row placed, the totals and the tie-out.
type Result struct {
	Scope       string      `json:"scope"`
	GeneratedAt time.Time   `json:"generated_at"`
	TimeZone    string      `json:"time_zone"`
	Batches     []BatchInfo `json:"batches"`
	// Carried counts the open items the scope carries forward from
	// batches outside Batches (received before its day, or any batch for
	// Scope.Open alone); CarriedBatches names those batches, oldest first.
	Carried        int      `json:"carried,omitempty"`
	CarriedBatches []string `json:"carried_batches,omitempty"`
	// LineCount is the number of lines placed (Lines holds them only
	// when Match kept them).
	LineCount int          `json:"line_count"`
	Lines     []Line       `json:"lines"`
	Totals    []Total      `json:"totals"`
	TieOut    []TieOut     `json:"tie_out"`
	Invalid   []InvalidRow `json:"invalid,omitempty"`
	// Review lists the payouts a provider paid with another amount or
	// currency than the input's (state amount_mismatch), at most
	// MaxReview of them, for the top of every report; ReviewCount counts
	// them all.
	Review      []Line `json:"review,omitempty"`
	ReviewCount int    `json:"review_count,omitempty"`
}

// MaxReview bounds Result.Review: a report lists that many by name.
const MaxReview = 100

func (r *Result) noteReview(l Line) {
	r.ReviewCount++
	if len(r.Review) < MaxReview {
		r.Review = append(r.Review, l)
	}
}

// Balanced reports whether every tie-out difference is zero.
func (r *Result) Balanced() bool {
	for _, t := range r.TieOut {
		if t.Difference != 0 || t.InputCount != t.CategoriesCount {
			return false
		}
	}
	return true
}

// Tally computes Totals and TieOut from Lines, for a Result built by hand:
// with no journal, the lines are taken as their own input (every line but
// the unexpected ones, each in its currency and provider), so this
// tie-out proves nothing. Match ties the lines to the journal's record of
// the input instead.
func (r *Result) Tally() {
	var t tally
	for i := range r.Lines {
		l := &r.Lines[i]
		if l.Category != UnexpectedAtProvider {
			t.input(Key{Currency: l.Currency, Provider: l.Provider}, 1, l.Amount)
		}
		t.add(l, true)
	}
	t.finish(r)
}

// tallyKey is one total: a group and a category.
type tallyKey struct {
	Key
	Category
}

// tally adds lines up one at a time, so that a reconciliation need not
// hold its lines to total them. The input side of the tie-out is given
// apart (input, inputRows), from the record of the input.
type tally struct {
	lines  int
	totals map[tallyKey]*Total
	ties   map[Key]*TieOut
}

func (t *tally) init() {
	if t.totals == nil {
		t.totals, t.ties = map[tallyKey]*Total{}, map[Key]*TieOut{}
	}
}

// tie returns the tie-out line of a group, made on first use.
func (t *tally) tie(k Key) *TieOut {
	t.init()
	to := t.ties[k]
	if to == nil {
		to = &TieOut{Key: k}
		t.ties[k] = to
	}
	return to
}

// notPayable returns the counts-only tie-out line of the rows never sent,
// invalid or duplicate.
func (t *tally) notPayable(duplicate bool) *TieOut {
	name := NotPayableInvalid
	if duplicate {
		name = NotPayableDuplicate
	}
	to := t.tie(Key{Provider: name})
	to.CountsOnly = true
	return to
}

// input adds payable input rows, as recorded, to a group's input side.
func (t *tally) input(k Key, count int, amount int64) {
	to := t.tie(k)
	to.InputCount += count
	to.InputAmount += amount
}

// inputRows adds recorded invalid and duplicate rows to the input side of
// the counts-only lines.
func (t *tally) inputRows(invalid, duplicates int) {
	if invalid > 0 {
		t.notPayable(false).InputCount += invalid
	}
	if duplicates > 0 {
		t.notPayable(true).InputCount += duplicates
	}
}

// add counts one line in its category's total and, unless unexpected, on
// the categories side of the tie-out: in its group when payable (an item:
// a row made an item at ingest), else on the counts-only line of its
// category (a rejected row).
func (t *tally) add(l *Line, payable bool) {
	t.init()
	t.lines++
	k := Key{Currency: l.Currency, Provider: l.Provider}
	tot := t.totals[tallyKey{k, l.Category}]
	if tot == nil {
		tot = &Total{Key: k, Category: l.Category}
		t.totals[tallyKey{k, l.Category}] = tot
	}
	tot.Count++
	tot.Amount += l.Amount
	tot.Fees += l.Fee
	switch {
	case l.Category == UnexpectedAtProvider:
	case payable:
		to := t.tie(k)
		to.CategoriesCount++
		to.CategoriesAmount += l.Amount
		to.Fees += l.Fee
	default:
		t.notPayable(l.Category == DuplicateInput).CategoriesCount++
	}
}

// finish sets r's LineCount, Totals and TieOut.
func (t *tally) finish(r *Result) {
	r.LineCount = t.lines
	r.Totals = r.Totals[:0]
	for _, tot := range t.totals {
		r.Totals = append(r.Totals, *tot)
	}
	order := map[Category]int{}
	for i, c := range Categories {
		order[c] = i
	}
	sort.Slice(r.Totals, func(i, j int) bool {
		a, b := r.Totals[i], r.Totals[j]
		if a.Currency != b.Currency {
			return a.Currency < b.Currency
		}
		if a.Provider != b.Provider {
			return a.Provider < b.Provider
		}
		return order[a.Category] < order[b.Category]
	})
	r.TieOut = r.TieOut[:0]
	for _, to := range t.ties {
		to.Difference = to.InputAmount - to.CategoriesAmount
		r.TieOut = append(r.TieOut, *to)
	}
	sort.Slice(r.TieOut, func(i, j int) bool {
		a, b := r.TieOut[i], r.TieOut[j]
		if a.CountsOnly != b.CountsOnly {
			return !a.CountsOnly // the money first, the counts below
		}
		if a.Currency != b.Currency {
			return a.Currency < b.Currency
		}
		return a.Provider < b.Provider
	})
}
