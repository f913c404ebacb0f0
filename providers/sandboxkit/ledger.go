package sandboxkit

import (
	"sort"
	"sync"
	"time"
)

// Entry is one payout as the provider's books see it. Money has moved when
// State is "paid" (and moved back when "reversed").
type Entry struct {
	Reference  string    `json:"reference"`   // merchant reference (orderId, merchantOrderNo, metadata)
	ProviderID string    `json:"provider_id"` // the provider's own id
	Amount     int64     `json:"amount"`      // minor units
	Currency   string    `json:"currency"`
	State      string    `json:"state"` // created, pending, paid, failed, reversed, cancelled, expired
	Executions int       `json:"executions"`
	Updated    time.Time `json:"updated"`
}

// Ledger is the provider's record of payouts and of money moved, readable by
// tests so that "paid exactly once" is checked on the provider's side.
type Ledger struct {
	mu      sync.Mutex
	entries map[string]*Entry // by provider id
	order   []string
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{entries: map[string]*Entry{}} }

// Open records a new payout in state "created".
func (l *Ledger) Open(ref, providerID string, amount int64, currency string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.entries[providerID]; ok {
		return
	}
	l.entries[providerID] = &Entry{Reference: ref, ProviderID: providerID, Amount: amount, Currency: currency, State: "created", Updated: at}
	l.order = append(l.order, providerID)
}

// Set moves a payout to a state. Moving to "paid" counts an execution: a
// test that finds Executions > 1, or two paid entries with one reference,
// has found a double payment.
func (l *Ledger) Set(providerID, state string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[providerID]
	if !ok {
		return
	}
	if state == "paid" && e.State != "paid" {
		e.Executions++
	}
	e.State = state
	e.Updated = at
}

// Entries returns a copy of the ledger in creation order.
func (l *Ledger) Entries() []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Entry, 0, len(l.order))
	for _, id := range l.order {
		out = append(out, *l.entries[id])
	}
	return out
}

// PaidByReference returns, per merchant reference, how many times money
// moved (executions of entries that are paid or were paid then reversed).
func (l *Ledger) PaidByReference() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, e := range l.entries {
		if e.Executions > 0 {
			out[e.Reference] += e.Executions
		}
	}
	return out
}

// References returns the distinct merchant references, sorted.
func (l *Ledger) References() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := map[string]bool{}
	for _, e := range l.entries {
		seen[e.Reference] = true
	}
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
