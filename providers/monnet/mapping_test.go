package monnet

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		stage, status string
		errs          []errorWire
		method        providers.Method
		want          providers.Outcome
	}{
		{"IN_PROGRESS", "CREATED", nil, providers.BankTransfer, providers.Processing},
		{"IN_PROGRESS", "CREATED", nil, providers.CardPush, providers.AwaitingBeneficiary},
		{"IN_PROGRESS", "PENDING_BANK", nil, providers.CardPush, providers.Processing},
		{"PENDING", "PENDING_BALANCE", nil, "", providers.Processing},
		{"SUCCESS", "PROCESSED", nil, "", providers.Succeeded},
		{"REJECTED", "REJECTED_BANK", []errorWire{{Code: "4001"}}, "", providers.Failed},
		{"REJECTED", "NO_BALANCE", nil, "", providers.Failed},
		{"REJECTED", "REVERSED", nil, "", providers.Reversed},
		{"REJECTED", "ERROR", []errorWire{{Code: codeCardExpiry}}, "", providers.Expired},
		{"rejected", "bussiness_error", []errorWire{{Code: "2005"}}, "", providers.Failed},
		{"SOMETHING_NEW", "X", nil, "", providers.Processing},
	}
	for _, tt := range tests {
		if got := outcomeOf(tt.stage, tt.status, tt.errs, tt.method); got != tt.want {
			t.Errorf("outcomeOf(%s, %s, %v, %s) = %s, want %s", tt.stage, tt.status, tt.errs, tt.method, got, tt.want)
		}
	}
}

func TestPayinOutcome(t *testing.T) {
	want := map[int]providers.Outcome{
		1: providers.AwaitingBeneficiary, 2: providers.AwaitingBeneficiary, 3: providers.Expired,
		5: providers.Succeeded, 6: providers.Failed, 9: providers.Succeeded,
		10: providers.Reversed, 11: providers.Reversed, 7: providers.Processing,
	}
	for state, w := range want {
		if got := payinOutcome(state); got != w {
			t.Errorf("payinOutcome(%d) = %s, want %s", state, got, w)
		}
	}
}

func TestClassify(t *testing.T) {
	now := time.Now()
	ra := http.Header{"Retry-After": []string{"3"}}
	tests := []struct {
		name     string
		status   int
		h        http.Header
		body     string
		mutating bool
		want     error
	}{
		{"auth", 401, nil, `{"code":"1001","message":["Missing or invalid Authentication"]}`, true, providers.ErrAuth},
		{"validation", 400, nil, `{"code":"1201","message":["dni"]}`, true, providers.ErrRejected},
		{"duplicate", 400, nil, `{"code":"2005","message":["[orderId] Duplicated"]}`, true, providers.ErrDuplicate},
		{"business", 400, nil, `{"code":"2008","message":"CCI duplicated"}`, true, providers.ErrRejected},
		{"fraud", 400, nil, `{"code":"3005","message":["amount"]}`, true, providers.ErrRejected},
		{"bank", 400, nil, `{"code":"4001","message":["bank"]}`, true, providers.ErrRejected},
		{"no balance", 400, nil, `{"code":"NO_BALANCE","message":["send again"]}`, true, providers.ErrInsufficientFunds},
		{"insufficient text", 400, nil, `{"code":"2999","message":["Insufficient balance"]}`, true, providers.ErrInsufficientFunds},
		{"401 bare", 401, nil, ``, true, providers.ErrAuth},
		{"404", 404, nil, `{"code":"404","message":["not found"]}`, false, providers.ErrNotFound},
		{"429", 429, ra, `{"code":"429"}`, true, providers.ErrRateLimited},
		{"503", 503, nil, ``, true, providers.ErrUnavailable},
		{"502", 502, nil, ``, true, providers.ErrUnavailable},
		{"500 create", 500, nil, ``, true, providers.ErrInDoubt},
		{"500 query", 500, nil, ``, false, providers.ErrUnavailable},
	}
	for _, tt := range tests {
		h := tt.h
		if h == nil {
			h = http.Header{}
		}
		err := classify("submit", tt.status, h, []byte(tt.body), tt.mutating, now)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
		if tt.status == 429 && providers.RetryAfter(err) != 3*time.Second {
			t.Errorf("429 RetryAfter = %v", providers.RetryAfter(err))
		}
	}
}

func TestPayoutBody(t *testing.T) {
	base := providers.Payout{ID: "R123456", Country: "PE", Amount: money.Money{Minor: 100000, Currency: "PEN"},
		Beneficiary: providers.Beneficiary{Name: "Sergio", LastName: "test", DocumentType: "DNI", DocumentNumber: "12345678"}}
	bank := base
	bank.Method = providers.BankTransfer
	bank.Beneficiary.AccountType, bank.Beneficiary.CCI = "checking", "01143000584290204477"
	got, err := payoutBody(bank)
	if err != nil {
		t.Fatal(err)
	}
	ba := got.Destination.BankAccount
	if got.Country != "PER" || got.Amount != 100000 || got.Beneficiary.Document.Type != 1 || ba.AccountType != 1 || ba.BankCode != "001" || ba.CCI != bank.Beneficiary.CCI {
		t.Errorf("bank body %+v", got)
	}
	wallet := base
	wallet.Method = providers.Wallet
	wallet.Beneficiary.BankCode, wallet.Beneficiary.Phone = "037", "987654321"
	got, err = payoutBody(wallet)
	if err != nil {
		t.Fatal(err)
	}
	ba = got.Destination.BankAccount
	if ba.AccountType != 4 || ba.AccountNumber != "987654321" || ba.BankCode != "037" || got.Description == "" {
		t.Errorf("wallet body %+v", got)
	}
	for name, mod := range map[string]func(*providers.Payout){
		"country":  func(p *providers.Payout) { p.Country = "MX" },
		"document": func(p *providers.Payout) { p.Beneficiary.DocumentType = "CPF" },
		"account":  func(p *providers.Payout) { p.Beneficiary.AccountType = "brokerage" },
	} {
		p := bank
		mod(&p)
		if _, err := payoutBody(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFlex(t *testing.T) {
	var pr payoutResponse
	for _, body := range []string{
		`{"payout":{"Id":73,"amount":10000,"currency":"PEN","orderId":"A"},"output":{"stage":"SUCCESS","status":"PROCESSED","statusChangeDateTime":"20220110223001"}}`,
		`{"payout":{"id":"73","amount":"10000","currency":"PEN","orderId":"A"},"output":{"stage":"SUCCESS","status":"PROCESSED","statusChangeDateTime":"2024-05-29T13:16:57.267524Z"}}`,
	} {
		pr = payoutResponse{}
		if err := jsonUnmarshal(body, &pr); err != nil {
			t.Fatal(err)
		}
		st := payoutStatus(pr, "")
		if st.Refs.ProviderID != "73" || st.Amount != (money.Money{Minor: 10000, Currency: "PEN"}) || st.At.IsZero() || st.Outcome != providers.Succeeded {
			t.Errorf("%s -> %+v", body, st)
		}
	}
}
