package teemopay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/providers"
)

// Name is the provider's registration name.
const Name = "teemopay"

// Client is TeemoPay's payout API client. It is safe for concurrent use.
type Client struct {
	baseURL     string
	appCode     string
	country     string
	callbackURL string
	yapeCode    string
	key         *rsa.PrivateKey
	platform    *rsa.PublicKey
	http        *http.Client
	now         func() time.Time
}

var _ providers.Provider = (*Client)(nil)

// capabilities: TeemoPay looks payouts up by merchantOrderNo, so a query's
// "Order not found" proves a payout was never created. Its answer to a
// repeated merchantOrderNo is undocumented (PROVIDERS.md 3.5); payrun's
// sandbox refuses it with envelope code 409, which this client maps to
// ErrDuplicate, but the dispatcher must not rely on it against the real
// host: DuplicateRefused is false, and in-doubt payouts are resolved by
// Lookup instead of a resend.
var capabilities = providers.Capabilities{
	LookupByReference: true,
	DuplicateRefused:  false,
}

// Registration describes TeemoPay for the provider registry.
func Registration() providers.Registration {
	return providers.Registration{
		Name:        Name,
		Description: "TeemoPay (TTpay): Peru bank transfers and Yape payouts",
		Rules:       Rules(),
		Sandbox:     newSandbox,
		New: func(cfg providers.Config, deps providers.Deps) (providers.Provider, error) {
			return New(cfg, deps)
		},
	}
}

// New builds a client. cfg.MerchantID is the app_code; cfg.PrivateKey (our
// RSA key, PKCS#8) and cfg.ProviderPublicKey (the platform's) are secret
// references resolved with providers.Secret; cfg.CallbackURL is sent as each
// payout's callbackUrl. cfg.Extra may set "country" (default PE, the only
// one supported) and "yape_bank_code".
func New(cfg providers.Config, deps providers.Deps) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("teemopay: base_url is required")
	}
	if cfg.MerchantID == "" || len(cfg.MerchantID) > 32 {
		return nil, errors.New("teemopay: merchant_id (app_code, at most 32 characters) is required")
	}
	pem, err := providers.Secret(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("teemopay: private_key: %w", err)
	}
	key, err := parsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("teemopay: private_key: %w", err)
	}
	pub, err := providers.Secret(cfg.ProviderPublicKey)
	if err != nil {
		return nil, fmt.Errorf("teemopay: provider_public_key: %w", err)
	}
	platform, err := parsePublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("teemopay: provider_public_key: %w", err)
	}
	country := strings.ToUpper(cfg.Extra["country"])
	if country == "" {
		country = "PE"
	}
	if country != "PE" {
		return nil, fmt.Errorf("teemopay: country %q is not supported (PE only)", country)
	}
	yape := cfg.Extra["yape_bank_code"]
	if yape == "" {
		yape = defaultYapeCode
	}
	hc := deps.HTTP
	if hc == nil {
		t := cfg.Timeout
		if t <= 0 {
			t = 30 * time.Second
		}
		hc = &http.Client{Timeout: t}
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	return &Client{
		baseURL:     strings.TrimRight(cfg.BaseURL, "/"),
		appCode:     cfg.MerchantID,
		country:     country,
		callbackURL: cfg.CallbackURL,
		yapeCode:    yape,
		key:         key,
		platform:    platform,
		http:        hc,
		now:         now,
	}, nil
}

// Name returns "teemopay".
func (c *Client) Name() string { return Name }

// Capabilities returns what TeemoPay can do.
func (c *Client) Capabilities() providers.Capabilities { return capabilities }

// call signs and posts body to path and decodes the envelope's data into
// out. Every failure is an *providers.APIError of the taxonomy; for a
// create, anything after the request may have been written is in doubt.
func (c *Client) call(ctx context.Context, op, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("teemopay %s: %w", op, err)
	}
	nonce, err := NewNonce()
	if err != nil {
		return err
	}
	signed, err := SignBody(c.key, raw, nonce)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(signed))
	if err != nil {
		return fmt.Errorf("teemopay %s: %w", op, err)
	}
	// Header names are sent as TeemoPay writes them (app_code is not a
	// canonical MIME name).
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header[headerAppCode] = []string{c.appCode}
	req.Header[HeaderCountry] = []string{c.country}
	req.Header[HeaderNonce] = []string{nonce}
	req.Header[HeaderTimestamp] = []string{strconv.FormatInt(c.now().UnixMilli(), 10)}

	// The transport reports from its own goroutine whether any of the
	// request left: after that, a failure of a create is in doubt.
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }}
	if err := providers.Pace(ctx); err != nil {
		return fmt.Errorf("teemopay %s: %w", op, err)
	}
	resp, err := c.http.Do(req.WithContext(httptrace.WithClientTrace(ctx, trace)))
	if err != nil {
		return c.transportError(ctx, op, wrote.Load(), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return c.transportError(ctx, op, true, err)
	}
	if kind, ok := httpKind(op, resp.StatusCode); ok {
		e := apiError(op, resp.StatusCode, 0, http.StatusText(resp.StatusCode), kind)
		var env envelope
		if json.Unmarshal(data, &env) == nil && env.Code != 0 {
			e.Code, e.Message = strconv.Itoa(env.Code), env.Msg
		}
		if kind == providers.ErrRateLimited {
			e.RetryAfter = retryAfter(resp.Header, c.now())
		}
		return e
	}
	var env envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Code == 0 {
		kind := unknownKind(op)
		if resp.StatusCode >= 300 {
			// Not TeemoPay's answer (a proxy, a wrong base_url): nothing
			// reached the payout API.
			kind = providers.ErrUnavailable
		}
		return apiError(op, resp.StatusCode, 0, "answer is not a TeemoPay envelope", kind)
	}
	if env.Code != codeOK {
		e := apiError(op, resp.StatusCode, env.Code, env.Msg, envelopeKind(op, env.Code, env.Msg))
		if errors.Is(e.Kind, providers.ErrRateLimited) {
			e.RetryAfter = retryAfter(resp.Header, c.now())
		}
		return e
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return apiError(op, resp.StatusCode, env.Code, "success without data", unknownKind(op))
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return apiError(op, resp.StatusCode, env.Code, "data: "+err.Error(), unknownKind(op))
	}
	return nil
}

func (c *Client) transportError(ctx context.Context, op string, wrote bool, err error) error {
	if op == opSubmit && (wrote || ctx.Err() != nil) {
		return providers.InDoubt(Name, op, err)
	}
	return apiError(op, 0, 0, err.Error(), providers.ErrUnavailable)
}
