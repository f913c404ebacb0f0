package monnet

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// Signing and verification cost per product: HMAC-SHA256 request signing
// (payouts, card push), RSA notification verification (payout
// notifications), SHA-512 payinVerification (Payin create and notifications).

func BenchmarkSign(b *testing.B) {
	body := []byte(vectorBody)
	b.Run("payout_hmac_sha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sign([]byte(vectorSecret), "POST", "/api/v1/22/payouts", 1687543238010, body)
		}
	})
	b.Run("payin_sha512", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			payinVerification("674", "2-2657443175", "30.00", "PEN", []byte("key"))
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"payout":{"merchantId":"1000","id":"1111111111","orderId":"12345678","amount":"10000","currency":"PEN"},"output":{"stage":"SUCCESS","status":"PROCESSED","statusChangeDateTime":"20220110223001"}}`)
	sig, err := SignNotification(key, "1000", body)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("payout_hmac_sha256", func(b *testing.B) {
		b.ReportAllocs()
		s := sign([]byte(vectorSecret), "POST", "/api/v1/22/payouts", 1687543238010, []byte(vectorBody))
		for b.Loop() {
			// What Monnet does with the request: sign again and compare.
			hmac.Equal([]byte(sign([]byte(vectorSecret), "POST", "/api/v1/22/payouts", 1687543238010, []byte(vectorBody))), []byte(s))
		}
	})
	b.Run("notification_rsa2048", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := verifyNotification(&key.PublicKey, "1000", body, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("payin_sha512", func(b *testing.B) {
		b.ReportAllocs()
		want := payinVerification("674", "2-2657443175", "30.0", "PEN", []byte("key"))
		for b.Loop() {
			if payinVerification("674", "2-2657443175", "30.0", "PEN", []byte("key")) != want {
				b.Fatal("mismatch")
			}
		}
	})
}
