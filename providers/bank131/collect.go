package bank131

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/providers"
)

// Card collection: a card_token row without a token, naming its
// beneficiary, is paid through the provider's tokenization widget
// (excerpt 004, "Payout to a bank card via widget"; excerpt 002, "Without
// a token"):
//
//  1. Submit creates a public token for the widget (POST /api/v1/token
//     with "tokenize_widget": {"access": true}) and answers
//     AwaitingBeneficiary with the public token in Refs.ProviderID. No
//     money can move: a public token only lets the widget tokenize a card.
//  2. payrun's beneficiary page (internal/collect) initialises the widget
//     (its script at WidgetURL) with that token; the widget hands the page
//     the card's hashes, never the card.
//  3. The page checks the number_hash with TokenInfo, journals it as the
//     row's card_token and queues the row: from then on it is an ordinary
//     card_token payout (Submit with the hash), two-phase as always.
//
// Creating a public token is not idempotent at the provider (the
// documents give it no key), and need not be: a token whose answer was
// lost is never journaled, so no page ever shows it, and a fresh one is
// asked for.

// DefaultWidgetTokenLifetime is how long payrun takes a public token to
// stay usable when extra.widget_token_lifetime does not say: the documents
// give no lifetime (docs/PROVIDER_GUESSES.md).
const DefaultWidgetTokenLifetime = 24 * time.Hour

// tokenRequest is POST /api/v1/token's body (the PHP SDK's
// IssuePublicTokenRequest with a TokenizeWidget).
type tokenRequest struct {
	TokenizeWidget *widgetAccess `json:"tokenize_widget,omitempty"`
}

type widgetAccess struct {
	Access bool `json:"access"`
}

// IsCollection reports whether p is paid by collecting the beneficiary's
// card through the widget: a card_token payout without a token.
func IsCollection(p providers.Payout) bool {
	return p.Method == providers.CardToken && strings.TrimSpace(p.Beneficiary.CardToken) == ""
}

// LinkLifetime is how long a collection's public token lives (the link
// payrun sends the beneficiary cannot outlive it); 0 for other methods.
func (c *Client) LinkLifetime(m providers.Method) time.Duration {
	if m == providers.CardToken {
		return c.widgetLifetime
	}
	return 0
}

// WidgetURL is the provider's tokenization widget script
// (extra.widget_url), "" when none is configured.
func (c *Client) WidgetURL() string { return c.widgetURL }

// InitPayout reports whether the client starts a payout with one call,
// session/init/payout (Smart Glocal's default), rather than session/create
// then session/start/payout (Bank 131's default, as its widget scenario
// documents). extra.init_payout ("true" or "false") decides otherwise.
func (c *Client) InitPayout() bool { return c.initPayout }

// collect starts a card collection: a public token for the widget.
func (c *Client) collect(ctx context.Context, p providers.Payout) (providers.Status, error) {
	if p.ID == "" {
		return providers.Status{}, fmt.Errorf("%s: payout without an ID: %w", c.name, providers.ErrRejected)
	}
	if c.widgetURL == "" {
		return providers.Status{}, fmt.Errorf("%s: payout %s has no card_token and extra.widget_url is not configured, so its beneficiary cannot give a card: %w",
			c.name, p.ID, providers.ErrUnsupported)
	}
	if !supportsCurrency(rulesOf(c.name), p.Amount.Currency) {
		return providers.Status{}, fmt.Errorf("%s: currency %q: %w", c.name, p.Amount.Currency, providers.ErrUnsupported)
	}
	if p.Amount.Minor <= 0 {
		return providers.Status{}, fmt.Errorf("%s: payout %s: amount must be positive: %w", c.name, p.ID, providers.ErrRejected)
	}
	if p.Beneficiary.FullName() == "" {
		return providers.Status{}, fmt.Errorf("%s: payout %s: recipient full name is required: %w", c.name, p.ID, providers.ErrRejected)
	}
	tok, err := c.PublicToken(ctx)
	if err != nil {
		return providers.Status{}, err
	}
	return providers.Status{
		Outcome:   providers.AwaitingBeneficiary,
		Refs:      providers.Refs{PayoutID: p.ID, Method: p.Method, ProviderID: tok},
		RawStatus: "widget_token",
		Message:   "waiting for the beneficiary to give a card through the provider's widget",
		Amount:    p.Amount,
		At:        c.now(),
	}, nil
}

// PublicToken asks the provider for a public token that opens the
// tokenization widget. The request changes nothing that moves money, so a
// failure without an answer is ErrUnavailable, never in doubt.
func (c *Client) PublicToken(ctx context.Context) (string, error) {
	resp, err := c.call(ctx, "token", "token", "", false, tokenRequest{TokenizeWidget: &widgetAccess{Access: true}})
	if err != nil {
		return "", err
	}
	if resp.PublicToken == "" {
		return "", &providers.APIError{Provider: c.name, Op: "token", Message: "answer without a public_token", Kind: providers.ErrUnavailable}
	}
	return resp.PublicToken, nil
}

// CheckCardHash is TokenInfo for the page: the last four digits of the
// card behind a widget's number_hash, after checking the hash's form.
func (c *Client) CheckCardHash(ctx context.Context, hash string) (string, error) {
	if !isHex64(hash) {
		return "", fmt.Errorf("%s: the card token is not a 64-character hash: %w", c.name, providers.ErrRejected)
	}
	last4, err := c.TokenInfo(ctx, strings.ToLower(hash))
	if err != nil {
		return "", err
	}
	if len(last4) != 4 || strings.Trim(last4, "0123456789") != "" {
		return "", errors.New(c.name + " token/info: last4 is not four digits")
	}
	return last4, nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}
