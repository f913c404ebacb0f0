package sandbox

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The openssl fixtures of the client's testdata (gen_fixtures.sh writes
// the signed strings by hand from PROVIDERS.md 3.1 and signs them with the
// openssl CLI): the sandbox's own signing must agree with them, not with
// the client's code.
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(string(b), "\n")
}

func TestStringToSignAgainstFixtures(t *testing.T) {
	for _, c := range []struct{ body, nonce, str string }{
		{"create_body.json", "create_nonce.txt", "create_string.txt"},
		{"callback_body.json", "callback_nonce.txt", "callback_string.txt"},
	} {
		got, _, err := stringToSign([]byte(fixture(t, c.body)), fixture(t, c.nonce))
		if err != nil || got != fixture(t, c.str) {
			t.Errorf("%s: %q (%v), want %q", c.body, got, err, fixture(t, c.str))
		}
	}
}

func TestVerifyBodyAgainstOpenSSL(t *testing.T) {
	pubPEM := fixture(t, "platform_pub.pem")
	block, _ := pem.Decode([]byte(pubPEM))
	rsaPub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	body := fixture(t, "callback_body.json")
	nonce := fixture(t, "callback_nonce.txt")
	if err := verifyBody(asRSA(t, rsaPub), []byte(body), nonce); err != nil {
		t.Errorf("openssl's signature refused: %v", err)
	}
	if err := verifyBody(asRSA(t, rsaPub), []byte(body), nonce[:31]+"1"); err == nil {
		t.Error("signature accepted for another nonce")
	}
	if err := verifyBody(asRSA(t, rsaPub), []byte(strings.Replace(body, "1000.00", "1000.01", 1)), nonce); err == nil {
		t.Error("signature accepted for another amount")
	}
}

func asRSA(t *testing.T, k any) *rsa.PublicKey {
	t.Helper()
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("key is %T", k)
	}
	return pub
}
