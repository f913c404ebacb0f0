package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/payrun/payrun/providers"
)

// Credentials are one sandbox merchant's keys. They are generated, never
// real.
type Credentials struct {
	MerchantID string
	APIKey     string
	APISecret  string
	// NotifierKey signs payout notifications; its public half is what
	// Monnet hands merchants as notifier.internal.monnet.io.crt.
	NotifierKey     *rsa.PrivateKey
	PayinMerchantID string
	PayinKey        string
}

// NewCredentials returns fresh credentials with a 2048-bit notifier key.
func NewCredentials() (Credentials, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{
		MerchantID: "1000", APIKey: randomHex(16), APISecret: randomB64(32), NotifierKey: key,
		PayinMerchantID: "674", PayinKey: randomHex(24),
	}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// PublicKeyPEM is the notifier's public key, PEM (PKIX).
func (c Credentials) PublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&c.NotifierKey.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// SignNotification returns the `verification` header Monnet would send
// with a payout notification body, for tests that post notifications of
// their own.
func (c Credentials) SignNotification(body []byte) (string, error) {
	return signNotification(c.NotifierKey, c.MerchantID, body)
}

// WriteFiles writes the secrets under dir (mode 0600) and returns a client
// configuration that refers to them with "file:" references, pointed at a
// sandbox served at baseURL (payouts and Payin on the same host). The
// references are absolute: a relative file: reference is read from the
// working directory, and the configuration must work from any.
func (c Credentials) WriteFiles(dir, baseURL string) (providers.Config, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return providers.Config{}, err
	}
	files := map[string][]byte{
		"monnet_api_key":      []byte(c.APIKey),
		"monnet_api_secret":   []byte(c.APISecret),
		"monnet_payin_key":    []byte(c.PayinKey),
		"monnet_notifier.pem": c.PublicKeyPEM(),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return providers.Config{}, fmt.Errorf("monnet sandbox credentials: %w", err)
		}
	}
	ref := func(name string) string { return "file:" + filepath.Join(dir, name) }
	return providers.Config{
		Enabled:           true,
		BaseURL:           baseURL,
		MerchantID:        c.MerchantID,
		APIKey:            ref("monnet_api_key"),
		APISecret:         ref("monnet_api_secret"),
		ProviderPublicKey: ref("monnet_notifier.pem"),
		Timeout:           10 * time.Second,
		Extra: map[string]string{
			"payin_base_url":    baseURL,
			"payin_merchant_id": c.PayinMerchantID,
			"payin_key":         ref("monnet_payin_key"),
			"payin_ok_url":      "https://merchant.example/payin/ok",
			"payin_error_url":   "https://merchant.example/payin/error",
			// Card methods need the payer's card in every request (the
			// back-to-back service), which payrun never holds.
			"payin_method":     "BankTransfer",
			"card_timeout_url": "https://merchant.example/payout/timeout",
		},
	}, nil
}
