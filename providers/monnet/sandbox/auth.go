package sandbox

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"strconv"
)

// Monnet's authentication, as the sandbox checks and produces it, written
// from PROVIDERS.md 1.2, 1.5 and 2 (and checked against the HMAC page's two
// worked examples in auth_test.go).

// requestSignature is hex(HMAC-SHA256(secret, METHOD + ":" + resourcePath +
// "?timestamp=" + ts + ":" + hex(SHA-256(body)))). The secret is its literal
// bytes.
func requestSignature(secret, method, resourcePath, timestamp string, body []byte) string {
	sum := sha256.Sum256(body)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(method + ":" + resourcePath + "?timestamp=" + timestamp + ":" + hex.EncodeToString(sum[:])))
	return hex.EncodeToString(m.Sum(nil))
}

// validRequestSignature checks a request's signature query parameter in
// constant time. timestamp must be an integer (milliseconds, as the
// examples show); Monnet documents no window, so none is enforced.
func validRequestSignature(secret, method, resourcePath, timestamp string, body []byte, signature string) bool {
	if _, err := strconv.ParseInt(timestamp, 10, 64); err != nil {
		return false
	}
	want := requestSignature(secret, method, resourcePath, timestamp, body)
	return hmac.Equal([]byte(want), []byte(signature))
}

// signNotification is a payout notification's `verification` header:
// base64(RSASSA-PKCS1-v1_5 SHA-256 over merchantId + raw body).
func signNotification(key *rsa.PrivateKey, merchantID string, body []byte) (string, error) {
	h := sha256.New()
	h.Write([]byte(merchantID))
	h.Write(body)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, h.Sum(nil))
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// payinVerification is lowercase hex(SHA-512(merchantID + operationNumber
// + amount + currency + key)), each value as written in the message.
func payinVerification(merchantID, operationNumber, amount, currency, key string) string {
	sum := sha512.Sum512([]byte(merchantID + operationNumber + amount + currency + key))
	return hex.EncodeToString(sum[:])
}

// payinAuthorization is the Payin status query's authorization header:
// SHA-256 of merchantID + key, as lowercase hex (the encoding is not
// documented; docs/PROVIDER_GUESSES.md).
func payinAuthorization(merchantID, key string) string {
	sum := sha256.Sum256([]byte(merchantID + key))
	return hex.EncodeToString(sum[:])
}
