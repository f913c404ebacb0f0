package monnet

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Payin V3 (excerpt 001, PROVIDERS.md 2): a payment link. payrun uses it as
// a "payment_link" payout method: the link goes to the payer, the payout ID
// is the payinMerchantOperationNumber, and the outcome arrives as a Payin
// notification or from the status query by operation number.

// Payin state ids (PAYINs/03-resources/01-status-codes.md).
const (
	PayinCreated    = 1
	PayinPending    = 2
	PayinExpired    = 3
	PayinAuthorized = 5
	PayinDenied     = 6
	PayinSettled    = 9
	PayinRefunded   = 10
	PayinReturned   = 11
)

// PayinStateNames are the Spanish state words Monnet sends.
var PayinStateNames = map[int]string{
	PayinCreated: "Creado", PayinPending: "Pendiente de pago", PayinExpired: "Expirado",
	PayinAuthorized: "Autorizado", PayinDenied: "Denegado", PayinSettled: "Liquidado",
	PayinRefunded: "Reembolsado", PayinReturned: "Devuelto",
}

// PayinOutcome maps payinStateID to payrun's outcome.
func PayinOutcome(state int) providers.Outcome {
	switch state {
	case PayinCreated, PayinPending:
		return providers.AwaitingBeneficiary
	case PayinExpired:
		return providers.Expired
	case PayinAuthorized, PayinSettled:
		return providers.Succeeded
	case PayinDenied:
		return providers.Failed
	case PayinRefunded, PayinReturned:
		return providers.Reversed
	}
	return providers.Processing
}

func newPayinConfig(extra map[string]string) (*payinConfig, error) {
	base := strings.TrimRight(extra["payin_base_url"], "/")
	if base == "" {
		return nil, nil
	}
	pc := &payinConfig{
		base: base, statusBase: strings.TrimRight(extra["payin_status_url"], "/"),
		merchantID: extra["payin_merchant_id"], okURL: extra["payin_ok_url"], errorURL: extra["payin_error_url"],
		method: extra["payin_method"],
	}
	if pc.statusBase == "" {
		pc.statusBase = base
	}
	if pc.method == "" {
		pc.method = defaultPayinMth
	}
	if pc.merchantID == "" || pc.okURL == "" || pc.errorURL == "" {
		return nil, errors.New("payin needs payin_merchant_id, payin_ok_url and payin_error_url")
	}
	key, err := providers.Secret(extra["payin_key"])
	if err != nil {
		return nil, errors.New("payin_key: " + err.Error())
	}
	pc.key = key
	return pc, nil
}

