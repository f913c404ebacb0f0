package leanitem

import (
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// Payout is a Payout whose ID is left out (nil) when it is the item's
// PayoutID.
type Payout struct {
	providers.Payout
	ID *string `json:"id,omitempty"`
}

// Refs are references whose PayoutID and Method are left out (nil) when
// they are the item's. References stored in full (PayoutID present) take
// no default.
type Refs struct {
	providers.Refs
	PayoutID *string           `json:"payout_id,omitempty"`
	Method   *providers.Method `json:"method,omitempty"`
}

// Status is a provider status whose references are left out (nil) when
// they are the item's.
type Status struct {
	providers.Status
	Refs *Refs `json:"refs,omitempty"`
}

// Lean returns it's payout, references and last status without what the
// item repeats.
func Lean(it *journal.Item) (Payout, Refs, Status) {
	p := Payout{Payout: it.Payout}
	if it.Payout.ID != it.PayoutID {
		p.ID = &it.Payout.ID
	}
	r := lean(it.Refs, it.PayoutID, it.Payout.Method)
	var last Status
	if it.Last != (providers.Status{}) {
		last.Status = it.Last
		if it.Last.Refs != it.Refs {
			lr := lean(it.Last.Refs, it.Refs.PayoutID, it.Refs.Method)
			last.Refs = &lr
		}
	}
	return p, r, last
}

// Restore sets it's payout, references and last status from what Lean
// returned (or from their full forms). it.PayoutID must be set first.
func Restore(it *journal.Item, p Payout, r Refs, last Status) {
	it.Payout = p.Payout
	it.Payout.ID = deref(p.ID, it.PayoutID)
	it.Refs = r.refs(it.PayoutID, it.Payout.Method)
	it.Last = providers.Status{}
	if last != (Status{}) {
		it.Last = last.Status
		it.Last.Refs = it.Refs
		if last.Refs != nil {
			it.Last.Refs = last.Refs.refs(it.Refs.PayoutID, it.Refs.Method)
		}
	}
}

// lean leaves out of r the payout_id and method that equal the defaults
// given.
func lean(r providers.Refs, payoutID string, method providers.Method) Refs {
	s := Refs{Refs: r}
	if r.PayoutID != payoutID {
		s.PayoutID = &r.PayoutID
	}
	if r.Method != method || s.PayoutID != nil {
		s.Method = &r.Method
	}
	return s
}

func (s Refs) refs(payoutID string, method providers.Method) providers.Refs {
	r := s.Refs
	if s.PayoutID != nil {
		r.PayoutID, r.Method = *s.PayoutID, deref(s.Method, "")
		return r
	}
	r.PayoutID, r.Method = payoutID, deref(s.Method, method)
	return r
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
