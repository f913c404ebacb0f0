package teemopay

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/providers"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The fixtures were made with the openssl CLI by testdata/gen_fixtures.sh:
// the strings are written by hand from PROVIDERS.md 3.1 and signed with
// `openssl dgst -sha1 -sign`, so these tests check our code against an
// independent implementation.
func TestSigningStringMatchesDocumentedRule(t *testing.T) {
	body := readFixture(t, "create_body.json")
	nonce := string(readFixture(t, "create_nonce.txt"))
	got, _, err := signedString(body, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(readFixture(t, "create_string.txt")); got != want {
		t.Fatalf("signing string\n got %s\nwant %s", got, want)
	}
}

func TestSignMatchesOpenSSL(t *testing.T) {
	key, err := parsePrivateKey(readFixture(t, "merchant_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body := readFixture(t, "create_body.json")
	nonce := string(readFixture(t, "create_nonce.txt"))
	signed, err := SignBody(key, body, nonce)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(signed, &m); err != nil {
		t.Fatalf("signed body is not JSON: %v\n%s", err, signed)
	}
	// PKCS#1 v1.5 is deterministic: the same key and string give openssl's bytes.
	if want := strings.TrimSpace(string(readFixture(t, "create_sign.txt"))); m["sign"] != want {
		t.Fatalf("sign\n got %v\nwant %s", m["sign"], want)
	}
	pub, err := parsePublicKey(readFixture(t, "merchant_pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyBody(pub, signed, nonce); err != nil {
		t.Fatalf("own signature does not verify: %v", err)
	}
	if err := verifyBody(pub, signed, "another-nonce"); err == nil {
		t.Fatal("signature verified with another nonce")
	}
}

func TestVerifyOpenSSLCallback(t *testing.T) {
	pub, err := parsePublicKey(readFixture(t, "platform_pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body := readFixture(t, "callback_body.json")
	nonce := string(readFixture(t, "callback_nonce.txt"))
	str, _, err := signedString(body, nonce)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(readFixture(t, "callback_string.txt")); str != want {
		t.Fatalf("callback signing string\n got %s\nwant %s", str, want)
	}
	if err := verifyBody(pub, body, nonce); err != nil {
		t.Fatalf("openssl signature refused: %v", err)
	}
	tampered := []byte(strings.Replace(string(body), `"1000.00"`, `"9000.00"`, 1))
	if err := verifyBody(pub, tampered, nonce); err == nil {
		t.Fatal("tampered amount verified")
	}
	other, err := parsePublicKey(readFixture(t, "merchant_pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := verifyBody(other, body, nonce); err == nil {
		t.Fatal("verified with the wrong public key")
	}
}

func TestSigningStringValues(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"sorted ascii, uppercase first", `{"b":"2","a":"1","B":"3"}`, "B=3&a=1&b=2&nonce=n"},
		{"numbers keep their text", `{"amount":100.50,"n":1e3,"accountType":101}`, "accountType=101&amount=100.50&n=1e3&nonce=n"},
		{"nulls and blanks skipped", `{"a":null,"b":"","c":"  ","d":"x"}`, "d=x&nonce=n"},
		{"sign excluded", `{"sign":"abc","a":"1"}`, "a=1&nonce=n"},
		{"booleans", `{"t":true,"f":false}`, "f=false&t=true&nonce=n"},
		{"strings unescaped", `{"u":"https://x/y?a=1&b=\u00e9"}`, "u=https://x/y?a=1&b=é&nonce=n"},
		{"empty object", `{}`, "nonce=n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := signedString([]byte(tt.body), "n")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %q want %q", got, tt.want)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `null`, `"x"`} {
		if _, _, err := signedString([]byte(bad), "n"); err == nil {
			t.Errorf("signedString(%q) accepted", bad)
		}
	}
}

func TestAppendSign(t *testing.T) {
	for body, want := range map[string]string{
		`{}`:        `{"sign":"s"}`,
		`{"a":1}`:   `{"a":1,"sign":"s"}`,
		` {"a":1} `: `{"a":1,"sign":"s"}`,
	} {
		got, err := appendSign([]byte(body), "s")
		if err != nil || string(got) != want {
			t.Errorf("appendSign(%s) = %s, %v; want %s", body, got, err, want)
		}
	}
}

func TestNonce(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		n, err := NewNonce()
		if err != nil {
			t.Fatal(err)
		}
		if len(n) != 32 || seen[n] {
			t.Fatalf("nonce %q: length %d, seen before %v", n, len(n), seen[n])
		}
		seen[n] = true
	}
}

func TestParseKeysBareBase64(t *testing.T) {
	// TeemoPay's back office shows keys as bare base64 without PEM armour.
	strip := func(pemText []byte) []byte {
		var lines []string
		for _, l := range strings.Split(string(pemText), "\n") {
			if !strings.HasPrefix(l, "-----") {
				lines = append(lines, l)
			}
		}
		return []byte(strings.Join(lines, ""))
	}
	if _, err := parsePrivateKey(strip(readFixture(t, "merchant_key.pem"))); err != nil {
		t.Errorf("bare private key: %v", err)
	}
	if _, err := parsePublicKey(strip(readFixture(t, "platform_pub.pem"))); err != nil {
		t.Errorf("bare public key: %v", err)
	}
	if _, err := parsePrivateKey(readFixture(t, "platform_pub.pem")); err == nil {
		t.Error("a public key parsed as private")
	}
}

func BenchmarkSign(b *testing.B) {
	key, err := parsePrivateKey(readFixture(b, "merchant_key.pem"))
	if err != nil {
		b.Fatal(err)
	}
	body := readFixture(b, "create_body.json")
	nonce := string(readFixture(b, "create_nonce.txt"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SignBody(key, body, nonce); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCallback is ParseWebhook on TeemoPay's callback signed by
// openssl: decode, rebuild the string, verify SHA1withRSA, map the event.
func BenchmarkVerifyCallback(b *testing.B) {
	pub, err := parsePublicKey(readFixture(b, "platform_pub.pem"))
	if err != nil {
		b.Fatal(err)
	}
	c := &Client{appCode: "APP", platform: pub}
	h := http.Header{}
	h.Set(HeaderNonce, string(readFixture(b, "callback_nonce.txt")))
	req := providers.WebhookRequest{Header: h, Body: readFixture(b, "callback_body.json")}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ParseWebhook(req); err != nil {
			b.Fatal(err)
		}
	}
}
