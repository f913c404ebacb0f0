package bank131

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/payrun/payrun/providers"
)

// The fixtures in testdata/ were produced with the openssl CLI (see
// testdata/README.md), independently of this code.

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureKey(t testing.TB, name string) *rsa.PrivateKey {
	t.Helper()
	k, err := ParsePrivateKey(readFixture(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

func fixturePub(t testing.TB) *rsa.PublicKey {
	t.Helper()
	k, err := ParsePublicKey(readFixture(t, "merchant_pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignMatchesOpenSSL(t *testing.T) {
	body := readFixture(t, "body.json")
	want := strings.TrimSpace(string(readFixture(t, "body.sig")))
	for _, keyFile := range []string{"merchant_key.pem", "merchant_key_pkcs8.pem"} {
		t.Run(keyFile, func(t *testing.T) {
			got, err := Sign(fixtureKey(t, keyFile), body)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("X-PARTNER-SIGN\n got %s\nwant %s (openssl dgst -sha256 -sign | base64)", got, want)
			}
		})
	}
}

func TestVerifyOpenSSLSignature(t *testing.T) {
	body := readFixture(t, "body.json")
	sig := strings.TrimSpace(string(readFixture(t, "body.sig")))
	pub := fixturePub(t)
	if err := Verify(pub, body, sig); err != nil {
		t.Fatalf("openssl signature refused: %v", err)
	}
	tampered := bytes.Replace(body, []byte("10000"), []byte("10001"), 1)
	if err := Verify(pub, tampered, sig); err == nil {
		t.Error("signature accepted over a changed body")
	}
	if err := Verify(pub, append(append([]byte(nil), body...), '\n'), sig); err == nil {
		t.Error("signature accepted over the body with a trailing newline")
	}
	for _, s := range []string{"", "not base64!", "AAAA"} {
		if err := Verify(pub, body, s); err == nil {
			t.Errorf("signature %q accepted", s)
		}
	}
}

func TestParseKeys(t *testing.T) {
	if _, err := ParsePrivateKey([]byte("not pem")); err == nil {
		t.Error("garbage accepted as a private key")
	}
	if _, err := ParsePublicKey(readFixture(t, "merchant_key.pem")); err == nil {
		t.Error("a private key block accepted as a public key")
	}
	if _, err := ParsePrivateKey(readFixture(t, "merchant_pub.pem")); err == nil {
		t.Error("a public key block accepted as a private key")
	}
}

// fixtureClient is a client whose "provider" public key is the fixture's,
// so that openssl-signed webhooks verify.
func fixtureClient(t testing.TB, name string) *Client {
	t.Helper()
	return &Client{name: name, provider: fixturePub(t), key: fixtureKey(t, "merchant_key.pem")}
}

func TestParseWebhookOpenSSLFixture(t *testing.T) {
	c := fixtureClient(t, NameBank131)
	body := readFixture(t, "webhook_ready_to_confirm.json")
	h := http.Header{}
	h.Set("X-PARTNER-SIGN", strings.TrimSpace(string(readFixture(t, "webhook_ready_to_confirm.sig"))))
	res, err := c.ParseWebhook(providers.WebhookRequest{Header: h, Body: body})
	if err != nil {
		t.Fatalf("genuine webhook refused: %v", err)
	}
	if res.Ack.StatusCode != http.StatusOK {
		t.Errorf("ack %d, want 200", res.Ack.StatusCode)
	}
	if len(res.Events) != 1 {
		t.Fatalf("%d events, want 1", len(res.Events))
	}
	ev := res.Events[0]
	st := ev.Status
	if ev.Type != "ready_to_confirm" || st.Outcome != providers.AwaitingConfirmation {
		t.Errorf("event %s / %s, want ready_to_confirm / awaiting_confirmation", ev.Type, st.Outcome)
	}
	want := providers.Refs{PayoutID: "payout-0001", Method: providers.CardToken, SessionID: "ps_3230", ProviderID: "po_2018"}
	if st.Refs != want {
		t.Errorf("refs %+v, want %+v", st.Refs, want)
	}
	if st.Amount.Minor != 10000 || st.Amount.Currency != "RUB" {
		t.Errorf("amount %+v, want 10000 RUB", st.Amount)
	}
	if st.Recipient != "card *4242 (visa) John Johnson" {
		t.Errorf("recipient %q", st.Recipient)
	}

	again, err := c.ParseWebhook(providers.WebhookRequest{Header: h, Body: body})
	if err != nil || again.Events[0].ID != ev.ID {
		t.Errorf("duplicate delivery: id %v (err %v), want %s", again.Events, err, ev.ID)
	}

	tampered := bytes.Replace(body, []byte(`"amount":10000`), []byte(`"amount":90000`), 1)
	if _, err := c.ParseWebhook(providers.WebhookRequest{Header: h, Body: tampered}); !errors.Is(err, providers.ErrSignature) {
		t.Errorf("tampered webhook: err %v, want ErrSignature", err)
	}
	if _, err := c.ParseWebhook(providers.WebhookRequest{Header: http.Header{}, Body: body}); !errors.Is(err, providers.ErrSignature) {
		t.Errorf("unsigned webhook: err %v, want ErrSignature", err)
	}
}

func BenchmarkSign(b *testing.B) {
	key := fixtureKey(b, "merchant_key.pem")
	body := readFixture(b, "body.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Sign(key, body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyWebhook(b *testing.B) {
	c := fixtureClient(b, NameBank131)
	body := readFixture(b, "webhook_ready_to_confirm.json")
	h := http.Header{}
	h.Set("X-PARTNER-SIGN", strings.TrimSpace(string(readFixture(b, "webhook_ready_to_confirm.sig"))))
	req := providers.WebhookRequest{Header: h, Body: body}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ParseWebhook(req); err != nil {
			b.Fatal(err)
		}
	}
}
