package reports

import (
	"github.com/payrun/payrun/internal/pan"
	"github.com/payrun/payrun/reconcile"
)

// Mask applies to a reconciliation the masking every report applies, for
// outputs that are not files of this package (payrun reconcile --json):
// account and document numbers kept to their last four characters and
// beneficiaries' links cut (MaskLink) unless o.Unmasked, card numbers
// masked in every free text, code and identifier whatever o says. It changes res in place;
// amounts, identifiers and states are untouched.
func Mask(res *reconcile.Result, o Options) {
	sensitive := func(s string) string {
		if o.Unmasked {
			return MaskCards(s)
		}
		return MaskTail(s)
	}
	line := func(l *reconcile.Line) {
		l.Account, l.Document = sensitive(l.Account), sensitive(l.Document)
		if !o.Unmasked {
			l.URL = MaskLink(l.URL)
		} else {
			l.URL = MaskCards(l.URL)
		}
		l.Reason, l.Beneficiary, l.File = MaskCards(l.Reason), MaskCards(l.Beneficiary), MaskCards(l.File)
		l.ProviderCode, l.ProviderStatus = MaskCards(l.ProviderCode), MaskCards(l.ProviderStatus)
		l.PayoutID, l.ProviderRef = pan.MaskText(l.PayoutID), pan.MaskText(l.ProviderRef)
	}
	for i := range res.Lines {
		line(&res.Lines[i])
	}
	for i := range res.Review {
		line(&res.Review[i])
	}
	for i := range res.Invalid {
		r := &res.Invalid[i]
		if sensitiveColumn(r.Column) {
			r.Value = sensitive(r.Value)
		} else {
			r.Value = MaskCards(r.Value)
		}
		r.Reason, r.File = MaskCards(r.Reason), MaskCards(r.File)
	}
	for i := range res.Batches {
		res.Batches[i].File = MaskCards(res.Batches[i].File)
	}
}
