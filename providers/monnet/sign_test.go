package monnet

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// The two worked examples of Monnet's HMAC page (PROVIDERS.md 1.2).
const vectorSecret = "P5yjICOFoE0kmJVMALeBRmoxuWXz0BJKuoSaIXEHTgE="

const vectorBody = `{"country": "MEX","amount": 10,"currency": "MXN","orderId": "CDO_90305","beneficiary": {"name": "testName","lastName": "testLastName","document": {"type": 3,"number": "PEGM9007151H0"},"customerId": "test","userName": "646180110400000007"},"destination": {"bankAccount": {"bankCode": "002","accountType": 1,"clabe": "002123451234534510"}}}`

func TestSignVectors(t *testing.T) {
	if got, want := bodyHash([]byte(vectorBody)), "7c7b333e31a0f1f9fab0222a97e0366e8327749732132d17934f51d6738e4c2e"; got != want {
		t.Errorf("body hash = %s, want %s", got, want)
	}
	if got, want := bodyHash(nil), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; got != want {
		t.Errorf("empty body hash = %s, want %s", got, want)
	}
	tests := []struct {
		name, method, path string
		ts                 int64
		body               string
		want               string
	}{
		{"post payout", "POST", "/api/v1/22/payouts", 1687543238010, vectorBody, "d6895bccdff72b95cb1d134037edadfa87cff1f0a543209efa356c889db97cb9"},
		{"get status", "GET", "/api/v1/22/payouts/73", 1687543425203, "", "14cbc221c52bf588f439f86894ab1ebed9aa4867c2d79a1b159bd94a1df2c0d7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sign([]byte(vectorSecret), tt.method, tt.path, tt.ts, []byte(tt.body))
			if got != tt.want {
				t.Errorf("signature = %s, want %s (string to sign %q)", got, tt.want, stringToSign(tt.method, tt.path, tt.ts, []byte(tt.body)))
			}
			if sign([]byte(vectorSecret), tt.method, tt.path, tt.ts+1, []byte(tt.body)) == tt.want {
				t.Error("another timestamp gives the same signature")
			}
		})
	}
}

func TestPayinVerification(t *testing.T) {
	// Concatenation, exactly as sent: a different amount text is a
	// different hash even for the same value.
	a := payinVerification("674", "2-2657443175", "30.00", "PEN", []byte("key"))
	b := payinVerification("674", "2-2657443175", "30.0", "PEN", []byte("key"))
	if a == b || len(a) != 128 {
		t.Fatalf("verification %q / %q", a, b)
	}
	if payinVerification("674", "2-2657443175", "30.00", "PEN", []byte("key")) != a {
		t.Fatal("not deterministic")
	}
}

func TestNotificationSignatureAndKeyForms(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"payout":{"id":"1"},"output":{"stage":"SUCCESS"}}`)
	sig, err := SignNotification(key, "234", body)
	if err != nil {
		t.Fatal(err)
	}
	pkix1, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "notifier.internal.monnet.io"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	forms := map[string][]byte{
		"PUBLIC KEY":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix1}),
		"RSA PUBLIC KEY": pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&key.PublicKey)}),
		"CERTIFICATE":    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
	for name, p := range forms {
		pub, err := parsePublicKey(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := verifyNotification(pub, "234", body, sig); err != nil {
			t.Errorf("%s: genuine signature refused: %v", name, err)
		}
		if err := verifyNotification(pub, "235", body, sig); err == nil {
			t.Errorf("%s: signature accepted for another merchant id", name)
		}
		if err := verifyNotification(pub, "234", body, ""); err == nil {
			t.Errorf("%s: missing header accepted", name)
		}
	}
}
