package monnet

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/providers"
)

// Name is the provider's registered name.
const Name = "monnet"

// maxBody caps every response body read.
const maxBody = 1 << 20

var (
	_ providers.Provider = (*Client)(nil)
	_ providers.Balancer = (*Client)(nil)
)

// Client talks to Monnet's payout, card push and Payin V3 APIs. It is safe
// for concurrent use.
type Client struct {
	base       string // payout host, no trailing slash
	merchantID string
	apiKey     string
	secret     []byte
	notifier   *rsa.PublicKey
	http       *http.Client
	now        func() time.Time
	pci        bool

	cardTimeoutURL string
	cardExpiration string

	payin *payinConfig // nil when Payin V3 is not configured
}

type payinConfig struct {
	base, statusBase string
	merchantID       string
	key              []byte
	okURL, errorURL  string
	method           string
	expiration       string // payinExpirationTime, minutes
}

// Registration describes Monnet for the provider list.
func Registration() providers.Registration {
	return providers.Registration{
		Name:        Name,
		Description: "Monnet Payments (Peru): bank and wallet payouts, card push payouts, Payin V3 payment links",
		Rules:       Rules(),
		Sandbox:     newSandbox,
		New: func(cfg providers.Config, deps providers.Deps) (providers.Provider, error) {
			return New(cfg, deps)
		},
	}
}

var capabilities = providers.Capabilities{
	// Payouts are looked up by Monnet's Id only. Payin links can be looked
	// up by reference (Refs.Method == payment_link), see Lookup.
	LookupByReference: false,
	DuplicateRefused:  true,
}

// New builds a client from configuration, resolving its secret references.
func New(cfg providers.Config, deps providers.Deps) (*Client, error) {
	if cfg.BaseURL == "" || cfg.MerchantID == "" {
		return nil, errors.New("monnet: base_url and merchant_id are required")
	}
	c := &Client{
		base:           strings.TrimRight(cfg.BaseURL, "/"),
		merchantID:     cfg.MerchantID,
		http:           deps.HTTP,
		now:            deps.Now,
		pci:            cfg.PCICertified,
		cardTimeoutURL: cfg.Extra["card_timeout_url"],
		cardExpiration: cfg.Extra["card_expiration_minutes"],
	}
	if c.http == nil {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		c.http = &http.Client{Timeout: timeout}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.cardTimeoutURL == "" {
		c.cardTimeoutURL = cfg.CallbackURL
	}
	key, err := valueOrSecret(cfg.APIKey)
	if err != nil {
		return nil, fmt.Errorf("monnet: api_key: %w", err)
	}
	c.apiKey = string(key)
	if c.secret, err = providers.Secret(cfg.APISecret); err != nil {
		return nil, fmt.Errorf("monnet: api_secret: %w", err)
	}
	pemBytes, err := valueOrSecret(cfg.ProviderPublicKey)
	if err != nil {
		return nil, fmt.Errorf("monnet: provider_public_key: %w", err)
	}
	if c.notifier, err = parsePublicKey(pemBytes); err != nil {
		return nil, fmt.Errorf("monnet: %w", err)
	}
	if c.payin, err = newPayinConfig(cfg.Extra); err != nil {
		return nil, fmt.Errorf("monnet: %w", err)
	}
	return c, nil
}

// valueOrSecret resolves a reference, or takes a literal that is not a
// secret (an API key identifier, a PEM public key).
func valueOrSecret(v string) ([]byte, error) {
	if v == "" {
		return nil, errors.New("missing")
	}
	if providers.IsSecretRef(v) {
		return providers.Secret(v)
	}
	return []byte(v), nil
}

// Name returns "monnet".
func (c *Client) Name() string { return Name }

// Capabilities says what Monnet can do.
func (c *Client) Capabilities() providers.Capabilities { return capabilities }

// Submit sends a payout through the product its method names.
func (c *Client) Submit(ctx context.Context, p providers.Payout) (providers.Status, error) {
	switch p.Method {
	case providers.BankTransfer, providers.Wallet:
		return c.submitPayout(ctx, p)
	case providers.CardPush:
		return c.submitCardPush(ctx, p)
	case providers.PaymentLink:
		return c.submitPayin(ctx, p)
	}
	return providers.Status{}, &providers.APIError{Provider: Name, Op: "submit", Message: "method " + string(p.Method), Kind: providers.ErrUnsupported}
}

// response is one HTTP answer, body already read (capped).
type response struct {
	status int
	header http.Header
	body   []byte
}

// signedDo sends a request to the payout host signed with HMAC-SHA256:
// ?timestamp=<ms>&signature=<hex> and the monnet-api-key header.
func (c *Client) signedDo(ctx context.Context, op, method, path string, body []byte, mutating bool) (response, error) {
	ts := c.now().UnixMilli()
	q := url.Values{}
	q.Set("timestamp", strconv.FormatInt(ts, 10))
	q.Set("signature", sign(c.secret, method, path, ts, body))
	h := http.Header{}
	h.Set("monnet-api-key", c.apiKey)
	return c.do(ctx, op, method, c.base+path+"?"+q.Encode(), h, body, mutating)
}

// do sends one request. A transport failure after the request was written
// (timeout, reset, cancelled context) of a mutating request is in doubt;
// before it was written, or for a query, the provider is unavailable.
func (c *Client) do(ctx context.Context, op, method, u string, h http.Header, body []byte, mutating bool) (response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var wrote atomic.Bool // set on the transport's goroutine
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, u, rd)
	if err != nil {
		return response{}, fmt.Errorf("monnet %s: %w", op, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	} else {
		// Go's transport sends a GET again by itself when a reused
		// connection closes before its answer (http.Transport retries an
		// idempotent request that "has no body or has its Request.GetBody
		// defined"): a second request the provider counts against its
		// limit that never took a place in payrun's budget. A body that
		// cannot be replayed, and reads as empty, keeps it to one: the
		// lookup fails as unavailable and the poller asks again, through
		// the budget. The request on the wire is the same GET.
		req.Body = io.NopCloser(strings.NewReader(""))
	}
	req.Header.Set("Accept", "application/json")
	if err := providers.Pace(ctx); err != nil {
		return response{}, fmt.Errorf("monnet %s: %w", op, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{}, c.transportError(ctx, op, err, mutating, wrote.Load())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return response{}, c.transportError(ctx, op, err, mutating, true)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: b}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return r, classify(op, resp.StatusCode, resp.Header, b, mutating, c.now())
	}
	return r, nil
}

func (c *Client) transportError(ctx context.Context, op string, err error, mutating, wrote bool) error {
	// The URL carries the request signature: keep it out of messages.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if mutating && (wrote || ctx.Err() != nil) {
		return providers.InDoubt(Name, op, err)
	}
	return &providers.APIError{Provider: Name, Op: op, Message: err.Error(), Kind: providers.ErrUnavailable}
}
