package monnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/payrun/payrun/providers"
)

// PayoutBody maps a payout to Monnet's Peru create body (PROVIDERS.md 1.3).
// It refuses, as ErrRejected, what it cannot express; Monnet's own rules
// (lengths, limits, check digits) are left to Monnet.
func PayoutBody(p providers.Payout) (PayoutRequest, error) {
	country, ok := countries[strings.ToUpper(p.Country)]
	if !ok {
		return PayoutRequest{}, fmt.Errorf("country %q: %w", p.Country, providers.ErrUnsupported)
	}
	doc, ok := DocumentTypes[strings.ToUpper(p.Beneficiary.DocumentType)]
	if !ok {
		return PayoutRequest{}, fmt.Errorf("document type %q: %w", p.Beneficiary.DocumentType, providers.ErrRejected)
	}
	at, ok := accountTypeFor(p)
	if !ok {
		return PayoutRequest{}, fmt.Errorf("account type %q: %w", p.Beneficiary.AccountType, providers.ErrRejected)
	}
	b := p.Beneficiary
	req := PayoutRequest{
		Country:     country,
		Amount:      p.Amount.Minor,
		Currency:    p.Amount.Currency,
		OrderID:     p.ID,
		Description: p.Description,
		Beneficiary: BeneficiaryWire{
			Name: b.Name, LastName: b.LastName, Email: b.Email,
			Document: DocumentWire{Type: doc, Number: b.DocumentNumber},
		},
		Destination: DestinationWire{BankAccount: BankAccountWire{BankCode: BankCode(b.BankCode), AccountType: at}},
	}
	ba := &req.Destination.BankAccount
	switch at {
	case AccountPhone:
		// Wallets: the phone goes in accountNumber; the description is
		// mandatory for Yape.
		ba.AccountNumber = b.Phone
		if ba.AccountNumber == "" {
			ba.AccountNumber = b.AccountNumber
		}
		if req.Description == "" {
			req.Description = "Payout " + p.ID
		}
	default:
		ba.AccountNumber = b.AccountNumber
		ba.CCI = b.CCI
		if ba.BankCode == "" && len(b.CCI) >= 3 {
			ba.BankCode = BankCode(b.CCI[:3])
		}
	}
	return req, nil
}

// submitPayout creates a bank or wallet payout.
func (c *Client) submitPayout(ctx context.Context, p providers.Payout) (providers.Status, error) {
	req, err := PayoutBody(p)
	if err != nil {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "submit", Message: err.Error(), Kind: kindOf(err)}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return providers.Status{}, err
	}
	resp, err := c.signedDo(ctx, "submit", "POST", "/api/v1/"+c.merchantID+"/payouts", body, true)
	if err != nil {
		return providers.Status{}, err
	}
	var pr PayoutResponse
	if err := json.Unmarshal(resp.body, &pr); err != nil {
		return providers.Status{}, decodeError("submit", err, true)
	}
	st := PayoutStatus(pr, p.Method)
	if st.Refs.PayoutID == "" {
		st.Refs.PayoutID = p.ID
	}
	if st.Refs.ProviderID == "" {
		return st, decodeError("submit", errors.New("no payout Id"), true)
	}
	// A payout rejected at once for lack of balance (Monnet can be set up to
	// reject instead of waiting in PENDING_BALANCE) is reported as such so
	// that the dispatcher pauses; the status still says what happened.
	if st.Outcome == providers.Failed && strings.EqualFold(pr.Output.Status, CodeNoBalance) {
		return st, &providers.APIError{Provider: Name, Op: "submit", HTTPStatus: resp.status, Code: CodeNoBalance, Message: st.Message, Kind: providers.ErrInsufficientFunds}
	}
	return st, nil
}

// kindOf returns the taxonomy error err wraps, or ErrRejected.
func kindOf(err error) error {
	for _, k := range []error{providers.ErrUnsupported, providers.ErrRejected} {
		if errors.Is(err, k) {
			return k
		}
	}
	return providers.ErrRejected
}
