package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"

	"github.com/payrun/payrun/providers"
)

// KeyBits is the size of generated keys: TeemoPay's guide asks for 1024.
const KeyBits = 1024

// Credentials are one sandbox merchant's: the app_code, the merchant's key
// pair (payrun signs requests with the private key; the sandbox verifies
// with the public one, as if uploaded in the back office) and the
// platform's key pair (the sandbox signs callbacks; payrun verifies with
// the public key). Test-only keys, generated, never real.
type Credentials struct {
	AppCode     string
	MerchantKey *rsa.PrivateKey
	PlatformKey *rsa.PrivateKey
}

// NewCredentials generates a fresh app code and two key pairs.
func NewCredentials() (Credentials, error) {
	mk, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return Credentials{}, fmt.Errorf("teemopay sandbox: merchant key: %w", err)
	}
	pk, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return Credentials{}, fmt.Errorf("teemopay sandbox: platform key: %w", err)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return Credentials{}, err
	}
	return Credentials{AppCode: "SBX" + hex.EncodeToString(b[:]), MerchantKey: mk, PlatformKey: pk}, nil
}

// File names WriteFiles uses under its directory.
const (
	MerchantKeyFile    = "teemopay_merchant_key.pem"
	PlatformPubKeyFile = "teemopay_platform_pub.pem"
)

// WriteFiles writes the merchant private key (PKCS#8) and the platform
// public key as PEM files (mode 0600) under dir and returns the client
// configuration pointing at them with "file:" references. They are
// absolute: a relative file: reference is read from the working
// directory, and the configuration must work from any.
func (c Credentials) WriteFiles(dir, baseURL string) (providers.Config, error) {
	if c.MerchantKey == nil || c.PlatformKey == nil {
		return providers.Config{}, fmt.Errorf("teemopay sandbox: credentials have no keys")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return providers.Config{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.MerchantKey)
	if err != nil {
		return providers.Config{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&c.PlatformKey.PublicKey)
	if err != nil {
		return providers.Config{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return providers.Config{}, err
	}
	keyPath := filepath.Join(dir, MerchantKeyFile)
	pubPath := filepath.Join(dir, PlatformPubKeyFile)
	if err := writePEM(keyPath, "PRIVATE KEY", der); err != nil {
		return providers.Config{}, err
	}
	if err := writePEM(pubPath, "PUBLIC KEY", pub); err != nil {
		return providers.Config{}, err
	}
	return providers.Config{
		Enabled:           true,
		BaseURL:           baseURL,
		MerchantID:        c.AppCode,
		PrivateKey:        "file:" + keyPath,
		ProviderPublicKey: "file:" + pubPath,
	}, nil
}

func writePEM(path, typ string, der []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := pem.Encode(f, &pem.Block{Type: typ, Bytes: der}); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, 0o600) // an existing file keeps its old mode otherwise
}
