package providers

import (
	"context"
	"net/http"
	"time"

	"github.com/payrun/payrun/money"
)

// Method is how a payout reaches its beneficiary.
type Method string

// The payout methods of the canonical input schema.
const (
	BankTransfer Method = "bank_transfer"
	Wallet       Method = "wallet"
	CardPush     Method = "card_push"    // Monnet: the beneficiary enters a card in an iframe
	CardToken    Method = "card_token"   // Bank 131 / Smart Glocal: a tokenised card from their widget
	PaymentLink  Method = "payment_link" // Monnet Payin V3: a link the payer opens
)

// Methods lists every method, in the order used in documentation.
var Methods = []Method{BankTransfer, Wallet, CardPush, CardToken, PaymentLink}

// Payout is one payout as a provider client needs it. It is built from a
// validated input row; clients map it to their own wire form.
type Payout struct {
	// ID is the merchant reference (the input's payout_id): unique forever,
	// and the idempotency key at every provider.
	ID          string      `json:"id"`
	Method      Method      `json:"method"`
	Country     string      `json:"country,omitempty"` // ISO 3166-1 alpha-2, "PE"
	Amount      money.Money `json:"amount"`
	Description string      `json:"description,omitempty"`
	Beneficiary Beneficiary `json:"beneficiary"`
	// Attempt counts fresh submissions of the same payout after an earlier
	// one was proven harmless (a Bank 131 session that can never be
	// confirmed). Providers whose idempotency keys allow it derive the key
	// from ID and Attempt; the merchant reference stays ID.
	Attempt int `json:"attempt,omitempty"`
}

// Beneficiary is who receives the money, in the canonical schema's terms.
// Bank codes are Peru's SBS codes (the first three digits of a CCI); each
// client maps them to its own table.
type Beneficiary struct {
	Name           string `json:"name,omitempty"`
	LastName       string `json:"last_name,omitempty"`
	Email          string `json:"email,omitempty"`
	Phone          string `json:"phone,omitempty"`
	DocumentType   string `json:"document_type,omitempty"` // DNI, RUC, CE, PAS
	DocumentNumber string `json:"document_number,omitempty"`
	BankCode       string `json:"bank_code,omitempty"`
	AccountType    string `json:"account_type,omitempty"` // savings, checking
	AccountNumber  string `json:"account_number,omitempty"`
	CCI            string `json:"cci,omitempty"`
	CardToken      string `json:"card_token,omitempty"` // a provider token (never a card number)
}

// FullName returns name and last name joined by a space.
func (b Beneficiary) FullName() string {
	if b.LastName == "" {
		return b.Name
	}
	if b.Name == "" {
		return b.LastName
	}
	return b.Name + " " + b.LastName
}

// Outcome is a provider's status normalised to what payrun acts on.
type Outcome string

// Normalised outcomes. The provider's own status and code are kept beside
// them in Status.
const (
	Processing           Outcome = "processing"            // accepted, not final
	AwaitingConfirmation Outcome = "awaiting_confirmation" // two-phase: waits for our confirm or cancel
	AwaitingBeneficiary  Outcome = "awaiting_beneficiary"  // waits for the beneficiary (card push iframe, payment link)
	Succeeded            Outcome = "succeeded"
	Failed               Outcome = "failed"
	Reversed             Outcome = "reversed" // succeeded, then returned or refunded
	Expired              Outcome = "expired"  // the beneficiary never acted
	Cancelled            Outcome = "cancelled"
)

// Final reports whether the outcome can no longer change, except a success
// that is later reversed.
func (o Outcome) Final() bool {
	switch o {
	case Succeeded, Failed, Reversed, Expired, Cancelled:
		return true
	}
	return false
}

