package bank131

import (
	"encoding/json"
	"strings"
)

// Wire types of the session API, shared by Bank 131 and Smart Glocal
// (PROVIDERS.md 4). Only the fields payrun reads or sends are declared;
// unknown fields in answers are ignored.

type amountDetails struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"` // lowercase ISO 4217 ("rub")
}

type createSessionRequest struct {
	AmountDetails *amountDetails  `json:"amount_details,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

type sessionIDRequest struct {
	SessionID string `json:"session_id"`
}

type startPayoutRequest struct {
	SessionID          string              `json:"session_id"`
	AmountDetails      *amountDetails      `json:"amount_details,omitempty"`
	PaymentMethod      paymentMethod       `json:"payment_method"`
	ParticipantDetails *participantDetails `json:"participant_details,omitempty"`
	Customer           *customer           `json:"customer,omitempty"`
	Metadata           json.RawMessage     `json:"metadata,omitempty"`
}

// initPayoutRequest is session/init/payout's body: session/start/payout's
// without a session (the SDK's InitPayoutSessionRequest).
type initPayoutRequest struct {
	AmountDetails      *amountDetails      `json:"amount_details"`
	PaymentMethod      paymentMethod       `json:"payment_method"`
	ParticipantDetails *participantDetails `json:"participant_details"`
	Customer           *customer           `json:"customer,omitempty"`
	Metadata           json.RawMessage     `json:"metadata,omitempty"`
}

type paymentMethod struct {
	Type string `json:"type"` // "card"
	Card *card  `json:"card,omitempty"`
}

// card is both the request form (type + encrypted_card or bank_card) and the
// answer form (last4, brand).
type card struct {
	Type          string         `json:"type,omitempty"` // "encrypted_card" or "bank_card"
	EncryptedCard *encryptedCard `json:"encrypted_card,omitempty"`
	BankCard      *bankCard      `json:"bank_card,omitempty"`
	Last4         string         `json:"last4,omitempty"`
	Brand         string         `json:"brand,omitempty"`
}

type encryptedCard struct {
	NumberHash         string `json:"number_hash"`
	ExpirationDateHash string `json:"expiration_date_hash,omitempty"`
	CardholderNameHash string `json:"cardholder_name_hash,omitempty"`
	SecurityCodeHash   string `json:"security_code_hash,omitempty"`
}

// bankCard carries a raw card number: only for PCI DSS certified merchants,
// never journaled or logged.
type bankCard struct {
	Number string `json:"number"`
}

type participantDetails struct {
	Recipient *participant `json:"recipient,omitempty"`
	Sender    *participant `json:"sender,omitempty"`
}

type participant struct {
	FullName string `json:"full_name,omitempty"`
}

type customer struct {
	Reference string `json:"reference,omitempty"`
}

// tokenInfoRequest is token/info's body: the kind of token asked about
// ("card", "public_token", "recurrent_token") and the card (the PHP SDK's
// TokenInfoRequest and TokenInfoTypeEnum).
type tokenInfoRequest struct {
	Type string `json:"type"`
	Card card   `json:"card"`
}

// tokenInfo is token/info's answer, under "info" (the SDK's
// TokenInfoResponse).
type tokenInfo struct {
	Token      string `json:"token,omitempty"`
	NumberHash string `json:"number_hash,omitempty"`
	Brand      string `json:"brand,omitempty"`
	Last4      string `json:"last4,omitempty"`
	Type       string `json:"type,omitempty"`
}

// response is every answer of the API: {"status":"ok",...} or
// {"status":"error","error":{...}}.
type response struct {
	Status string `json:"status"`
	// PublicToken answers POST /token (the SDK's PublicTokenResponse).
	PublicToken string     `json:"public_token,omitempty"`
	Session     *session   `json:"session,omitempty"`
	Info        *tokenInfo `json:"info,omitempty"` // token/info
	Card        *card      `json:"card,omitempty"` // token/info, as read before the SDK was checked
	Error       *errorBody `json:"error,omitempty"`
}

type errorBody struct {
	Code          string         `json:"code"`
	Description   string         `json:"description"`
	RejectReasons []rejectReason `json:"reject_reasons,omitempty"`
}

type rejectReason struct {
	RuleAlias      string `json:"rule_alias,omitempty"`
	ListAlias      string `json:"list_alias,omitempty"`
	ExpirationDate string `json:"expiration_date,omitempty"`
}

// session is a PaymentSession. Status: created, in_progress, accepted,
// cancelled, error. NextAction: confirm, capture.
type session struct {
	ID            string          `json:"id"`
	Status        string          `json:"status"`
	CreatedAt     string          `json:"created_at,omitempty"`
	UpdatedAt     string          `json:"updated_at,omitempty"`
	NextAction    string          `json:"next_action,omitempty"`
	AmountDetails *amountDetails  `json:"amount_details,omitempty"`
	Payments      []payment       `json:"payments,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

// payment is a payout inside a session. Status: succeeded, in_progress,
// pending, failed.
type payment struct {
	ID                 string              `json:"id"`
	Status             string              `json:"status"`
	CreatedAt          string              `json:"created_at,omitempty"`
	UpdatedAt          string              `json:"updated_at,omitempty"`
	Customer           *customer           `json:"customer,omitempty"`
	PaymentMethod      *paymentMethod      `json:"payment_method,omitempty"`
	AmountDetails      *amountDetails      `json:"amount_details,omitempty"`
	ParticipantDetails *participantDetails `json:"participant_details,omitempty"`
	Metadata           json.RawMessage     `json:"metadata,omitempty"`
	// Error explains a failed payment [I: the SDK's payout DTO carries an
	// error object; its codes are not published].
	Error   *errorBody `json:"error,omitempty"`
	Refunds []refund   `json:"refunds,omitempty"`
}

// refund is a return of a succeeded payout [I: shape of the SDK's refund
// DTO; Smart Glocal also refunds manually, visible only here].
type refund struct {
	ID            string         `json:"id"`
	Status        string         `json:"status"` // in_progress, accepted, succeeded, failed
	CreatedAt     string         `json:"created_at,omitempty"`
	AmountDetails *amountDetails `json:"amount_details,omitempty"`
}

type webhookBody struct {
	Type    string  `json:"type"`
	Session session `json:"session"`
}

// metadataString reads metadata, which Bank 131 examples send as a string
// ("good") and Smart Glocal examples as an object
// ({"metadata":"withdrawal_116","proxy_to_host":""}). payrun sends each
// provider its own form (metadataFor); it reads both.
func metadataString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err == nil {
		if v, ok := obj["metadata"]; ok {
			if err := json.Unmarshal(v, &s); err == nil {
				return s
			}
		}
	}
	return ""
}

func lowerCurrency(c string) string { return strings.ToLower(strings.TrimSpace(c)) }

// metadataFor is a payout's reference as the provider's metadata: a string
// for Bank 131 ("metadata": "order123", excerpt 004), an object for Smart
// Glocal ("metadata": {"metadata": "withdrawal_116", ...}, excerpt 002;
// proxy_to_host, which the example leaves empty, is not sent).
func metadataFor(provider, ref string) json.RawMessage {
	var v any = ref
	if provider == NameSmartGlocal {
		v = map[string]string{"metadata": ref}
	}
	b, _ := json.Marshal(v)
	return b
}
