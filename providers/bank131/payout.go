package bank131

import (
	"context"
	"fmt"
	"strings"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Submit pays a tokenised card (Method card_token): session/create with
// the idempotency key IdempotencyKey(p), then session/start/payout with
// that key + ":start". On success the status is Processing (the provider
// then prepares the payout and sends ready_to_confirm), with
// Refs.SessionID and, when the answer names it, Refs.ProviderID.
//
// Submit may return a non-zero Status alongside an error; callers journal
// its Refs. That happens when session/create succeeded and the start
// failed: the session exists, and in particular when the start is in doubt
// the session may yet reach ready_to_confirm. With its id journaled, the
// session is confirmed only if it matches the row, and cancelled otherwise.
//
// A repeat with the same ID and Attempt is refused by the provider
// (ErrDuplicate) and creates nothing.
func (c *Client) Submit(ctx context.Context, p providers.Payout) (providers.Status, error) {
	if p.Method != providers.CardToken {
		return providers.Status{}, fmt.Errorf("%s: method %q: %w (only %s)", c.name, p.Method, providers.ErrUnsupported, providers.CardToken)
	}
	token := strings.TrimSpace(p.Beneficiary.CardToken)
	if token == "" {
		return providers.Status{}, fmt.Errorf("%s: payout %s has no card_token: %w", c.name, p.ID, providers.ErrRejected)
	}
	return c.submit(ctx, p, card{Type: "encrypted_card", EncryptedCard: &encryptedCard{NumberHash: token}})
}

// SubmitCard pays a card number directly (bank_card), for merchants with a
// PCI DSS certificate (Config.PCICertified). The dispatcher never calls it:
// the canonical input has no card number column, and payrun never stores
// one. pan is sent once and kept nowhere; it never appears in an error.
func (c *Client) SubmitCard(ctx context.Context, p providers.Payout, pan string) (providers.Status, error) {
	if !c.pci {
		return providers.Status{}, fmt.Errorf("%s: card numbers need pci_certified: %w", c.name, providers.ErrUnsupported)
	}
	pan = strings.ReplaceAll(pan, " ", "")
	if len(pan) < 12 || len(pan) > 19 || strings.Trim(pan, "0123456789") != "" {
		return providers.Status{}, fmt.Errorf("%s: payout %s: card number is malformed: %w", c.name, p.ID, providers.ErrRejected)
	}
	return c.submit(ctx, p, card{Type: "bank_card", BankCard: &bankCard{Number: pan}})
}

func (c *Client) submit(ctx context.Context, p providers.Payout, cd card) (providers.Status, error) {
	if p.ID == "" {
		return providers.Status{}, fmt.Errorf("%s: payout without an ID: %w", c.name, providers.ErrRejected)
	}
	if !supportsCurrency(rulesOf(c.name), p.Amount.Currency) {
		return providers.Status{}, fmt.Errorf("%s: currency %q: %w", c.name, p.Amount.Currency, providers.ErrUnsupported)
	}
	if p.Amount.Minor <= 0 {
		return providers.Status{}, fmt.Errorf("%s: payout %s: amount must be positive: %w", c.name, p.ID, providers.ErrRejected)
	}
	name := p.Beneficiary.FullName()
	if name == "" {
		return providers.Status{}, fmt.Errorf("%s: payout %s: recipient full name is required: %w", c.name, p.ID, providers.ErrRejected)
	}
	amount := &amountDetails{Amount: p.Amount.Minor, Currency: lowerCurrency(p.Amount.Currency)}
	key := IdempotencyKey(p)
	refs := providers.Refs{PayoutID: p.ID, Method: p.Method}

	s, err := c.createSession(ctx, key, createSessionRequest{AmountDetails: amount, Metadata: metadataFor(c.name, p.ID)})
	if err != nil {
		return providers.Status{}, err
	}
	refs.SessionID = s.ID
	created := providers.Status{Outcome: providers.Processing, Refs: refs, RawStatus: s.Status, Amount: p.Amount}

	started, err := c.startPayout(ctx, key+":start", startPayoutRequest{
		SessionID:          s.ID,
		AmountDetails:      amount,
		PaymentMethod:      paymentMethod{Type: "card", Card: &cd},
		ParticipantDetails: &participantDetails{Recipient: &participant{FullName: name}},
		Customer:           &customer{Reference: p.ID},
		Metadata:           metadataFor(c.name, p.ID),
	})
	if err != nil {
		return created, err
	}
	st := mapSession(*started)
	st.Refs = mergeRefs(st.Refs, refs)
	if st.Amount.Currency == "" {
		st.Amount = p.Amount
	}
	return st, nil
}

func supportsCurrency(rules providers.Rules, cur string) bool {
	for _, c := range rules.Currencies {
		if strings.EqualFold(c, cur) {
			return true
		}
	}
	return false
}

// mergeRefs fills what the provider's answer left empty from what we know.
func mergeRefs(got, known providers.Refs) providers.Refs {
	if got.PayoutID == "" {
		got.PayoutID = known.PayoutID
	}
	if got.Method == "" {
		got.Method = known.Method
	}
	if got.SessionID == "" {
		got.SessionID = known.SessionID
	}
	if got.ProviderID == "" {
		got.ProviderID = known.ProviderID
	}
	return got
}

// toMoney reads amount_details as Money (the currency upper-cased).
func toMoney(a *amountDetails) money.Money {
	if a == nil {
		return money.Money{}
	}
	return money.Money{Minor: a.Amount, Currency: strings.ToUpper(a.Currency)}
}