// Refs are the identifiers a provider gave a payout. Which fields are set
// depends on the provider: Monnet's numeric payout Id (ProviderID), TeemoPay's
// tradeNo (ProviderID), Bank 131's session (SessionID, "ps_...") and payment
// (ProviderID, "po_...").
type Refs struct {
	PayoutID string `json:"payout_id"`
	// Method tells a provider with several products which API to ask
	// (Monnet payouts, card push payouts and Payin V3 links).
	Method     Method `json:"method,omitempty"`
	ProviderID string `json:"provider_id,omitempty"`
	SessionID  string `json:"session_id,omitempty"`
}

// Status is what a provider says about a payout.
type Status struct {
	Outcome Outcome `json:"outcome"`
	Refs    Refs    `json:"refs"`
	// RawStatus is the provider's own status word(s), e.g. "REJECTED/DATA_ERROR".
	RawStatus string `json:"raw_status,omitempty"`
	// Code and Message are the provider's reason for a failure.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// URL is where the beneficiary acts (card push iframe, payment link).
	URL string `json:"url,omitempty"`
	// Amount is the amount as the provider reports it (zero when it does not),
	// so that reconciliation can find mismatches.
	Amount money.Money `json:"amount,omitzero"`
	// Fee is the provider's fee in minor units of Amount's currency, when reported.
	Fee int64 `json:"fee,omitempty"`
	// Recipient describes the destination as the provider reports it (card
	// last four, account), for the two-phase confirm rule.
	Recipient string `json:"recipient,omitempty"`
	// At is when the provider says the status changed (zero when unknown).
	At time.Time `json:"at,omitzero"`
}

// Provider is a client of one payment provider. Implementations are safe for
// concurrent use.
//
// Submit sends a payout. It is idempotent at the provider on Payout.ID (and
// Attempt): a repeat never pays twice, and surfaces as ErrDuplicate. When it
// returns an error that IsInDoubt, the request may have reached the provider
// and the payout must be resolved (Lookup, or a deliberate resend the
// provider answers with ErrDuplicate) before anything else is sent. A
// cancelled context during Submit is in doubt too.
//
// Lookup asks the provider for the current status. It returns ErrNotFound
// when the provider does not know the payout (for a provider that looks up
// by merchant reference this proves it was never created), and
// ErrUnsupported when refs do not hold what this provider needs (Monnet
// needs its numeric Id).
//
// ParseWebhook verifies a notification with the provider's own scheme
// before reading anything from it and returns the events it carries and the
// exact acknowledgement the provider expects. A verification failure is
// ErrSignature and nothing in the result may be used. A notification the
// provider sends without proof of origin (WebhookResult.Unverified) only
// says which payout to ask about: its events change nothing until
// ConfirmByLookup has replaced what they say with the provider's answer.
type Provider interface {
	Name() string
	Capabilities() Capabilities
	Submit(ctx context.Context, p Payout) (Status, error)
	Lookup(ctx context.Context, refs Refs) (Status, error)
	ParseWebhook(r WebhookRequest) (WebhookResult, error)
}

// Capabilities says how a provider's payouts can be proven, so that the
// dispatcher and the poller choose the right path without knowing the
// provider. What a provider implements says the rest (a Confirmer is
// two-phase: TwoPhase).
type Capabilities struct {
	// LookupByReference: Lookup works with only Refs.PayoutID, and its
	// ErrNotFound proves the payout was never created (TeemoPay, Monnet Payin).
	LookupByReference bool
	// DuplicateRefused: a resend of the same merchant reference is answered
	// with ErrDuplicate instead of paying again (Monnet 2005, Bank 131
	// idempotency key), so a resend is a safe existence check.
	DuplicateRefused bool
	// SilentReversals: a payout the provider reported paid may later be
	// refunded without any notification, so that only a status query
	// shows it (Smart Glocal refunds payouts manually, PROVIDERS.md 4.5).
	// The poller asks about such successes again, slowly, for a while
	// after them (reconcile.Poller.Recheck).
	SilentReversals bool
}

// TwoPhase reports whether p's payouts wait at AwaitingConfirmation for
// Confirm or Cancel, an unconfirmed one never moving money (Bank 131,
// Smart Glocal): whether p is a Confirmer.
func TwoPhase(p Provider) bool {
	_, ok := p.(Confirmer)
	return ok
}

