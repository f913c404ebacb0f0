package monnet

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
)

// bodyHash is hex(SHA-256(body)), lowercase; the empty body hashes to
// e3b0c442...b855 (PROVIDERS.md 1.2).
func bodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// stringToSign is "{METHOD}:{resourcePath}?timestamp={ts}:{bodyHash}";
// note there is no ':' between the path and "?timestamp".
func stringToSign(method, resourcePath string, timestampMillis int64, body []byte) string {
	return method + ":" + resourcePath + "?timestamp=" + strconv.FormatInt(timestampMillis, 10) + ":" + bodyHash(body)
}

// sign returns the request signature: hex(HMAC-SHA256(secret, stringToSign)).
// The secret is used as its literal bytes, never base64-decoded: both
// documented test vectors only reproduce that way.
func sign(secret []byte, method, resourcePath string, timestampMillis int64, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(stringToSign(method, resourcePath, timestampMillis, body)))
	return hex.EncodeToString(m.Sum(nil))
}

// payinVerification is lowercase hex(SHA-512(merchantID + operationNumber +
// amount + currency + key)), every value exactly as sent or received.
func payinVerification(merchantID, operationNumber, amount, currency string, key []byte) string {
	h := sha512.New()
	h.Write([]byte(merchantID))
	h.Write([]byte(operationNumber))
	h.Write([]byte(amount))
	h.Write([]byte(currency))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil))
}

// payinAuthorization is the status query's authorization header:
// hex(SHA-256(merchantID + key)). The docs do not say hex or base64, nor the
// case; lowercase hex is our reading (PROVIDERS.md 2, gap).
func payinAuthorization(merchantID string, key []byte) string {
	h := sha256.New()
	h.Write([]byte(merchantID))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil))
}

// notificationDigest is SHA-256 over merchantId + raw body, the message of
// a payout notification's RSA signature.
func notificationDigest(merchantID string, body []byte) []byte {
	h := sha256.New()
	h.Write([]byte(merchantID))
	h.Write(body)
	return h.Sum(nil)
}

// SignNotification returns the `verification` header of a payout
// notification: base64(RSASSA-PKCS1-v1_5(SHA-256(merchantId + body))).
// Monnet signs and payrun only verifies; tests that post notifications of
// their own (reconcile's) sign with it.
func SignNotification(key *rsa.PrivateKey, merchantID string, body []byte) (string, error) {
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, notificationDigest(merchantID, body))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// verifyNotification checks a payout notification's `verification` header.
func verifyNotification(pub *rsa.PublicKey, merchantID string, body []byte, verification string) error {
	if verification == "" {
		return errors.New("missing verification header")
	}
	sig, err := base64.StdEncoding.DecodeString(verification)
	if err != nil {
		return fmt.Errorf("verification header is not base64: %w", err)
	}
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, notificationDigest(merchantID, body), sig)
}

// parsePublicKey reads Monnet's notifier key from PEM: a certificate (as
// Monnet distributes notifier.internal.monnet.io.crt), a PKIX public key or
// a PKCS#1 public key.
func parsePublicKey(pemBytes []byte) (*rsa.PublicKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("provider public key: no PEM block")
	}
	var key any
	switch block.Type {
	case "CERTIFICATE":
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("provider certificate: %w", err)
		}
		key = cert.PublicKey
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("provider public key: %w", err)
		}
		key = k
	default:
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("provider public key: %w", err)
		}
		key = k
	}
	rk, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("provider public key is %T, want RSA", key)
	}
	return rk, nil
}
