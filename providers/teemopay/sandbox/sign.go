package sandbox

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
)

// TeemoPay's signature, as the platform checks and produces it, written
// from PROVIDERS.md 3.1 (TeemoPay's authentication guide and its Java
// reference code): take the body's fields except sign, drop nulls and
// blank strings, sort the keys in ASCII order, join as k1=v1&k2=v2, append
// &nonce=<nonce header>, and sign the UTF-8 bytes with SHA1withRSA,
// base64.

// stringToSign builds the signed string of a JSON object body and returns
// the body's sign value beside it. Values are written as Java's toString
// writes them: strings as they are, numbers as their JSON text.
func stringToSign(body []byte, nonce string) (string, string, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var fields map[string]any
	if err := dec.Decode(&fields); err != nil || fields == nil {
		return "", "", errors.New("body is not a JSON object")
	}
	sig, _ := fields["sign"].(string)
	keys := make([]string, 0, len(fields))
	for k, v := range fields {
		if k == "sign" || v == nil {
			continue
		}
		if s, ok := v.(string); ok && strings.TrimSpace(s) == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		switch v := fields[k].(type) {
		case string:
			b.WriteString(v)
		case json.Number:
			b.WriteString(v.String())
		default:
			// Booleans, objects and arrays: no payout message has them.
			j, _ := json.Marshal(v)
			b.Write(j)
		}
		b.WriteByte('&')
	}
	b.WriteString("nonce=")
	b.WriteString(nonce)
	return b.String(), sig, nil
}

// verifyBody checks a body's sign with the merchant's public key.
func verifyBody(pub *rsa.PublicKey, body []byte, nonce string) error {
	str, sig, err := stringToSign(body, nonce)
	if err != nil {
		return err
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || sig == "" {
		return errors.New("sign is missing or not base64")
	}
	h := sha1.Sum([]byte(str))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA1, h[:], raw)
}

// signCallback returns a callback body (a JSON object without sign) with
// its sign added last, signed with the platform's key for nonce.
func signCallback(key *rsa.PrivateKey, body []byte, nonce string) ([]byte, error) {
	str, _, err := stringToSign(body, nonce)
	if err != nil {
		return nil, err
	}
	h := sha1.Sum([]byte(str))
	raw, err := rsa.SignPKCS1v15(nil, key, crypto.SHA1, h[:])
	if err != nil {
		return nil, err
	}
	q, _ := json.Marshal(base64.StdEncoding.EncodeToString(raw))
	body = bytes.TrimSpace(body)
	out := append([]byte(nil), body[:len(body)-1]...)
	if len(bytes.TrimSpace(body[1:len(body)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"sign":`...)
	out = append(out, q...)
	return append(out, '}'), nil
}

// newNonce is 32 random hex characters, as TeemoPay's nonces.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