// LookupLimiter is implemented by a provider that cannot look every payout
// up: CanLookup reports whether Lookup can ask about a payout with these
// references. When it cannot, what became of the payout can only come
// from the provider's notification (Monnet asks for its own numeric Id,
// Bank 131 for its session id).
type LookupLimiter interface {
	CanLookup(refs Refs) bool
}

// LinkLifetimer is implemented by a provider whose payouts wait for their
// beneficiary (a card push iframe, a payment link): LinkLifetime is how
// long such a link lives at the provider for a method, as its documents
// say (0: no such link, or not documented).
type LinkLifetimer interface {
	LinkLifetime(m Method) time.Duration
}

// LinkLifetime is p's link lifetime for m, or 0.
func LinkLifetime(p Provider, m Method) time.Duration {
	if l, ok := p.(LinkLifetimer); ok {
		return l.LinkLifetime(m)
	}
	return 0
}

// CanLookup reports whether p's Lookup can ask about refs: true unless p
// is a LookupLimiter that says otherwise.
func CanLookup(p Provider, refs Refs) bool {
	if l, ok := p.(LookupLimiter); ok {
		return l.CanLookup(refs)
	}
	return true
}

// Confirmer is a two-phase provider: a payout at AwaitingConfirmation moves
// money only when confirmed. Confirm and Cancel are idempotent.
type Confirmer interface {
	Confirm(ctx context.Context, refs Refs) (Status, error)
	Cancel(ctx context.Context, refs Refs, reason string) (Status, error)
}

// Balance is the money available at a provider in one currency.
type Balance struct {
	Country   string      `json:"country,omitempty"`
	Available money.Money `json:"available"`
	Total     money.Money `json:"total"`
}

// Balancer reports the merchant's balance at the provider.
type Balancer interface {
	Balance(ctx context.Context) ([]Balance, error)
}

// WebhookRequest is a notification as it arrived: the raw body, never
// re-serialised, because signatures cover the exact bytes.
type WebhookRequest struct {
	Header http.Header
	Body   []byte
	// Received is when it arrived, by payrun's clock (for timestamp windows).
	Received time.Time
}

// WebhookResult is what a verified notification says.
type WebhookResult struct {
	Events []Event
	Ack    Ack
	// ReplayKey, when set, must not have been seen before (TeemoPay's nonce):
	// the receiver refuses a request whose ReplayKey it has already accepted.
	ReplayKey string
	// Unverified marks a notification that came without the proof of
	// origin the provider documents (Monnet Payin's own samples carry an
	// empty payinVerification). Its events name the payouts to ask about
	// (Status.Refs) and nothing else in them may be believed: the receiver
	// passes the result through ConfirmByLookup before keeping anything.
	Unverified bool
}

// Event is one fact about one payout from a notification.
type Event struct {
	// ID identifies the fact, so that a duplicated delivery is applied once:
	// the same notification delivered twice yields the same ID.
	ID     string
	Type   string // the provider's event type or status word
	Status Status
	// DuplicateNotice marks a notification about a refused duplicate
	// submission (Monnet 2005). It says nothing about the original payout
	// and must never change its state.
	DuplicateNotice bool
}

// Ack is the response a provider expects for a notification it delivered.
type Ack struct {
	StatusCode  int
	ContentType string
	Body        []byte
}

// OK returns the plain 200 acknowledgement most providers expect.
func OK() Ack {
	return Ack{StatusCode: http.StatusOK, ContentType: "application/json", Body: []byte(`{"status":"ok"}`)}
}

// Write sends the acknowledgement (OK when a is the zero Ack) and returns
// its status code.
func (a Ack) Write(w http.ResponseWriter) int {
	if a.StatusCode == 0 {
		a = OK()
	}
	if a.ContentType != "" {
		w.Header().Set("Content-Type", a.ContentType)
	}
	w.WriteHeader(a.StatusCode)
	_, _ = w.Write(a.Body)
	return a.StatusCode
}
