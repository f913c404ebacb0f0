package daemon

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
)

// ErrNotFound is returned by a StatusSource for an unknown batch.
var ErrNotFound = journal.ErrNotFound

// StatusSource is the read-only view the status API, the status page and
// the item metrics are built on.
type StatusSource interface {
	// Batches returns the newest batches first, at most limit (0: all).
	Batches(ctx context.Context, limit int) ([]BatchStatus, error)
	// Batch returns one batch; an unknown id is an error wrapping
	// ErrNotFound.
	Batch(ctx context.Context, id string) (BatchStatus, error)
	// OpenItems returns the items of a batch that are not final, in row
	// order, at most limit (0: all).
	OpenItems(ctx context.Context, batchID string, limit int) ([]OpenItem, error)
	// Counts returns the items by provider and state and the batches by
	// state, over the whole journal (for /metrics).
	Counts(ctx context.Context) (Counts, error)
}

// BatchStatus is one batch and its progress.
type BatchStatus struct {
	ID         string    `json:"id"`
	File       string    `json:"file"`
	State      string    `json:"state"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	Rows       int       `json:"rows"`
	Valid      int       `json:"valid"`
	Invalid    int       `json:"invalid"`
	Duplicates int       `json:"duplicates"`
	// Items and Final count the batch's items (valid rows) and those in a
	// final state.
	Items     int                `json:"items"`
	Final     int                `json:"final"`
	Providers []ProviderProgress `json:"providers"`
	// SHA256 and Totals are what an approver is shown and sends back
	// (dispatch.Seen): the file's hash and its totals per currency and
	// provider, in minor units.
	SHA256 string          `json:"sha256,omitempty"`
	Totals []journal.Total `json:"totals,omitempty"`
	// Note is why a held batch waits (the pre-flight threshold, or who
	// held it and why); Release says how it is released.
	Note    string `json:"note,omitempty"`
	Release string `json:"release,omitempty"`
	// SendAt is when an accepted batch is sent: the next dispatch cut-off
	// (zero when none is scheduled, or when it is sent at once); Send says
	// it in words.
	SendAt time.Time `json:"send_at,omitzero"`
	Send   string    `json:"send,omitempty"`
	// DroppedBy is who brought the file; Approved, ApprovedBy and
	// ApprovedVia record its approval.
	DroppedBy   string    `json:"dropped_by,omitempty"`
	Approved    time.Time `json:"approved,omitzero"`
	ApprovedBy  string    `json:"approved_by,omitempty"`
	ApprovedVia string    `json:"approved_via,omitempty"`
}

// ProviderProgress is a batch's progress at one provider.
type ProviderProgress struct {
	Provider string `json:"provider"`
	Total    int    `json:"total"`
	Final    int    `json:"final"`
	// States counts items by state.
	States map[string]int `json:"states"`
	// Amounts are per currency.
	Amounts []Amount `json:"amounts"`
}

// Percent returns Final as a whole percentage of Total.
func (p ProviderProgress) Percent() int {
	if p.Total == 0 {
		return 100
	}
	return p.Final * 100 / p.Total
}

// Amount sums one currency: everything, and what has been paid
// (succeeded), in minor units and as decimal strings.
type Amount struct {
	Currency   string `json:"currency"`
	TotalMinor int64  `json:"total_minor"`
	Total      string `json:"total"`
	PaidMinor  int64  `json:"paid_minor"`
	Paid       string `json:"paid"`
	Count      int    `json:"count"`
	PaidCount  int    `json:"paid_count"`
}

// OpenItem is an item that is not final yet.
type OpenItem struct {
	PayoutID string    `json:"payout_id"`
	Row      int       `json:"row"`
	Provider string    `json:"provider"`
	State    string    `json:"state"`
	Amount   string    `json:"amount"`
	Currency string    `json:"currency"`
	Reason   string    `json:"reason,omitempty"`
	Updated  time.Time `json:"updated"`
	// URL is where the beneficiary acts, while the payout waits for them
	// (a card collection page, a card push form, a payment link); masked
	// on the status page.
	URL string `json:"url,omitempty"`
}

// ItemCount is the number of items of a provider in a state.
type ItemCount struct {
	Provider string `json:"provider"`
	State    string `json:"state"`
	Count    int    `json:"count"`
}

// Counts is what the metrics collector reads at each scrape.
type Counts struct {
	Items   []ItemCount    `json:"items"`
	Batches map[string]int `json:"batches"`
	// Queued counts the webhook events acknowledged and not applied yet.
	Queued int `json:"queued"`
}

// JournalStatus is the StatusSource over a journal. Each call reads one
// consistent view per journal read; it scans the items it reports on.
type JournalStatus struct {
	J journal.Journal
	// NextCutoff, when set, is the next dispatch cut-off (zero: none
	// scheduled), and AtOnce says accepted batches are sent as they come.
	NextCutoff func() time.Time
	AtOnce     bool
	// Release, when set, says how a held batch is released.
	Release func(id string) string
	// FullURLs shows beneficiaries' links whole (the control socket);
	// otherwise only their host and last characters are shown, since the
	// status page may be reachable by more than the operators.
	FullURLs bool
	// Link, when set, gives a waiting payout's link where payrun makes it
	// (a card collection page: app.Collect.Link); otherwise the provider's.
	Link func(journal.Item) string
}

var _ StatusSource = JournalStatus{}

// Batches returns the newest batches first with their progress.
func (s JournalStatus) Batches(ctx context.Context, limit int) ([]BatchStatus, error) {
	bs, err := s.J.ListBatches(ctx)
	if err != nil {
		return nil, err
	}
	if limit > 0 && len(bs) > limit {
		bs = bs[:limit]
	}
	out := make([]BatchStatus, 0, len(bs))
	for _, b := range bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st, err := s.progress(ctx, b)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Batch returns one batch with its progress.
func (s JournalStatus) Batch(ctx context.Context, id string) (BatchStatus, error) {
	b, err := s.J.Batch(ctx, id)
	if err != nil {
		return BatchStatus{}, err
	}
	return s.progress(ctx, b)
}

func (s JournalStatus) progress(ctx context.Context, b journal.Batch) (BatchStatus, error) {
	st := BatchStatus{ID: b.ID, File: b.File, State: string(b.State), Created: b.Created, Updated: b.Updated,
		Rows: b.Rows, Valid: b.Valid, Invalid: b.Invalid, Duplicates: b.Duplicates,
		SHA256: b.SHA256, Totals: b.Totals, DroppedBy: b.DroppedBy, Approved: b.Approved, ApprovedBy: b.ApprovedBy,
		ApprovedVia: b.ApprovedVia}
	switch b.State {
	case journal.BatchHeld:
		st.Note = b.Note
		if s.Release != nil {
			st.Release = s.Release(b.ID)
		} else {
			st.Release = "payrun approve " + b.ID
		}
	case journal.BatchAccepted:
		st.SendAt, st.Send = s.sendPlan()
	}
	byProvider := map[string]*ProviderProgress{}
	amounts := map[[2]string]*Amount{}
	err := s.J.BatchItems(ctx, b.ID, func(it journal.Item) bool {
		p := byProvider[it.Provider]
		if p == nil {
			p = &ProviderProgress{Provider: it.Provider, States: map[string]int{}}
			byProvider[it.Provider] = p
		}
		p.Total++
		p.States[string(it.State)]++
		st.Items++
		if it.State.Final() {
			p.Final++
			st.Final++
		}
		cur := it.Payout.Amount.Currency
		a := amounts[[2]string{it.Provider, cur}]
		if a == nil {
			a = &Amount{Currency: cur}
			amounts[[2]string{it.Provider, cur}] = a
		}
		a.Count++
		a.TotalMinor += it.Payout.Amount.Minor
		if it.State == journal.Succeeded {
			a.PaidCount++
			a.PaidMinor += it.Payout.Amount.Minor
		}
		return true
	})
	if err != nil {
		return BatchStatus{}, fmt.Errorf("batch %s: %w", b.ID, err)
	}
	for k, a := range amounts {
		a.Total = money.Money{Minor: a.TotalMinor, Currency: a.Currency}.Decimal()
		a.Paid = money.Money{Minor: a.PaidMinor, Currency: a.Currency}.Decimal()
		p := byProvider[k[0]]
		p.Amounts = append(p.Amounts, *a)
	}
	for _, p := range byProvider {
		sort.Slice(p.Amounts, func(x, y int) bool { return p.Amounts[x].Currency < p.Amounts[y].Currency })
		st.Providers = append(st.Providers, *p)
	}
	sort.Slice(st.Providers, func(x, y int) bool { return st.Providers[x].Provider < st.Providers[y].Provider })
	return st, nil
}

// OpenItems returns the items of a batch that are not final.
func (s JournalStatus) OpenItems(ctx context.Context, batchID string, limit int) ([]OpenItem, error) {
	if _, err := s.J.Batch(ctx, batchID); err != nil {
		return nil, err
	}
	out := []OpenItem{}
	err := s.J.BatchItems(ctx, batchID, func(it journal.Item) bool {
		if it.State.Final() {
			return true
		}
		oi := OpenItem{PayoutID: it.PayoutID, Row: it.Row, Provider: it.Provider, State: string(it.State),
			Amount: it.Payout.Amount.Decimal(), Currency: it.Payout.Amount.Currency, Reason: it.Reason, Updated: it.Updated}
		if it.State == journal.AwaitingBeneficiary {
			if s.Link != nil {
				oi.URL = s.Link(it)
			}
			if oi.URL == "" {
				oi.URL = it.Last.URL
			}
			if !s.FullURLs {
				oi.URL = MaskURL(oi.URL)
			}
		}
		out = append(out, oi)
		return limit <= 0 || len(out) < limit
	})
	return out, err
}

// Counts returns the items by provider and state and the batches by state.
func (s JournalStatus) Counts(ctx context.Context) (Counts, error) {
	c := Counts{Batches: map[string]int{}}
	bs, err := s.J.ListBatches(ctx)
	if err != nil {
		return c, err
	}
	if c.Queued, err = s.J.Queued(ctx); err != nil {
		return c, err
	}
	for _, b := range bs {
		c.Batches[string(b.State)]++
	}
	m := map[[2]string]int{}
	err = s.J.AllItems(ctx, func(it journal.Item) bool {
		m[[2]string{it.Provider, string(it.State)}]++
		return ctx.Err() == nil
	})
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return c, err
	}
	for k, n := range m {
		c.Items = append(c.Items, ItemCount{Provider: k[0], State: k[1], Count: n})
	}
	sort.Slice(c.Items, func(x, y int) bool {
		if c.Items[x].Provider != c.Items[y].Provider {
			return c.Items[x].Provider < c.Items[y].Provider
		}
		return c.Items[x].State < c.Items[y].State
	})
	return c, nil
}

// Check is a readiness check that passes while the journal answers (a
// node that lost its database fails it).
func (s JournalStatus) Check() Check {
	return Check{Name: "journal", Func: func(ctx context.Context) error {
		if _, _, err := s.J.Mark(ctx, "readyz"); err != nil {
			inf, _ := s.J.Info(ctx)
			return fmt.Errorf("journal %s: %w", inf.Location, err)
		}
		return nil
	}}
}

// sendPlan says when an accepted batch is sent ("payrun send ID" sends
// it now, whatever it says).
func (s JournalStatus) sendPlan() (time.Time, string) {
	switch {
	case s.AtOnce:
		return time.Time{}, "at once"
	case s.NextCutoff == nil:
		return time.Time{}, "when a dispatch runs"
	}
	at := s.NextCutoff()
	if at.IsZero() {
		return at, "when someone sends it: no dispatch cut-off is scheduled"
	}
	return at, "at the next cut-off"
}

// MaskURL keeps a link's scheme, host and last four characters: enough
// to tell links apart, not enough to use one.
func MaskURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "…"
	}
	rest := strings.TrimPrefix(s, u.Scheme+"://"+u.Host)
	if len(rest) <= 4 {
		return u.Scheme + "://" + u.Host + "/…"
	}
	return u.Scheme + "://" + u.Host + "/…" + rest[len(rest)-4:]
}
