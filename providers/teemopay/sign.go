package teemopay

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// signedString returns the string TeemoPay signs for a JSON body and the
// nonce header (PROVIDERS.md 3.1): every top-level field except "sign",
// without nulls and blank strings, keys in ASCII order, joined as
// k1=v1&k2=v2, then "&nonce=<nonce>". Values are their JSON text (numbers
// keep their exact digits: the body is decoded with UseNumber), strings
// unquoted. Nested objects and arrays, which no TeemoPay payout message
// carries, are written as compact JSON [I]. It also returns the body's
// "sign" value, for verification.
func signedString(body []byte, nonce string) (str, sign string, err error) {
	fields, err := decodeFields(body)
	if err != nil {
		return "", "", err
	}
	if s, ok := fields["sign"].(string); ok {
		sign = s
	}
	return signingString(fields, nonce), sign, nil
}

func decodeFields(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil {
		return nil, fmt.Errorf("teemopay: body is not a JSON object: %w", err)
	}
	if fields == nil {
		return nil, errors.New("teemopay: body is not a JSON object")
	}
	return fields, nil
}

func signingString(fields map[string]any, nonce string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != "sign" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // byte order: ASCII ascending, as Java's TreeMap
	var b strings.Builder
	for _, k := range keys {
		v, ok := fieldText(fields[k])
		if !ok {
			continue
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
		b.WriteByte('&')
	}
	b.WriteString("nonce=")
	b.WriteString(nonce)
	return b.String()
}

// fieldText is a value as the Java reference code's toString writes it, and
// false for what it skips (null, blank strings).
func fieldText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		if strings.TrimSpace(x) == "" {
			return "", false
		}
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return "", false
		}
		return string(b), true
	}
}

// signString returns base64(SHA1withRSA(key, s)), PKCS#1 v1.5.
func signString(key *rsa.PrivateKey, s string) (string, error) {
	h := sha1.Sum([]byte(s))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA1, h[:])
	if err != nil {
		return "", fmt.Errorf("teemopay: sign: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// verifyString checks a base64 SHA1withRSA signature of s.
func verifyString(pub *rsa.PublicKey, s, sign string) error {
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sign))
	if err != nil {
		return errors.New("sign is not base64")
	}
	h := sha1.Sum([]byte(s))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA1, h[:], sig)
}

// SignBody returns body (a JSON object without "sign") with its "sign"
// field added, signed with key for the given nonce.
func SignBody(key *rsa.PrivateKey, body []byte, nonce string) ([]byte, error) {
	str, _, err := signedString(body, nonce)
	if err != nil {
		return nil, err
	}
	sig, err := signString(key, str)
	if err != nil {
		return nil, err
	}
	return appendSign(body, sig)
}

// appendSign adds "sign" as the last field of a JSON object, keeping the
// other bytes as they are.
func appendSign(body []byte, sig string) ([]byte, error) {
	body = bytes.TrimSpace(body)
	if len(body) < 2 || body[0] != '{' || body[len(body)-1] != '}' {
		return nil, errors.New("teemopay: body is not a JSON object")
	}
	q, _ := json.Marshal(sig)
	out := make([]byte, 0, len(body)+len(q)+9)
	out = append(out, body[:len(body)-1]...)
	if len(bytes.TrimSpace(body[1:len(body)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"sign":`...)
	out = append(out, q...)
	return append(out, '}'), nil
}

// verifyBody checks the "sign" field of a JSON body against the nonce with
// the signer's public key.
func verifyBody(pub *rsa.PublicKey, body []byte, nonce string) error {
	str, sign, err := signedString(body, nonce)
	if err != nil {
		return err
	}
	if sign == "" {
		return errors.New("teemopay: body has no sign")
	}
	return verifyString(pub, str, sign)
}

// NewNonce returns a fresh 32-character nonce from crypto/rand.
func NewNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("teemopay: nonce: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// parsePrivateKey reads an RSA private key: PEM PKCS#8 ("PRIVATE KEY", what
// TeemoPay's key guide produces) or PKCS#1 ("RSA PRIVATE KEY"), or the bare
// base64 PKCS#8 text that TeemoPay's back office and Java tools use.
func parsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	der, err := keyDER(data, "PRIVATE KEY", "RSA PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("teemopay: private key is not RSA")
		}
		return rk, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("teemopay: private key is neither PKCS#8 nor PKCS#1 RSA")
}

// parsePublicKey reads an RSA public key: PEM "PUBLIC KEY" (PKIX), "RSA
// PUBLIC KEY" (PKCS#1), a certificate, or bare base64 PKIX DER (the form the
// back office shows the platform public key in).
func parsePublicKey(data []byte) (*rsa.PublicKey, error) {
	der, err := keyDER(data, "PUBLIC KEY", "RSA PUBLIC KEY", "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("teemopay: public key is not RSA")
		}
		return rk, nil
	}
	if k, err := x509.ParsePKCS1PublicKey(der); err == nil {
		return k, nil
	}
	if c, err := x509.ParseCertificate(der); err == nil {
		if rk, ok := c.PublicKey.(*rsa.PublicKey); ok {
			return rk, nil
		}
		return nil, errors.New("teemopay: certificate key is not RSA")
	}
	return nil, errors.New("teemopay: public key is neither PKIX, PKCS#1 nor a certificate")
}

func keyDER(data []byte, types ...string) ([]byte, error) {
	data = bytes.TrimSpace(data)
	if block, _ := pem.Decode(data); block != nil {
		for _, t := range types {
			if block.Type == t {
				return block.Bytes, nil
			}
		}
		return nil, fmt.Errorf("teemopay: unexpected PEM block %q", block.Type)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(data)), ""))
	if err != nil || len(der) == 0 {
		return nil, errors.New("teemopay: key is neither PEM nor base64 DER")
	}
	return der, nil
}
