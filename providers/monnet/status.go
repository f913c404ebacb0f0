package monnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Stages (drive logic) and the statuses that refine them (PROVIDERS.md 1.4).
const (
	stageInProgress = "IN_PROGRESS"
	stagePending    = "PENDING"
	stageSuccess    = "SUCCESS"
	stageRejected   = "REJECTED"
	statusReversed  = "REVERSED"
	statusCreated   = "CREATED"
)

// outcomeOf maps a stage, its status and the errors to payrun's outcome.
// Only the stage decides, except that REJECTED/REVERSED is a reversal of an
// earlier success and a card push whose iframe timed out has expired. An
// unknown stage is treated as still processing: never final by accident.
func outcomeOf(stage, status string, errs []errorWire, method providers.Method) providers.Outcome {
	switch strings.ToUpper(stage) {
	case stageSuccess:
		return providers.Succeeded
	case stageRejected:
		if strings.EqualFold(status, statusReversed) {
			return providers.Reversed
		}
		for _, e := range errs {
			if e.Code == codeCardExpiry {
				return providers.Expired
			}
		}
		return providers.Failed
	case stageInProgress:
		if method == providers.CardPush && strings.EqualFold(status, statusCreated) {
			return providers.AwaitingBeneficiary
		}
	}
	return providers.Processing
}

// payoutStatus maps a create, status or notification body to a Status.
func payoutStatus(pr payoutResponse, method providers.Method) providers.Status {
	st := providers.Status{
		Outcome:   outcomeOf(pr.Output.Stage, pr.Output.Status, pr.Errors, method),
		Refs:      providers.Refs{PayoutID: pr.Payout.OrderID, Method: method, ProviderID: string(pr.Payout.ID)},
		RawStatus: pr.Output.Stage + "/" + pr.Output.Status,
		At:        parseTime(pr.Output.StatusChangeDateTime),
	}
	if len(pr.Errors) > 0 {
		st.Code, st.Message = pr.Errors[0].Code, pr.Errors[0].Message
	} else if st.Outcome == providers.Failed {
		st.Code = pr.Output.Status
	}
	if n, ok := pr.Payout.Amount.Int(); ok && pr.Payout.Currency != "" {
		st.Amount = money.Money{Minor: n, Currency: strings.ToUpper(pr.Payout.Currency)}
	}
	return st
}

// parseTime reads statusChangeDateTime in the two forms Monnet uses
// (ISO-8601 and yyyyMMddHHmmss, both UTC). Zero when unreadable.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "20060102150405"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// CanLookup reports whether Lookup can ask about refs: a payment link by
// its reference, anything else by Monnet's Id only.
func (c *Client) CanLookup(refs providers.Refs) bool {
	return refs.Method == providers.PaymentLink || refs.ProviderID != ""
}

// Lookup asks Monnet for a payout's status. Payment links (Refs.Method ==
// payment_link) are found by Refs.PayoutID through the Payin API; every
// other product needs Refs.ProviderID, Monnet's numeric payout Id, and
// answers ErrUnsupported without it (there is no lookup by orderId).
func (c *Client) Lookup(ctx context.Context, refs providers.Refs) (providers.Status, error) {
	if refs.Method == providers.PaymentLink {
		return c.lookupPayin(ctx, refs)
	}
	if !c.CanLookup(refs) {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "lookup", Message: "Monnet looks payouts up by its numeric Id only", Kind: providers.ErrUnsupported}
	}
	resp, err := c.signedDo(ctx, "lookup", "GET", "/api/v1/"+c.merchantID+"/payouts/"+refs.ProviderID, nil, false)
	if err != nil {
		return providers.Status{}, err
	}
	var pr payoutResponse
	if err := json.Unmarshal(resp.body, &pr); err != nil {
		return providers.Status{}, decodeError("lookup", err, false)
	}
	if _, dup := duplicateCode(pr); dup {
		// The record of a refused duplicate: it says nothing about the
		// payout with this orderId, and must never settle it.
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "lookup", HTTPStatus: resp.status, Code: codeDuplicate,
			Message: "Id " + refs.ProviderID + " is a refused duplicate submission, not the payout", Kind: providers.ErrDuplicate}
	}
	st := payoutStatus(pr, refs.Method)
	if st.Refs.PayoutID == "" {
		st.Refs.PayoutID = refs.PayoutID
	}
	if st.Refs.ProviderID == "" {
		st.Refs.ProviderID = refs.ProviderID
	}
	return st, nil
}

// Balance returns the merchant's balances. The Get Balance page documents
// the answer as an array of arrays of {country, currency,
// availableBalance, balance}, whose last two digits are decimals (minor
// units; Chile's have none); PROVIDERS.md 1.1 reads it as a flat array.
// Both are accepted, and amounts must be whole numbers of minor units.
func (c *Client) Balance(ctx context.Context) ([]providers.Balance, error) {
	resp, err := c.signedDo(ctx, "balance", "GET", "/api/v1/"+c.merchantID+"/balance", nil, false)
	if err != nil {
		return nil, err
	}
	items, err := balanceItems(resp.body)
	if err != nil {
		return nil, decodeError("balance", err, false)
	}
	out := make([]providers.Balance, 0, len(items))
	for _, b := range items {
		cur, ok := money.Lookup(strings.ToUpper(b.Currency))
		if !ok {
			return nil, decodeError("balance", fmt.Errorf("currency %q", b.Currency), false)
		}
		avail, ok1 := b.AvailableBalance.Int()
		total, ok2 := b.Balance.Int()
		if !ok1 || !ok2 {
			return nil, decodeError("balance", fmt.Errorf("%s balance %q/%q is not a whole number of minor units", cur.Code, b.AvailableBalance, b.Balance), false)
		}
		out = append(out, providers.Balance{Country: b.Country, Available: money.Money{Minor: avail, Currency: cur.Code}, Total: money.Money{Minor: total, Currency: cur.Code}})
	}
	return out, nil
}

// balanceItems reads the balance answer: an array of arrays of entries (as
// documented) or a flat array of entries.
func balanceItems(body []byte) ([]balanceWire, error) {
	var nested [][]balanceWire
	if err := json.Unmarshal(body, &nested); err == nil {
		var out []balanceWire
		for _, group := range nested {
			out = append(out, group...)
		}
		return out, nil
	}
	var flat []balanceWire
	if err := json.Unmarshal(body, &flat); err != nil {
		return nil, errors.New("balance is neither an array of arrays nor an array of entries")
	}
	return flat, nil
}
