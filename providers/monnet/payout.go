package monnet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/payrun/payrun/providers"
)

// payoutBody maps a payout to Monnet's Peru create body (PROVIDERS.md 1.3).
// It refuses, as ErrRejected, what it cannot express; Monnet's own rules
// (lengths, limits, check digits) are left to Monnet.
func payoutBody(p providers.Payout) (payoutRequest, error) {
	country, ok := countries[strings.ToUpper(p.Country)]
	if !ok {
		return payoutRequest{}, fmt.Errorf("country %q: %w", p.Country, providers.ErrUnsupported)
	}
	doc, ok := documentTypes[strings.ToUpper(p.Beneficiary.DocumentType)]
	if !ok {
		return payoutRequest{}, fmt.Errorf("document type %q: %w", p.Beneficiary.DocumentType, providers.ErrRejected)
	}
	at, ok := accountTypeFor(p)
	if !ok {
		return payoutRequest{}, fmt.Errorf("account type %q: %w", p.Beneficiary.AccountType, providers.ErrRejected)
	}
	b := p.Beneficiary
	req := payoutRequest{
		Country:     country,
		Amount:      p.Amount.Minor,
		Currency:    p.Amount.Currency,
		OrderID:     p.ID,
		Description: p.Description,
		Beneficiary: beneficiaryWire{
			Name: b.Name, LastName: b.LastName, Email: b.Email,
			Document: documentWire{Type: doc, Number: b.DocumentNumber},
		},
		Destination: destinationWire{BankAccount: bankAccountWire{BankCode: bankCode(b.BankCode), AccountType: at}},
	}
	ba := &req.Destination.BankAccount
	switch at {
	case accountPhone:
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
			ba.BankCode = bankCode(b.CCI[:3])
		}
	}
	return req, nil
}

// submitPayout creates a bank or wallet payout.
func (c *Client) submitPayout(ctx context.Context, p providers.Payout) (providers.Status, error) {
	req, err := payoutBody(p)
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
	return createAnswer(resp.status, resp.body, p)
}

// createAnswer reads a 2xx answer to a create. Only two kinds of answer are
// believed: a new payout (stage IN_PROGRESS, PENDING or SUCCESS, about this
// orderId, with Monnet's Id) and a clear refusal of it (REJECTED with an
// error code, about this orderId). A body saying REJECTED with 2005 is a
// duplicate, whatever the HTTP status: the earlier payout with this orderId
// stands (ErrDuplicate), and the Id in the body, the refused duplicate's
// own, is not kept. Anything else (another orderId, no Id, a stage Monnet
// does not document, REJECTED without a code or REVERSED at birth) is in
// doubt: resolved by asking or by a resend of the same orderId, never
// failed and never resent under a new id.
func createAnswer(status int, body []byte, p providers.Payout) (providers.Status, error) {
	var pr payoutResponse
	if err := json.Unmarshal(body, &pr); err != nil {
		return providers.Status{}, inDoubt("submit", status, "unreadable body: "+err.Error())
	}
	if code, ok := duplicateCode(pr); ok {
		return providers.Status{Outcome: providers.Processing, Refs: providers.Refs{PayoutID: p.ID, Method: p.Method}},
			&providers.APIError{Provider: Name, Op: "submit", HTTPStatus: status, Code: code, Message: "[orderId] Duplicated (in a 2xx answer)", Kind: providers.ErrDuplicate}
	}
	if pr.Payout.OrderID != p.ID {
		return providers.Status{}, inDoubt("submit", status, fmt.Sprintf("it is about orderId %q", pr.Payout.OrderID))
	}
	st := payoutStatus(pr, p.Method)
	if st.Refs.ProviderID == "" {
		return providers.Status{}, inDoubt("submit", status, "no payout Id")
	}
	switch strings.ToUpper(pr.Output.Stage) {
	case stageInProgress, stagePending, stageSuccess:
		return st, nil
	case stageRejected:
		if strings.EqualFold(pr.Output.Status, statusReversed) {
			return providers.Status{}, inDoubt("submit", status, "a payout just created cannot be REVERSED")
		}
		if strings.EqualFold(pr.Output.Status, codeNoBalance) || st.Code == codeNoBalance {
			// Monnet can be set up to reject at once for lack of balance
			// instead of waiting in PENDING_BALANCE: reported as such so
			// that the dispatcher pauses; the status says what happened.
			return st, &providers.APIError{Provider: Name, Op: "submit", HTTPStatus: status, Code: codeNoBalance, Message: st.Message, Kind: providers.ErrInsufficientFunds}
		}
		if len(pr.Errors) == 0 || pr.Errors[0].Code == "" {
			return providers.Status{}, inDoubt("submit", status, "REJECTED without an error code")
		}
		return st, nil
	}
	return providers.Status{}, inDoubt("submit", status, fmt.Sprintf("stage %q is not one Monnet documents", pr.Output.Stage))
}

// duplicateCode reports whether a body (a create, card push or status
// answer) is Monnet's refusal of a repeated orderId: REJECTED with error
// 2005, in the errors array or as a top-level code.
func duplicateCode(pr payoutResponse) (string, bool) {
	if string(pr.Code) == codeDuplicate {
		return codeDuplicate, true
	}
	if !strings.EqualFold(pr.Output.Stage, stageRejected) {
		return "", false
	}
	for _, e := range pr.Errors {
		if e.Code == codeDuplicate {
			return codeDuplicate, true
		}
	}
	return "", false
}