// PayinBody builds the Payin V3 create body; now is "YYYY-MM-DD".
func PayinBody(p providers.Payout, merchantID, method, okURL, errorURL, urlMonnet, today string, key []byte) PayinRequest {
	amount := money.FormatMinor(p.Amount.Minor, p.Amount.Exponent())
	b := p.Beneficiary
	return PayinRequest{
		MerchantID: merchantID, Amount: amount, Currency: p.Amount.Currency, OperationNumber: p.ID,
		Method:       method,
		Verification: PayinVerification(merchantID, p.ID, amount, p.Amount.Currency, key),
		CustomerName: b.Name, CustomerLastName: b.LastName, CustomerEmail: b.Email, CustomerPhone: b.Phone,
		CustomerTypeDocument: strings.ToUpper(b.DocumentType), CustomerDocument: b.DocumentNumber,
		RegularCustomer: "0", CustomerID: p.ID, DiscountCoupon: "0", Language: "ES", ExpirationTime: "30",
		DateTime: today, TransactionOKURL: okURL, TransactionErrorURL: errorURL, FilterBy: "0",
		CustomerAddress: "0", CustomerCity: "Lima", CustomerRegion: "Lima", CustomerCountry: "Peru", CustomerZipCode: "0",
		CustomerShippingName: b.FullName(), CustomerShippingPhone: b.Phone, CustomerShippingAddress: "0",
		CustomerShippingCity: "Lima", CustomerShippingRegion: "Lima", CustomerShippingCountry: "Peru", CustomerShippingZipCode: "0",
		ProductID: "0", ProductDescription: orDefault(p.Description, "0"), ProductAmount: amount, ProductSku: "0", ProductQuantity: "1",
		URLMonnet: urlMonnet, TypePost: "json",
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (c *Client) payinMissing(op string) error {
	return &providers.APIError{Provider: Name, Op: op, Message: "Payin V3 is not configured (extra.payin_base_url)", Kind: providers.ErrUnsupported}
}

func (c *Client) submitPayin(ctx context.Context, p providers.Payout) (providers.Status, error) {
	pc := c.payin
	if pc == nil {
		return providers.Status{}, c.payinMissing("submit")
	}
	createURL := pc.base + "/api-payin/v3/online-payments"
	req := PayinBody(p, pc.merchantID, pc.method, pc.okURL, pc.errorURL, createURL, c.now().Format("2006-01-02"), pc.key)
	body, err := json.Marshal(req)
	if err != nil {
		return providers.Status{}, err
	}
	resp, err := c.do(ctx, "submit", http.MethodPost, createURL, nil, body, true)
	var cr PayinCreateResponse
	if err != nil {
		// Creation errors come in the Payin shape (payinErrorCode), which
		// the payout error classifier cannot read.
		if resp.status >= 400 && resp.status < 500 && json.Unmarshal(resp.body, &cr) == nil && cr.ErrorCode != "" {
			return providers.Status{}, &providers.APIError{Provider: Name, Op: "submit", HTTPStatus: resp.status, Code: cr.ErrorCode, Message: cr.ErrorMessage, Kind: PayinKind(cr.ErrorCode)}
		}
		return providers.Status{}, err
	}
	if err := json.Unmarshal(resp.body, &cr); err != nil {
		return providers.Status{}, decodeError("submit", err, true)
	}
	if cr.ErrorCode != PayinOK {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "submit", HTTPStatus: resp.status, Code: cr.ErrorCode, Message: cr.ErrorMessage, Kind: PayinKind(cr.ErrorCode)}
	}
	if cr.URL == "" {
		return providers.Status{}, decodeError("submit", errors.New("no url"), true)
	}
	return providers.Status{
		Outcome: providers.AwaitingBeneficiary, Refs: providers.Refs{PayoutID: p.ID, Method: providers.PaymentLink},
		RawStatus: cr.ErrorCode, URL: cr.URL, Amount: p.Amount,
	}, nil
}

// PayinKind classifies a Payin creation error code.
func PayinKind(code string) error {
	switch code {
	case PayinBadVerification, PayinBadMerchant, "0011":
		return providers.ErrAuth
	case PayinDuplicate:
		return providers.ErrDuplicate
	case "0099", "0050":
		return providers.ErrUnavailable
	}
	return providers.ErrRejected
}

// PayinStatus maps a payin state report (notification or status query).
func PayinStatus(stateID Flex, state string, amount Flex, currency, op string, errs *PayinErrorDetail) providers.Status {
	id, _ := stateID.Int()
	st := providers.Status{
		Outcome:   PayinOutcome(int(id)),
		Refs:      providers.Refs{PayoutID: op, Method: providers.PaymentLink},
		RawStatus: string(stateID) + "/" + state,
	}
	if errs != nil {
		st.Code, st.Message = errs.Code, errs.Message
	}
	if cur, ok := money.Lookup(currency); ok {
		if n, err := money.ParseMinor(string(amount), cur.Exponent); err == nil {
			st.Amount = money.Money{Minor: n, Currency: cur.Code}
		}
	}
	return st
}

func (c *Client) lookupPayin(ctx context.Context, refs providers.Refs) (providers.Status, error) {
	pc := c.payin
	if pc == nil {
		return providers.Status{}, c.payinMissing("lookup")
	}
	if refs.PayoutID == "" {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "lookup", Message: "payin lookup needs the operation number", Kind: providers.ErrUnsupported}
	}
	body, _ := json.Marshal(PayinStatusRequest{OperationNumber: refs.PayoutID})
	h := http.Header{}
	h.Set("authorization", PayinAuthorization(pc.merchantID, pc.key))
	resp, err := c.do(ctx, "lookup", http.MethodPost, pc.statusBase+"/ms-experience-payin/merchant/"+pc.merchantID+"/operations", h, body, false)
	if err != nil {
		return providers.Status{}, err
	}
	var sr PayinStatusResponse
	if err := json.Unmarshal(resp.body, &sr); err != nil {
		return providers.Status{}, decodeError("lookup", err, false)
	}
	for _, op := range sr.Operations {
		if op.OperationNumber == refs.PayoutID {
			st := PayinStatus(op.StateID, op.State, op.Amount, op.Currency, op.OperationNumber, nil)
			st.Refs.ProviderID = string(op.PayinID)
			return st, nil
		}
	}
	return providers.Status{}, &providers.APIError{Provider: Name, Op: "lookup", HTTPStatus: resp.status, Message: "no payin with operation number " + refs.PayoutID, Kind: providers.ErrNotFound}
}
