package bank131

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
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/payrun/payrun/providers"
)

// Registration names.
const (
	NameBank131     = "bank131"
	NameSmartGlocal = "smartglocal"
)

// Hosts of the two providers (PROVIDERS.md 4.1). The config must name one:
// there is no silent default, so that a demo host is never used by mistake
// in production, nor production from a test.
const (
	Bank131DemoURL     = "https://demo.bank131.ru"
	Bank131LiveURL     = "https://proxy.bank131.ru"
	SmartGlocalDemoURL = "https://demo.smart-glocal.com"
	SmartGlocalLiveURL = "https://proxy.smart-glocal.com"
)

// DefaultAPIVersion is the path version payrun speaks. Bank 131's PHP SDK
// defaults its session API to v2 (with setToV1()); both providers document
// the session methods under /api/v1/, which is what payrun uses unless
// Config.Extra["api_version"] says otherwise.
const DefaultAPIVersion = "v1"

const maxResponse = 1 << 20

// Client is a session-API client for Bank 131 or Smart Glocal. It is safe
// for concurrent use.
type Client struct {
	name     string
	base     string // scheme://host/api/v1/
	project  string
	key      *rsa.PrivateKey
	provider *rsa.PublicKey
	http     *http.Client
	clock    func() time.Time
	pci      bool
	// Card collection through the provider's widget (collect.go).
	widgetURL      string
	widgetLifetime time.Duration
	// initPayout: one call (session/init/payout) instead of two.
	initPayout bool
}

var (
	_ providers.Provider      = (*Client)(nil)
	_ providers.Confirmer     = (*Client)(nil)
	_ providers.LinkLifetimer = (*Client)(nil)
)

// Bank131Registration describes Bank 131 (demo host Bank131DemoURL; the
// config must set base_url).
func Bank131Registration() providers.Registration {
	return registration(NameBank131, "Bank 131 card payouts (session API, two-phase)")
}

// SmartGlocalRegistration describes Smart Glocal, whose API mirrors Bank
// 131's (demo host SmartGlocalDemoURL; the config must set base_url).
func SmartGlocalRegistration() providers.Registration {
	return registration(NameSmartGlocal, "Smart Glocal card payouts (session API, two-phase)")
}

func registration(name, desc string) providers.Registration {
	return providers.Registration{
		Name:        name,
		Description: desc,
		Rules:       rulesOf(name),
		Sandbox:     newSandbox,
		New: func(cfg providers.Config, deps providers.Deps) (providers.Provider, error) {
			return NewNamed(name, cfg, deps)
		},
	}
}

// capabilities: a session is found by its id only; a repeated idempotency
// key is refused (idempotency_key_already_exists). Confirm makes it
// two-phase. Smart Glocal adds SilentReversals (Client.Capabilities).
var capabilities = providers.Capabilities{LookupByReference: false, DuplicateRefused: true}

// New returns a Bank 131 client. NewNamed builds the Smart Glocal one.
func New(cfg providers.Config, deps providers.Deps) (*Client, error) {
	return NewNamed(NameBank131, cfg, deps)
}

