package sandbox

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func validBody() createBody {
	return createBody{
		MerchantOrderNo: "P-1", Amount: "100.00", BankCode: "2", BankName: "INTERBANK",
		AccountType: 101, BankAccount: "1234567899276", RealName: "TEEMO",
		IDCardNumber: "12345678", IDType: "DNI",
	}
}

func TestValidateCreate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*createBody)
		want string // substring of the message; "" means valid
	}{
		{"valid", func(*createBody) {}, ""},
		{"valid cci and phone", func(b *createBody) { b.CCINumber, b.Phone = "00313000123456789912", "987654321" }, ""},
		{"valid Yape", func(b *createBody) { b.BankCode, b.AccountType, b.BankAccount = "YAPE", 103, "912345678" }, ""},
		{"valid passport", func(b *createBody) { b.IDType, b.IDCardNumber = "PA", "AB12345" }, ""},
		{"valid RUC", func(b *createBody) { b.IDType, b.IDCardNumber = "RUC", "20629932888" }, ""},
		{"order too long", func(b *createBody) { b.MerchantOrderNo = strings.Repeat("x", 33) }, "merchantOrderNo"},
		{"no order", func(b *createBody) { b.MerchantOrderNo = " " }, "merchantOrderNo"},
		{"name 41", func(b *createBody) { b.RealName = strings.Repeat("ñ", 41) }, "realName"},
		{"name 40 runes", func(b *createBody) { b.RealName = strings.Repeat("ñ", 40) }, ""},
		{"PAS is not PA", func(b *createBody) { b.IDType = "PAS" }, "idType"},
		{"short DNI", func(b *createBody) { b.IDCardNumber = "1234567" }, "idCardNumber"},
		{"CE length", func(b *createBody) { b.IDType, b.IDCardNumber = "CE", "12345678" }, "idCardNumber"},
		{"account type", func(b *createBody) { b.AccountType = 104 }, "accountType"},
		{"103 not Yape", func(b *createBody) { b.AccountType = 103 }, "Yape only"},
		{"Yape savings", func(b *createBody) { b.BankCode = "YAPE" }, "103"},
		{"Yape bad phone", func(b *createBody) { b.BankCode, b.AccountType, b.BankAccount = "YAPE", 103, "812345678" }, "phone"},
		{"bank code", func(b *createBody) { b.BankCode = "10" }, "bankCode"},
		{"CCI as the account", func(b *createBody) { b.BankAccount = "00313000123456789912" }, "13 digits"},
		{"BCP 14", func(b *createBody) { b.BankCode, b.BankAccount = "1", "19312345678901" }, ""},
		{"BCP 15", func(b *createBody) { b.BankCode, b.BankAccount = "1", "193123456789012" }, "13 or 14"},
		{"BBVA 18", func(b *createBody) { b.BankCode, b.BankAccount = "3", "001102220123456789" }, ""},
		{"Scotiabank 10", func(b *createBody) { b.BankCode, b.BankAccount = "4", "0001234567" }, ""},
		{"Scotiabank 11", func(b *createBody) { b.BankCode, b.BankAccount = "4", "00012345678" }, "10 digits"},
		{"phone", func(b *createBody) { b.Phone = "123456789" }, "phone"},
		{"cci", func(b *createBody) { b.CCINumber = "123" }, "cciNumber"},
		{"amount comma", func(b *createBody) { b.Amount = "100,00" }, "amount"},
		{"amount 3 decimals", func(b *createBody) { b.Amount = "1.001" }, "amount"},
		{"amount zero", func(b *createBody) { b.Amount = "0.00" }, "amount"},
		{"amount negative", func(b *createBody) { b.Amount = "-1" }, "amount"},
		{"amount empty", func(b *createBody) { b.Amount = "" }, "amount"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := validBody()
			tt.edit(&b)
			_, msg := validateCreate(b)
			if tt.want == "" && msg != "" || tt.want != "" && !strings.Contains(msg, tt.want) {
				t.Fatalf("message %q, want %q", msg, tt.want)
			}
		})
	}
	if amount, _ := validateCreate(validBody()); amount != 10000 {
		t.Fatalf("amount %d", amount)
	}
}

func TestNonceWindow(t *testing.T) {
	s := New(Options{Credentials: Credentials{}})
	defer s.Close()
	now := time.Unix(1_700_000_000, 0)
	if !s.useNonce("a", now) || s.useNonce("a", now.Add(time.Hour)) {
		t.Fatal("nonce reused within 24 h")
	}
	if !s.useNonce("b", now.Add(time.Minute)) {
		t.Fatal("fresh nonce refused")
	}
	if !s.useNonce("a", now.Add(NonceTTL+time.Second)) {
		t.Fatal("nonce refused after 24 h")
	}
	if len(s.nonces) != 2 || len(s.nonceOrder) != 2 {
		t.Fatalf("expired nonces kept: %d in map, %d in order", len(s.nonces), len(s.nonceOrder))
	}
}
