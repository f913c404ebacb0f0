package bank131

import (
	"context"
	"fmt"

	"github.com/payrun/payrun/providers"
)

// TokenInfo asks token/info for the last four digits of the card behind a
// widget token (number_hash), so that the confirm rule can compare the
// recipient the provider reports with the row. The request names the card
// as session/start/payout does [I: the method is documented, its body
// shape is not in the excerpts].
func (c *Client) TokenInfo(ctx context.Context, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%s token/info: empty token: %w", c.name, providers.ErrRejected)
	}
	resp, err := c.call(ctx, "token/info", "token/info", "", false, tokenInfoRequest{
		Card: card{Type: "encrypted_card", EncryptedCard: &encryptedCard{NumberHash: token}},
	})
	if err != nil {
		return "", err
	}
	if resp.Card == nil || resp.Card.Last4 == "" {
		return "", &providers.APIError{Provider: c.name, Op: "token/info", Message: "answer without last4", Kind: providers.ErrNotFound}
	}
	return resp.Card.Last4, nil
}
