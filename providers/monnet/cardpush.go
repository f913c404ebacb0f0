package monnet

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/payrun/payrun/providers"
)

// Card push payouts (excerpt 000): Monnet returns an iframe in which the
// beneficiary enters a VISA card issued in Peru; the payout then runs like
// any other and its outcome arrives by notification (SUCCESS or REJECTED).
// The create answer holds only the iframe, not Monnet's payout Id: that Id
// first appears in the notification, so Lookup of a card push payout needs
// refs taken from a notification.
//
// The iframe times out after 15 minutes without a card (its
// mps-payout-finished-timeout event) or after expirationTime. How the
// timeout reaches the merchant's server is not documented; we read a
// REJECTED notification whose error code is "mps-payout-finished-timeout"
// as Expired (inference; the sandbox sends exactly that).

// cardPushBody maps a payout to the card push body. It is signed like the
// other payout requests, with resourcePath /api-payout-plus-real-time/{id};
// the optional embed-jwt and proxy-requests query parameters are left at
// their defaults because whether they are signed is undocumented.
func cardPushBody(p providers.Payout, timeoutURL, expiration string) (cardPushRequest, error) {
	base, err := payoutBody(providers.Payout{
		ID: p.ID, Method: providers.CardPush, Country: p.Country, Amount: p.Amount,
		Beneficiary: providers.Beneficiary{
			Name: p.Beneficiary.Name, LastName: p.Beneficiary.LastName, Email: p.Beneficiary.Email,
			DocumentType: p.Beneficiary.DocumentType, DocumentNumber: p.Beneficiary.DocumentNumber,
		},
	})
	if err != nil {
		return cardPushRequest{}, err
	}
	if timeoutURL == "" {
		return cardPushRequest{}, errors.New("card push needs a timeoutUrl (extra.card_timeout_url or callback_url)")
	}
	return cardPushRequest{
		Country: base.Country, Amount: base.Amount, Currency: base.Currency, OrderID: base.OrderID,
		Beneficiary:    base.Beneficiary,
		Destination:    destinationWire{BankAccount: bankAccountWire{AccountType: accountCard}},
		TimeoutURL:     timeoutURL,
		ExpirationTime: expiration,
	}, nil
}

func (c *Client) submitCardPush(ctx context.Context, p providers.Payout) (providers.Status, error) {
	req, err := cardPushBody(p, c.cardTimeoutURL, c.cardExpiration)
	if err != nil {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "submit", Message: err.Error(), Kind: kindOf(err)}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return providers.Status{}, err
	}
	resp, err := c.signedDo(ctx, "submit", "POST", "/api-payout-plus-real-time/"+c.merchantID, body, true)
	if err != nil {
		return providers.Status{}, err
	}
	var cr cardPushResponse
	if err := json.Unmarshal(resp.body, &cr); err != nil {
		return providers.Status{}, decodeError("submit", err, true)
	}
	if cr.Iframe == "" {
		// Not the iframe: a refused duplicate is known by its 2005 (the
		// earlier card push with this orderId stands); anything else does
		// not say whether a payout was created.
		var pr payoutResponse
		if json.Unmarshal(resp.body, &pr) == nil {
			if code, dup := duplicateCode(pr); dup {
				return providers.Status{Outcome: providers.Processing, Refs: providers.Refs{PayoutID: p.ID, Method: providers.CardPush}},
					&providers.APIError{Provider: Name, Op: "submit", HTTPStatus: resp.status, Code: code, Message: "[orderId] Duplicated (in a 2xx answer)", Kind: providers.ErrDuplicate}
			}
		}
		return providers.Status{}, inDoubt("submit", resp.status, "no iframe")
	}
	return providers.Status{
		Outcome:   providers.AwaitingBeneficiary,
		Refs:      providers.Refs{PayoutID: p.ID, Method: providers.CardPush},
		RawStatus: "IFRAME",
		URL:       cr.Iframe,
		Amount:    p.Amount,
	}, nil
}

// LinkLifetime is how long a card push iframe or a payment link lives at
// Monnet: the iframe times out after 15 minutes without a card, or after
// its expirationTime when that is set; a payment link after its
// payinExpirationTime (30 minutes online, 2 hours cash by default).
func (c *Client) LinkLifetime(m providers.Method) time.Duration {
	minutes := func(s string, def int) time.Duration {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return time.Duration(n) * time.Minute
		}
		return time.Duration(def) * time.Minute
	}
	switch m {
	case providers.CardPush:
		return minutes(c.cardExpiration, 15)
	case providers.PaymentLink:
		if c.payin != nil {
			return minutes(c.payin.expiration, 30)
		}
	}
	return 0
}

var _ providers.LinkLifetimer = (*Client)(nil)