// NewNamed returns a client that calls itself name ("bank131" or
// "smartglocal"). Config: base_url (required), merchant_id (the
// X-PARTNER-PROJECT), private_key (our PEM key, a secret reference),
// provider_public_key (the provider's PEM key or certificate, a secret
// reference or an inline PEM, since it is public), extra.api_version
// ("v1" by default), pci_certified (allows SubmitCard),
// extra.widget_url (the tokenization widget's script, for card collection),
// extra.widget_token_lifetime (a duration; DefaultWidgetTokenLifetime when
// unset) and extra.init_payout ("true": one session/init/payout call;
// "false": session/create then session/start/payout; by default true for
// Smart Glocal, false for Bank 131).
func NewNamed(name string, cfg providers.Config, deps providers.Deps) (*Client, error) {
	if name != NameBank131 && name != NameSmartGlocal {
		return nil, fmt.Errorf("bank131: unknown provider name %q", name)
	}
	if cfg.BaseURL == "" {
		demo := Bank131DemoURL
		if name == NameSmartGlocal {
			demo = SmartGlocalDemoURL
		}
		return nil, fmt.Errorf("%s: base_url is required (demo host: %s)", name, demo)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s: base_url %q is not an http(s) URL", name, cfg.BaseURL)
	}
	if cfg.MerchantID == "" {
		return nil, fmt.Errorf("%s: merchant_id (X-PARTNER-PROJECT) is required", name)
	}
	version := DefaultAPIVersion
	if v := cfg.Extra["api_version"]; v != "" {
		version = v
		if !strings.HasPrefix(version, "v") {
			version = "v" + version
		}
		if version != "v1" && version != "v2" {
			return nil, fmt.Errorf("%s: extra.api_version %q: want v1 or v2", name, v)
		}
	}
	pk, err := providers.Secret(cfg.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%s: private_key: %w", name, err)
	}
	key, err := ParsePrivateKey(pk)
	if err != nil {
		return nil, fmt.Errorf("%s: private_key: %w", name, err)
	}
	var pubPEM []byte
	if strings.HasPrefix(strings.TrimSpace(cfg.ProviderPublicKey), "-----BEGIN") {
		pubPEM = []byte(cfg.ProviderPublicKey)
	} else if pubPEM, err = providers.Secret(cfg.ProviderPublicKey); err != nil {
		return nil, fmt.Errorf("%s: provider_public_key: %w", name, err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		return nil, fmt.Errorf("%s: provider_public_key: %w", name, err)
	}
	widgetURL := strings.TrimSpace(cfg.Extra["widget_url"])
	if widgetURL != "" {
		w, err := url.Parse(widgetURL)
		if err != nil || (w.Scheme != "https" && w.Scheme != "http") || w.Host == "" {
			return nil, fmt.Errorf("%s: extra.widget_url %q is not an http(s) URL", name, widgetURL)
		}
	}
	lifetime := DefaultWidgetTokenLifetime
	if v := strings.TrimSpace(cfg.Extra["widget_token_lifetime"]); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("%s: extra.widget_token_lifetime %q is not a positive duration (such as 30m or 24h)", name, v)
		}
		lifetime = d
	}
	initPayout := name == NameSmartGlocal
	if v := strings.TrimSpace(cfg.Extra["init_payout"]); v != "" {
		switch strings.ToLower(v) {
		case "true", "yes":
			initPayout = true
		case "false", "no":
			initPayout = false
		default:
			return nil, fmt.Errorf("%s: extra.init_payout %q: want true or false", name, v)
		}
	}
	hc := deps.HTTP
	if hc == nil {
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		hc = &http.Client{Timeout: timeout}
	}
	return &Client{
		name:     name,
		base:     strings.TrimRight(cfg.BaseURL, "/") + "/api/" + version + "/",
		project:  cfg.MerchantID,
		key:      key,
		provider: pub,
		http:     hc,
		clock:    deps.Now,
		pci:      cfg.PCICertified,

		widgetURL:      widgetURL,
		widgetLifetime: lifetime,
		initPayout:     initPayout,
	}, nil
}

// Name returns "bank131" or "smartglocal".
func (c *Client) Name() string { return c.name }

// Capabilities says what the provider can do. Smart Glocal refunds
// payouts manually and tells nobody (PROVIDERS.md 4.5: only session/status
// shows the refund); Bank 131 sends payment_refunded.
func (c *Client) Capabilities() providers.Capabilities {
	caps := capabilities
	caps.SilentReversals = c.name == NameSmartGlocal
	return caps
}

// call sends one signed request and decodes the answer. idemKey, when set,
// goes in X-PARTNER-IDEMPOTENCY-KEY. mutating marks requests that can
// change state at the provider: their transport failures after the request
// was written are in doubt.
func (c *Client) call(ctx context.Context, op, method, idemKey string, mutating bool, in any) (*response, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encode: %w", c.name, op, err)
	}
	sign, err := Sign(c.key, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: sign: %w", c.name, op, err)
	}
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote.Store(true) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.base+method, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.name, op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-PARTNER-PROJECT", c.project)
	req.Header.Set("X-PARTNER-SIGN", sign)
	if idemKey != "" {
		req.Header.Set("X-PARTNER-IDEMPOTENCY-KEY", idemKey)
	}
	if err := providers.Pace(ctx); err != nil {
		return nil, fmt.Errorf("%s %s: %w", c.name, op, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(op, err, mutating && wrote.Load())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, c.transportError(op, err, mutating)
	}
	var out response
	jerr := json.Unmarshal(raw, &out)
	if resp.StatusCode >= 400 || out.Status == "error" {
		if jerr != nil {
			out.Error = nil
		}
		return nil, c.apiError(op, resp.StatusCode, resp.Header, out.Error, mutating)
	}
	if jerr != nil || out.Status != "ok" {
		// A 2xx we cannot read: the request was processed, its result unknown.
		msg := fmt.Errorf("unreadable answer (HTTP %d)", resp.StatusCode)
		if mutating {
			return nil, providers.InDoubt(c.name, op, msg)
		}
		return nil, &providers.APIError{Provider: c.name, Op: op, HTTPStatus: resp.StatusCode, Message: msg.Error(), Kind: providers.ErrUnavailable}
	}
	return &out, nil
}

// transportError classifies a failure without an answer. A request that
// was never completely written cannot have been processed; one that was
// (or whose fate is unknown) is in doubt when it could change state.
func (c *Client) transportError(op string, err error, maybeProcessed bool) error {
	if maybeProcessed {
		return providers.InDoubt(c.name, op, err)
	}
	return &providers.APIError{Provider: c.name, Op: op, Message: redactURL(err), Kind: providers.ErrUnavailable}
}

// redactURL drops the URL from *url.Error messages, keeping the cause.
func redactURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + ": " + ue.Err.Error()
	}
	return err.Error()
}
