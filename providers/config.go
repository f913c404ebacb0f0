package providers

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Config is one provider's configuration as it appears under
// `providers.<name>` in payrun's YAML. Secret fields hold references
// ("env:NAME" or "file:PATH"), never the secret itself; Secret resolves them.
type Config struct {
	Enabled bool   `yaml:"enabled" json:"enabled"`
	BaseURL string `yaml:"base_url" json:"base_url"`
	// MerchantID is Monnet's merchantId, TeemoPay's app_code, Bank 131's
	// X-PARTNER-PROJECT.
	MerchantID string `yaml:"merchant_id" json:"merchant_id"`
	// APIKey and APISecret are Monnet's monnet-api-key and HMAC secret.
	APIKey    string `yaml:"api_key" json:"api_key"`
	APISecret string `yaml:"api_secret" json:"api_secret"`
	// PrivateKey is our PEM private key (TeemoPay, Bank 131 signing).
	PrivateKey string `yaml:"private_key" json:"private_key"`
	// ProviderPublicKey is the provider's PEM public key or certificate, for
	// webhook verification.
	ProviderPublicKey string `yaml:"provider_public_key" json:"provider_public_key"`
	// CallbackURL is where the provider should send notifications, when the
	// provider takes it per request (TeemoPay, Monnet Payin).
	CallbackURL string `yaml:"callback_url" json:"callback_url"`
	// PCICertified allows raw card numbers (never journaled or logged).
	PCICertified bool `yaml:"pci_certified" json:"pci_certified"`
	// Timeout bounds one HTTP request (default 30s).
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// Extra holds provider-specific settings (Monnet Payin's host, merchant
	// id and key; TeemoPay's country). Values that are secrets are references.
	Extra map[string]string `yaml:"extra" json:"extra"`
	// Rate limits, used by the dispatcher, not by the client.
	RatePerSecond float64 `yaml:"rate_per_second" json:"rate_per_second"`
	Burst         int     `yaml:"burst" json:"burst"`
	Concurrency   int     `yaml:"concurrency" json:"concurrency"`
}

// ErrLiteralSecret is returned for a secret written into the config itself.
var ErrLiteralSecret = errors.New(`secrets must be references: "env:NAME" or "file:PATH"`)

// Secret resolves a secret reference: "env:NAME" reads the environment,
// "file:PATH" reads a file (trailing newlines trimmed). Anything else is
// refused, so a secret pasted into the config never works by accident.
func Secret(ref string) ([]byte, error) {
	switch {
	case ref == "":
		return nil, errors.New("secret reference is empty")
	case strings.HasPrefix(ref, "env:"):
		name := strings.TrimPrefix(ref, "env:")
		v, ok := os.LookupEnv(name)
		if !ok || v == "" {
			return nil, fmt.Errorf("environment variable %s is not set", name)
		}
		return []byte(v), nil
	case strings.HasPrefix(ref, "file:"):
		path := strings.TrimPrefix(ref, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("secret file: %w", err)
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	return nil, ErrLiteralSecret
}

// IsSecretRef reports whether s is a well-formed secret reference.
func IsSecretRef(s string) bool {
	return strings.HasPrefix(s, "env:") || strings.HasPrefix(s, "file:")
}
