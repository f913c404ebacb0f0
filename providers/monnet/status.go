package monnet

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Stages (drive logic) and the statuses that refine them (PROVIDERS.md 1.4).
const (
	StageInProgress = "IN_PROGRESS"
	StagePending    = "PENDING"
	StageSuccess    = "SUCCESS"
	StageRejected   = "REJECTED"
	StatusReversed  = "REVERSED"
	StatusCreated   = "CREATED"
)

// Outcome maps a stage, its status and the errors to payrun's outcome.
// Only the stage decides, except that REJECTED/REVERSED is a reversal of an
// earlier success and a card push whose iframe timed out has expired. An
// unknown stage is treated as still processing: never final by accident.
func Outcome(stage, status string, errs []ErrorWire, method providers.Method) providers.Outcome {
	switch strings.ToUpper(stage) {
	case StageSuccess:
		return providers.Succeeded
	case StageRejected:
		if strings.EqualFold(status, StatusReversed) {
			return providers.Reversed
		}
		for _, e := range errs {
			if e.Code == CodeCardExpiry {
				return providers.Expired
			}
		}
		return providers.Failed
	case StageInProgress:
		if method == providers.CardPush && strings.EqualFold(status, StatusCreated) {
			return providers.AwaitingBeneficiary
		}
	}
	return providers.Processing
}

// PayoutStatus maps a create, status or notification body to a Status.
func PayoutStatus(pr PayoutResponse, method providers.Method) providers.Status {
	st := providers.Status{
		Outcome:   Outcome(pr.Output.Stage, pr.Output.Status, pr.Errors, method),
		Refs:      providers.Refs{PayoutID: pr.Payout.OrderID, Method: method, ProviderID: string(pr.Payout.ID)},
		RawStatus: pr.Output.Stage + "/" + pr.Output.Status,
		At:        ParseTime(pr.Output.StatusChangeDateTime),
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

// ParseTime reads statusChangeDateTime in the two forms Monnet uses
// (ISO-8601 and yyyyMMddHHmmss, both UTC). Zero when unreadable.
func ParseTime(s string) time.Time {
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
	var pr PayoutResponse
	if err := json.Unmarshal(resp.body, &pr); err != nil {
		return providers.Status{}, decodeError("lookup", err, false)
	}
	st := PayoutStatus(pr, refs.Method)
	if st.Refs.PayoutID == "" {
		st.Refs.PayoutID = refs.PayoutID
	}
	if st.Refs.ProviderID == "" {
		st.Refs.ProviderID = refs.ProviderID
	}
	return st, nil
}

// Balance returns the merchant's balances. Amounts are read as minor units,
// like every other Monnet payout amount (the docs do not say; inference).
func (c *Client) Balance(ctx context.Context) ([]providers.Balance, error) {
	resp, err := c.signedDo(ctx, "balance", "GET", "/api/v1/"+c.merchantID+"/balance", nil, false)
	if err != nil {
		return nil, err
	}
	var bw []BalanceWire
	if err := json.Unmarshal(resp.body, &bw); err != nil {
		return nil, decodeError("balance", err, false)
	}
	out := make([]providers.Balance, 0, len(bw))
	for _, b := range bw {
		avail, ok1 := b.AvailableBalance.Int()
		total, ok2 := b.Balance.Int()
		if !ok1 || !ok2 {
			return nil, decodeError("balance", errors.New("balance is not an integer"), false)
		}
		cur := strings.ToUpper(b.Currency)
		out = append(out, providers.Balance{Country: b.Country, Available: money.Money{Minor: avail, Currency: cur}, Total: money.Money{Minor: total, Currency: cur}})
	}
	return out, nil
}
