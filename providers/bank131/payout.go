package bank131

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Submit pays a tokenised card (Method card_token). With InitPayout, one
// call: session/init/payout with the idempotency key IdempotencyKey(p).
// Otherwise two: session/create with that key, then session/start/payout
// with the key + ":start". On success the status is Processing (the
// provider then prepares the payout and sends ready_to_confirm), with
// Refs.SessionID and, when the answer names it, Refs.ProviderID.
//
// A card_token payout without a token is a card collection (collect.go):
// Submit then only asks for the widget's public token and answers
// AwaitingBeneficiary; nothing that moves money is sent.
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
	if IsCollection(p) {
		return c.collect(ctx, p)
	}
	token := strings.TrimSpace(p.Beneficiary.CardToken)
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
	if c.initPayout {
		return c.initSession(ctx, key, refs, p, initPayoutRequest{
			AmountDetails:      amount,
			PaymentMethod:      paymentMethod{Type: "card", Card: &cd},
			ParticipantDetails: &participantDetails{Recipient: &participant{FullName: name}},
			Customer:           &customer{Reference: p.ID},
			Metadata:           metadataFor(c.name, p.ID),
		})
	}

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

// initSession starts the payout with one call, session/init/payout, under
// the same idempotency key session/create would take: a repeat is refused
// as a duplicate, and a session whose answer was lost is never journaled,
// so never confirmed (Settle cancels it if it reaches ready_to_confirm).
func (c *Client) initSession(ctx context.Context, key string, refs providers.Refs, p providers.Payout, req initPayoutRequest) (providers.Status, error) {
	resp, err := c.call(ctx, "session/init/payout", "session/init/payout", key, true, req)
	if err != nil {
		return providers.Status{}, err
	}
	if resp.Session == nil || resp.Session.ID == "" {
		return providers.Status{}, providers.InDoubt(c.name, "session/init/payout", errors.New("answer without a session id"))
	}
	st := mapSession(*resp.Session)
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
