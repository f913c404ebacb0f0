package teemopay

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Field limits of the create request (excerpt 003).
const (
	maxOrderNo  = 32
	maxRealName = 40
)

// Submit creates a payout (POST /api/pay/payout/create/v1) with
// merchantOrderNo = p.ID. The answer is Processing (status 1) or Failed
// (status 3, "can retry": only with a new merchantOrderNo, after Lookup
// confirms the failure). Errors: ErrRejected and ErrUnsupported before
// anything is sent for payouts TeemoPay cannot take; envelope codes as in
// errors.go; ErrInDoubt for a failure after the request may have been
// written, which Lookup resolves.
func (c *Client) Submit(ctx context.Context, p providers.Payout) (providers.Status, error) {
	req, err := buildCreate(p, c.callbackURL, c.yapeCode)
	if err != nil {
		return providers.Status{}, err
	}
	var data createData
	if err := c.call(ctx, opSubmit, PathCreate, req, &data); err != nil {
		return providers.Status{}, err
	}
	st, err := createStatus(data, p.Method)
	if err != nil {
		// An answer we cannot read does not say whether the order exists.
		return providers.Status{}, providers.InDoubt(Name, opSubmit, err)
	}
	return st, nil
}

// buildCreate maps a payout to TeemoPay's create request: the amount as a
// decimal string in soles, the SBS bank code to TeemoPay's bank list, the
// account type (101 savings, 102 checking, 103 Yape wallet) and the document
// type (PAS becomes PA). It refuses what TeemoPay would refuse, before
// anything is sent.
func buildCreate(p providers.Payout, callbackURL, yapeCode string) (createRequest, error) {
	if p.Method != providers.BankTransfer && p.Method != providers.Wallet {
		return createRequest{}, unsupported("method %q (bank_transfer and wallet only)", p.Method)
	}
	if p.Amount.Currency != "PEN" {
		return createRequest{}, unsupported("currency %q (PEN only)", p.Amount.Currency)
	}
	if p.Country != "" && !strings.EqualFold(p.Country, "PE") {
		return createRequest{}, unsupported("country %q (PE only)", p.Country)
	}
	if p.ID == "" || len(p.ID) > maxOrderNo {
		return createRequest{}, invalid("payout id must be 1-%d characters (merchantOrderNo)", maxOrderNo)
	}
	if p.Amount.Minor <= 0 {
		return createRequest{}, invalid("amount must be positive")
	}
	b := p.Beneficiary
	name := strings.TrimSpace(b.FullName())
	if name == "" {
		return createRequest{}, invalid("beneficiary name is required")
	}
	if utf8.RuneCountInString(name) > maxRealName {
		return createRequest{}, invalid("beneficiary name is longer than %d characters (realName)", maxRealName)
	}
	idType, err := idTypeFor(b.DocumentType)
	if err != nil {
		return createRequest{}, invalid("%v", err)
	}
	if strings.TrimSpace(b.DocumentNumber) == "" {
		return createRequest{}, invalid("document number is required")
	}
	sbs := strings.TrimSpace(b.BankCode)
	if sbs == "" && len(b.CCI) >= 3 {
		sbs = b.CCI[:3]
	}
	req := createRequest{
		MerchantOrderNo: p.ID,
		Amount:          money.FormatMinor(p.Amount.Minor, 2),
		Phone:           b.Phone,
		CCINumber:       b.CCI,
		RealName:        name,
		IDCardNumber:    b.DocumentNumber,
		IDType:          idType,
		CallbackURL:     callbackURL,
	}
	if p.Method == providers.Wallet {
		if sbs == "" {
			sbs = sbsYape
		}
		if sbs != sbsYape {
			return createRequest{}, unsupported("wallet %q (Yape, 037, only)", sbs)
		}
		acct := b.AccountNumber
		if acct == "" {
			acct = b.Phone
		}
		if acct == "" {
			return createRequest{}, invalid("a Yape payout needs the phone number")
		}
		req.BankAccount, req.AccountType = acct, accountWallet
		if req.Phone == "" {
			req.Phone = acct
		}
	} else {
		if sbs == sbsYape {
			return createRequest{}, invalid("bank code 037 is Yape: use method wallet")
		}
		switch strings.ToLower(strings.TrimSpace(b.AccountType)) {
		case "savings":
			req.AccountType = accountSavings
		case "checking":
			req.AccountType = accountChecking
		default:
			return createRequest{}, invalid("account type %q is not savings or checking", b.AccountType)
		}
		// The account number, never the CCI: a 20-digit CCI is not an
		// account number at any of TeemoPay's banks (it goes in cciNumber).
		req.BankAccount = strings.TrimSpace(b.AccountNumber)
		if req.BankAccount == "" {
			return createRequest{}, invalid("an account number is required (TeemoPay pays the account number; the CCI is not one)")
		}
		if lengths, ok := accountLengths[sbs]; ok && (!allDigits(req.BankAccount) || !slices.Contains(lengths, len(req.BankAccount))) {
			return createRequest{}, invalid("account number of bank %s must have %s digits", sbs, lengthWords(lengths))
		}
	}
	bank, err := bankFor(sbs, yapeCode)
	if err != nil {
		return createRequest{}, invalid("%v", err)
	}
	req.BankCode, req.BankName = bank.Code, bank.Name
	return req, nil
}

// createStatus maps a create answer: 1 Processing, 3 Failed.
func createStatus(d createData, m providers.Method) (providers.Status, error) {
	st := providers.Status{
		Refs:      providers.Refs{PayoutID: d.MerchantOrderNo, Method: m, ProviderID: d.TradeNo},
		RawStatus: strconv.Itoa(int(d.Status)),
	}
	switch d.Status {
	case statusProcessing:
		st.Outcome = providers.Processing
	case statusFailed:
		st.Outcome = providers.Failed
	case StatusSuccess:
		// Not documented for create, but unambiguous.
		st.Outcome = providers.Succeeded
	default:
		return providers.Status{}, errUnknownStatus(int(d.Status))
	}
	if d.Amount != "" {
		a, err := parseAmount(string(d.Amount))
		if err != nil {
			return providers.Status{}, err
		}
		st.Amount = a
	}
	return st, nil
}
