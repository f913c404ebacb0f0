package sandbox

import (
	"encoding/json"
	"strings"
)

// The sandbox's own wire types. They are written from the providers'
// documentation independently of the client's, so that a misreading in one
// is not silently mirrored by the other.

type amountJSON struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

type createReq struct {
	AmountDetails *amountJSON     `json:"amount_details"`
	Metadata      json.RawMessage `json:"metadata"`
}

type sessionIDReq struct {
	SessionID string `json:"session_id"`
}

type cardJSON struct {
	Type          string `json:"type,omitempty"`
	EncryptedCard *struct {
		NumberHash string `json:"number_hash"`
	} `json:"encrypted_card,omitempty"`
	BankCard *struct {
		Number string `json:"number"`
	} `json:"bank_card,omitempty"`
	Last4 string `json:"last4,omitempty"`
	Brand string `json:"brand,omitempty"`
}

type methodJSON struct {
	Type string    `json:"type"`
	Card *cardJSON `json:"card,omitempty"`
}

type personJSON struct {
	FullName string `json:"full_name,omitempty"`
}

type participantsJSON struct {
	Recipient *personJSON `json:"recipient,omitempty"`
	Sender    *personJSON `json:"sender,omitempty"`
}

type customerJSON struct {
	Reference string `json:"reference,omitempty"`
}

type startReq struct {
	SessionID          string            `json:"session_id"`
	AmountDetails      *amountJSON       `json:"amount_details"`
	PaymentMethod      *methodJSON       `json:"payment_method"`
	ParticipantDetails *participantsJSON `json:"participant_details"`
	Customer           *customerJSON     `json:"customer"`
	Metadata           json.RawMessage   `json:"metadata"`
}

// tokenInfoReq is token/info's body as the PHP SDK sends it: the kind of
// token ("card", "public_token", "recurrent_token") and the card.
type tokenInfoReq struct {
	Type string    `json:"type"`
	Card *cardJSON `json:"card"`
}

// tokenInfoJSON is token/info's answer, under "info" (the SDK's
// TokenInfoResponse and TokenInfo).
type tokenInfoJSON struct {
	NumberHash string `json:"number_hash"`
	Brand      string `json:"brand"`
	Last4      string `json:"last4"`
	Type       string `json:"type"`
}

type errorJSON struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

type refundJSON struct {
	ID            string     `json:"id"`
	Status        string     `json:"status"`
	CreatedAt     string     `json:"created_at"`
	AmountDetails amountJSON `json:"amount_details"`
}

type paymentJSON struct {
	ID                 string            `json:"id"`
	Status             string            `json:"status"`
	CreatedAt          string            `json:"created_at"`
	UpdatedAt          string            `json:"updated_at"`
	Customer           *customerJSON     `json:"customer,omitempty"`
	PaymentMethod      methodJSON        `json:"payment_method"`
	AmountDetails      amountJSON        `json:"amount_details"`
	ParticipantDetails *participantsJSON `json:"participant_details,omitempty"`
	Metadata           json.RawMessage   `json:"metadata,omitempty"`
	Error              *errorJSON        `json:"error,omitempty"`
	Refunds            []refundJSON      `json:"refunds,omitempty"`
}

type sessionJSON struct {
	ID            string          `json:"id"`
	Status        string          `json:"status"`
	CreatedAt     string          `json:"created_at"`
	UpdatedAt     string          `json:"updated_at"`
	NextAction    string          `json:"next_action,omitempty"`
	AmountDetails *amountJSON     `json:"amount_details,omitempty"`
	Payments      []paymentJSON   `json:"payments,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

type okJSON struct {
	Status      string         `json:"status"`
	PublicToken string         `json:"public_token,omitempty"`
	Session     *sessionJSON   `json:"session,omitempty"`
	Info        *tokenInfoJSON `json:"info,omitempty"`
}

type errorAnswer struct {
	Status string    `json:"status"`
	Error  errorJSON `json:"error"`
}

type webhookJSON struct {
	Type    string      `json:"type"`
	Session sessionJSON `json:"session"`
}

// metadataObject reports whether metadata is absent or a JSON object, the
// form Smart Glocal's documents show ({"metadata": "withdrawal_116",
// "proxy_to_host": ""}).
func metadataObject(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return true
	}
	var obj map[string]json.RawMessage
	return json.Unmarshal(raw, &obj) == nil && obj != nil
}

// reference reads metadata sent as a string or as Smart Glocal's
// {"metadata": "..."} object.
func reference(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj struct {
		Metadata string `json:"metadata"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.Metadata
	}
	return ""
}

var currencies = map[string]bool{"rub": true, "usd": true, "eur": true}

func validCurrency(c string) bool { return currencies[strings.ToLower(c)] }
