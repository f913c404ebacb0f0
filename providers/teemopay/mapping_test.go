package teemopay

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

func bankPayout() providers.Payout {
	return providers.Payout{
		ID: "P-1", Method: providers.BankTransfer, Country: "PE",
		Amount: money.Money{Minor: 150050, Currency: "PEN"},
		Beneficiary: providers.Beneficiary{
			Name: "Ana", LastName: "Quispe", Phone: "987654321",
			DocumentType: "PAS", DocumentNumber: "AB1234567",
			BankCode: "003", AccountType: "checking", AccountNumber: "1234567899276",
			CCI: "00313000123456789912",
		},
	}
}

func TestBuildCreate(t *testing.T) {
	got, err := buildCreate(bankPayout(), "https://cb.example/teemopay", defaultYapeCode)
	if err != nil {
		t.Fatal(err)
	}
	want := createRequest{
		MerchantOrderNo: "P-1", Amount: "1500.50", Phone: "987654321",
		BankCode: "2", BankName: "INTERBANK", AccountType: accountChecking,
		BankAccount: "1234567899276", CCINumber: "00313000123456789912",
		RealName: "Ana Quispe", IDCardNumber: "AB1234567", IDType: "PA",
		CallbackURL: "https://cb.example/teemopay",
	}
	if got != want {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestBuildCreateMappings(t *testing.T) {
	tests := []struct {
		name string
		edit func(*providers.Payout)
		want func(createRequest) bool
	}{
		{"BCP savings", func(p *providers.Payout) { p.Beneficiary.BankCode, p.Beneficiary.AccountType = "002", "savings" },
			func(r createRequest) bool {
				return r.BankCode == "1" && r.BankName == "BCP" && r.AccountType == accountSavings
			}},
		{"BBVA", func(p *providers.Payout) {
			p.Beneficiary.BankCode, p.Beneficiary.AccountNumber = "001", "001102220123456789"
		},
			func(r createRequest) bool { return r.BankCode == "3" && r.BankName == "BBVA" }},
		{"Scotiabank", func(p *providers.Payout) { p.Beneficiary.BankCode, p.Beneficiary.AccountNumber = "004", "0001234567" },
			func(r createRequest) bool { return r.BankCode == "4" && r.BankName == "SCOTIABANK" }},
		{"bank from CCI", func(p *providers.Payout) { p.Beneficiary.BankCode, p.Beneficiary.CCI = "", "00243000584290204477" },
			func(r createRequest) bool { return r.BankCode == "1" }},
		{"one céntimo", func(p *providers.Payout) { p.Amount.Minor = 1 },
			func(r createRequest) bool { return r.Amount == "0.01" }},
		{"DNI", func(p *providers.Payout) { p.Beneficiary.DocumentType = "dni" },
			func(r createRequest) bool { return r.IDType == "DNI" }},
		{"no phone, no cci", func(p *providers.Payout) { p.Beneficiary.Phone, p.Beneficiary.CCI = "", "" },
			func(r createRequest) bool { return r.Phone == "" && r.CCINumber == "" }},
		{"Yape wallet", func(p *providers.Payout) {
			p.Method = providers.Wallet
			p.Beneficiary = providers.Beneficiary{Name: "Luz", Phone: "912345678", DocumentType: "DNI", DocumentNumber: "01234567"}
		}, func(r createRequest) bool {
			return r.AccountType == accountWallet && r.BankCode == defaultYapeCode && r.BankAccount == "912345678" && r.Phone == "912345678"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bankPayout()
			tt.edit(&p)
			r, err := buildCreate(p, "", defaultYapeCode)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(r) {
				t.Fatalf("unexpected request %+v", r)
			}
		})
	}
}

func TestBuildCreateRefuses(t *testing.T) {
	tests := []struct {
		name string
		edit func(*providers.Payout)
		kind error
	}{
		{"card push", func(p *providers.Payout) { p.Method = providers.CardPush }, providers.ErrUnsupported},
		{"USD", func(p *providers.Payout) { p.Amount.Currency = "USD" }, providers.ErrUnsupported},
		{"Mexico", func(p *providers.Payout) { p.Country = "MX" }, providers.ErrUnsupported},
		{"long id", func(p *providers.Payout) { p.ID = "123456789012345678901234567890123" }, providers.ErrRejected},
		{"zero amount", func(p *providers.Payout) { p.Amount.Minor = 0 }, providers.ErrRejected},
		{"long name", func(p *providers.Payout) { p.Beneficiary.Name = "María Fernanda Gutiérrez de la Cruz Vásquez" }, providers.ErrRejected},
		{"unknown doc", func(p *providers.Payout) { p.Beneficiary.DocumentType = "LE" }, providers.ErrRejected},
		{"unknown bank", func(p *providers.Payout) { p.Beneficiary.BankCode = "999" }, providers.ErrRejected},
		{"no account type", func(p *providers.Payout) { p.Beneficiary.AccountType = "" }, providers.ErrRejected},
		{"no account", func(p *providers.Payout) { p.Beneficiary.AccountNumber, p.Beneficiary.CCI = "", "" }, providers.ErrRejected},
		{"CCI only, never sent as the account", func(p *providers.Payout) { p.Beneficiary.AccountNumber = "" }, providers.ErrRejected},
		{"CCI in the account column", func(p *providers.Payout) { p.Beneficiary.AccountNumber = p.Beneficiary.CCI }, providers.ErrRejected},
		{"Interbank account of 14 digits", func(p *providers.Payout) { p.Beneficiary.AccountNumber = "12345678992761" }, providers.ErrRejected},
		{"BBVA account of 20 digits", func(p *providers.Payout) {
			p.Beneficiary.BankCode, p.Beneficiary.AccountNumber = "001", "00110222012345678901"
		}, providers.ErrRejected},
		{"Scotiabank account of 13 digits", func(p *providers.Payout) { p.Beneficiary.BankCode = "004" }, providers.ErrRejected},
		{"Yape as bank transfer", func(p *providers.Payout) { p.Beneficiary.BankCode = "037" }, providers.ErrRejected},
		{"wallet other than Yape", func(p *providers.Payout) { p.Method = providers.Wallet }, providers.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := bankPayout()
			tt.edit(&p)
			if _, err := buildCreate(p, "", defaultYapeCode); !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
		})
	}
}

func TestCreateStatus(t *testing.T) {
	tests := []struct {
		data    createData
		outcome providers.Outcome
		err     bool
	}{
		{createData{MerchantOrderNo: "P-1", TradeNo: "TF1", Status: 1, Amount: "100.00"}, providers.Processing, false},
		{createData{MerchantOrderNo: "P-1", TradeNo: "TF1", Status: 3, Amount: "100.00"}, providers.Failed, false},
		{createData{MerchantOrderNo: "P-1", TradeNo: "TF1", Status: 7}, "", true},
		{createData{MerchantOrderNo: "P-1", TradeNo: "TF1", Status: 1, Amount: "1.005"}, "", true},
	}
	for _, tt := range tests {
		st, err := createStatus(tt.data, providers.BankTransfer)
		if (err != nil) != tt.err {
			t.Fatalf("%+v: err %v", tt.data, err)
		}
		if err != nil {
			continue
		}
		if st.Outcome != tt.outcome || st.Refs.ProviderID != "TF1" || st.Refs.PayoutID != "P-1" || st.Refs.Method != providers.BankTransfer || st.Amount != (money.Money{Minor: 10000, Currency: "PEN"}) {
			t.Fatalf("%+v: got %+v", tt.data, st)
		}
	}
}

func TestQueryStatus(t *testing.T) {
	lima := time.FixedZone("", -5*3600)
	tests := []struct {
		name string
		data queryData
		want providers.Status
	}{
		{"processing", queryData{MerchantOrderNo: "P", TradeNo: "TF", Status: 1, Amount: "10.00"},
			providers.Status{Outcome: providers.Processing, RawStatus: "1", Amount: money.Money{Minor: 1000, Currency: "PEN"}}},
		{"success with fee", queryData{MerchantOrderNo: "P", TradeNo: "TF", Status: 2, Amount: "10.00", ServiceAmount: "0.35", CompleteTime: "2025-05-01 23:59:58"},
			providers.Status{Outcome: providers.Succeeded, RawStatus: "2", Amount: money.Money{Minor: 1000, Currency: "PEN"}, Fee: 35,
				At: time.Date(2025, 5, 1, 23, 59, 58, 0, lima)}},
		{"success zero fee", queryData{MerchantOrderNo: "P", TradeNo: "TF", Status: 2, Amount: "10.00", ServiceAmount: "0.00"},
			providers.Status{Outcome: providers.Succeeded, RawStatus: "2", Amount: money.Money{Minor: 1000, Currency: "PEN"}}},
		{"failed", queryData{MerchantOrderNo: "P", TradeNo: "TF", Status: 3, Amount: "10.00", ErrorCode: "1000", ErrorMessage: "Card error or limit"},
			providers.Status{Outcome: providers.Failed, RawStatus: "3", Code: "1000", Message: "Card error or limit", Amount: money.Money{Minor: 1000, Currency: "PEN"}}},
		{"refunded", queryData{MerchantOrderNo: "P", TradeNo: "TF", Status: 4, Amount: "10.00", ErrorCode: "1001"},
			providers.Status{Outcome: providers.Reversed, RawStatus: "4", Code: "1001", Amount: money.Money{Minor: 1000, Currency: "PEN"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := queryStatus(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Refs = providers.Refs{PayoutID: "P", ProviderID: "TF"}
			if !got.At.Equal(tt.want.At) {
				t.Fatalf("At = %v, want %v", got.At, tt.want.At)
			}
			got.At, tt.want.At = time.Time{}, time.Time{}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
	for _, bad := range []queryData{{Status: 9}, {Status: 2, Amount: "x"}, {Status: 2, ServiceAmount: "-1"}, {Status: 2, CompleteTime: "01/05/2025"}} {
		if _, err := queryStatus(bad); err == nil {
			t.Errorf("queryStatus(%+v) accepted", bad)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		op   string
		code int
		msg  string
		want error
	}{
		{opSubmit, 425, "Insufficient merchant balance", providers.ErrInsufficientFunds},
		{opSubmit, 429, "", providers.ErrRateLimited},
		{opSubmit, 401, "sign error", providers.ErrAuth},
		{opSubmit, 403, "request expired", providers.ErrAuth},
		{opSubmit, 409, "Duplicate merchantOrderNo", providers.ErrDuplicate},
		{opSubmit, 400, "merchantOrderNo repeat", providers.ErrDuplicate},
		{opSubmit, 400, "realName too long", providers.ErrRejected},
		{opLookup, 400, "Order not found", providers.ErrNotFound},
		{opSubmit, 400, "Order not found", providers.ErrRejected},
		{opSubmit, 503, "", providers.ErrUnavailable},
		{opSubmit, 500, "system error", providers.ErrInDoubt},
		{opLookup, 500, "system error", providers.ErrUnavailable},
		{opSubmit, 1, "???", providers.ErrInDoubt},
	}
	for _, tt := range tests {
		if got := envelopeKind(tt.op, tt.code, tt.msg); got != tt.want {
			t.Errorf("envelopeKind(%s, %d, %q) = %v, want %v", tt.op, tt.code, tt.msg, got, tt.want)
		}
	}
	httpTests := []struct {
		op     string
		status int
		want   error
	}{
		{opSubmit, http.StatusTooManyRequests, providers.ErrRateLimited},
		{opSubmit, http.StatusBadGateway, providers.ErrUnavailable},
		{opSubmit, http.StatusServiceUnavailable, providers.ErrUnavailable},
		{opSubmit, http.StatusGatewayTimeout, providers.ErrUnavailable},
		{opSubmit, http.StatusInternalServerError, providers.ErrInDoubt},
		{opLookup, http.StatusInternalServerError, providers.ErrUnavailable},
		{opSubmit, http.StatusUnauthorized, providers.ErrAuth},
		{opSubmit, http.StatusOK, nil},
		{opSubmit, http.StatusBadRequest, nil},
	}
	for _, tt := range httpTests {
		if got, _ := httpKind(tt.op, tt.status); got != tt.want {
			t.Errorf("httpKind(%s, %d) = %v, want %v", tt.op, tt.status, got, tt.want)
		}
	}
}

func TestCallbackEventID(t *testing.T) {
	cb := Callback{MerchantOrderNo: "P", TradeNo: "TF1", Status: 2, Amount: "1.00", CompleteTime: "2025-05-01 00:00:00"}
	ev, err := callbackEvent(cb)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "success" || ev.Status.Outcome != providers.Succeeded {
		t.Fatalf("event %+v", ev)
	}
	again := cb
	again.Remark = "retry" // a retry re-signs; the fact is the same
	if eventID(again) != ev.ID {
		t.Fatal("same fact, different IDs")
	}
	reversed := cb
	reversed.Status = 4
	if eventID(reversed) == ev.ID {
		t.Fatal("reversal shares the success's ID")
	}
	// The separator inside a field cannot make two facts one.
	a, b := cb, cb
	a.MerchantOrderNo, a.TradeNo = "P|TF1", "X"
	b.MerchantOrderNo, b.TradeNo = "P", "TF1|X"
	if eventID(a) == eventID(b) {
		t.Fatalf("%s names two facts", eventID(a))
	}
	// IDs follow the payouts' order (the journal keys events by ID).
	next := cb
	next.MerchantOrderNo = "Q"
	if eventID(next) <= ev.ID {
		t.Fatalf("%s sorts before %s", eventID(next), ev.ID)
	}
	if _, err := callbackEvent(Callback{TradeNo: "TF", Status: 2}); err == nil {
		t.Fatal("callback without merchantOrderNo accepted")
	}
}
