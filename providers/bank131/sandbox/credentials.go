package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/payrun/payrun/providers"
)

// Credentials are one sandbox instance's test keys: the project name
// (X-PARTNER-PROJECT), the merchant's key pair (payrun signs requests with
// the private half, the sandbox verifies with the public half) and the
// provider's key pair (the sandbox signs webhooks, payrun verifies). They
// are generated at test time and are never real credentials.
type Credentials struct {
	Project     string
	MerchantKey *rsa.PrivateKey
	ProviderKey *rsa.PrivateKey
}

// NewCredentials generates a project name and two RSA 2048 key pairs. Key
// generation takes a noticeable fraction of a second: tests make one set per
// test binary.
func NewCredentials() (Credentials, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Credentials{}, err
	}
	mk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Credentials{}, err
	}
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{Project: "payrun_sandbox_" + hex.EncodeToString(b[:]), MerchantKey: mk, ProviderKey: pk}, nil
}

func (c Credentials) valid() bool {
	return c.Project != "" && c.MerchantKey != nil && c.ProviderKey != nil
}

// WriteFiles writes the PEM files payrun's configuration points at, each
// with mode 0600, under dir: merchant_private.pem (PKCS#8),
// merchant_public.pem (what one would register with the provider) and
// provider_public.pem. It returns a providers.Config for baseURL whose key
// fields are "file:" references.
func (c Credentials) WriteFiles(dir, baseURL string) (providers.Config, error) {
	if !c.valid() {
		return providers.Config{}, errors.New("sandbox credentials are incomplete")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return providers.Config{}, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return providers.Config{}, err
	}
	priv, err := x509.MarshalPKCS8PrivateKey(c.MerchantKey)
	if err != nil {
		return providers.Config{}, err
	}
	mpub, err := x509.MarshalPKIXPublicKey(&c.MerchantKey.PublicKey)
	if err != nil {
		return providers.Config{}, err
	}
	ppub, err := x509.MarshalPKIXPublicKey(&c.ProviderKey.PublicKey)
	if err != nil {
		return providers.Config{}, err
	}
	files := []struct {
		name, typ string
		der       []byte
	}{
		{"merchant_private.pem", "PRIVATE KEY", priv},
		{"merchant_public.pem", "PUBLIC KEY", mpub},
		{"provider_public.pem", "PUBLIC KEY", ppub},
	}
	for _, f := range files {
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(filepath.Join(abs, f.name), data, 0o600); err != nil {
			return providers.Config{}, fmt.Errorf("sandbox credentials: %w", err)
		}
	}
	return providers.Config{
		Enabled:           true,
		BaseURL:           baseURL,
		MerchantID:        c.Project,
		PrivateKey:        "file:" + filepath.Join(abs, "merchant_private.pem"),
		ProviderPublicKey: "file:" + filepath.Join(abs, "provider_public.pem"),
		Extra:             map[string]string{"api_version": "v1", "widget_url": strings.TrimRight(baseURL, "/") + WidgetScriptPath},
	}, nil
}
