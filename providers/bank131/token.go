package bank131

import (
	"context"
	"fmt"

	"github.com/payrun/payrun/providers"
)

// TokenInfo asks token/info for the last four digits of the card behind a
// widget token (number_hash), so that the confirm rule can compare the
// recipient the provider reports with the row. The request has the shape
// of the PHP SDK's TokenInfoRequest: "type": "card" and the card as
// session/start/payout names it; the answer's card is under "info"
// (TokenInfoResponse), and under "card" is read too.
func (c *Client) TokenInfo(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%s token/info: empty token: %w", c.name, providers.ErrRejected)
	}
	resp, err := c.call(ctx, "token/info", "token/info", "", false, tokenInfoRequest{
		Type: "card",
		Card: card{Type: "encrypted_card", EncryptedCard: &encryptedCard{NumberHash: token}},
	})
	if err != nil {
		return "", err
	}
	switch {
	case resp.Info != nil && resp.Info.Last4 != "":
		return resp.Info.Last4, nil
	case resp.Card != nil && resp.Card.Last4 != "":
		return resp.Card.Last4, nil
	}
	return "", &providers.APIError{Provider: c.name, Op: "token/info", Message: "answer without last4", Kind: providers.ErrNotFound}
}
