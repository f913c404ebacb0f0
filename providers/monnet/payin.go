package monnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
)

// Payin V3 (excerpt 001, PROVIDERS.md 2): a payment link. payrun uses it as
// a "payment_link" payout method: the link goes to the payer, the payout ID
// is the payinMerchantOperationNumber, and the outcome arrives as a Payin
// notification or from the status query by operation number.
//
// The request is Monnet's documented one, every field of it, posted to
// {payin_base_url}/api-payin/v3/online-payments with URLMonnet naming that
// same URL and typePost "json". For card methods (TCTD, TC, TD) the
// document is the back-to-back service: every request must also carry the
// payer's card (payinPan, payinCvv, payinCardExpiration), which only a
// PCI-certified merchant may send and which payrun never holds. New
// therefore refuses a configuration that would send card payments, rather
// than send requests Monnet must refuse; links for the other methods (Cash,
// BankTransfer, ...) carry no card fields.

// Payin state ids (PAYINs/03-resources/01-status-codes.md).
const (
	payinCreated    = 1
	payinPending    = 2
	payinExpired    = 3
	payinAuthorized = 5
	payinDenied     = 6
	payinSettled    = 9
	payinRefunded   = 10
	payinReturned   = 11
)

// payinCreatePath is where Payin V3 creates a transaction.
const payinCreatePath = "/api-payin/v3/online-payments"

// payinMethods is Monnet's payin method list (PAYINs/03-resources/
// 02-payin-method.md); payinCardMethods need the card in every request.
var (
	payinMethods     = []string{"TCTD", "TC", "TD", "Cash", "BankTransfer", "BankTransfer_Businesses", "Wallet", "QR", "VA"}
	payinCardMethods = []string{"TCTD", "TC", "TD"}
)

// payinOutcome maps payinStateID to payrun's outcome.
func payinOutcome(state int) providers.Outcome {
	switch state {
	case payinCreated, payinPending:
		return providers.AwaitingBeneficiary
	case payinExpired:
		return providers.Expired
	case payinAuthorized, payinSettled:
		return providers.Succeeded
	case payinDenied:
		return providers.Failed
	case payinRefunded, payinReturned:
		return providers.Reversed
	}
	return providers.Processing
}

// newPayinConfig reads the Payin V3 settings of Config.Extra; nil when
// payin_base_url is not set. Every problem is a configuration error, found
// at start-up: a card method, the card proxy's URL, a URL Monnet would
// refuse, a missing merchant id or key.
func newPayinConfig(extra map[string]string) (*payinConfig, error) {
	base := strings.TrimRight(extra["payin_base_url"], "/")
	if base == "" {
		return nil, nil
	}
	pc := &payinConfig{
		base: base, statusBase: strings.TrimRight(extra["payin_status_url"], "/"),
		merchantID: extra["payin_merchant_id"], okURL: extra["payin_ok_url"], errorURL: extra["payin_error_url"],
		method: extra["payin_method"], expiration: extra["payin_expiration_minutes"],
	}
	if pc.statusBase == "" {
		pc.statusBase = base
	}
	var problems []string
	u, err := url.Parse(base)
	switch {
	case err != nil || u.Host == "":
		problems = append(problems, "payin_base_url "+base+" is not a URL")
	case strings.Contains(u.Host, "pci-proxy"):
		problems = append(problems, "payin_base_url is the PCI proxy of Monnet's back-to-back card service, which forwards the payer's card number; "+
			"payrun never holds card data: use the Payin API's own host (cert https://cert.monnetpayments.com, production https://payin.api.monnetpayments.com)")
	}
	switch {
	case pc.method == "":
		problems = append(problems, "payin_method is required: one of "+strings.Join(nonCardMethods(), ", "))
	case slices.Contains(payinCardMethods, pc.method):
		problems = append(problems, "payin_method "+pc.method+" is a card payment: Monnet's Payin V3 document (back-to-back) requires the payer's card "+
			"(payinPan, payinCvv, payinCardExpiration) in every request, which only PCI-certified merchants may send and payrun never holds; "+
			"choose one of "+strings.Join(nonCardMethods(), ", ")+", or remove payin_base_url to disable payment links")
	case !slices.Contains(payinMethods, pc.method):
		problems = append(problems, "payin_method "+pc.method+" is not a Monnet payin method ("+strings.Join(payinMethods, ", ")+")")
	}
	if pc.merchantID == "" {
		problems = append(problems, "payin_merchant_id is required")
	}
	for name, v := range map[string]string{"payin_ok_url": pc.okURL, "payin_error_url": pc.errorURL} {
		if !strings.HasPrefix(v, "https://") || len(v) > 250 {
			problems = append(problems, name+" must be an https URL of at most 250 characters (Monnet redirects the payer there)")
		}
	}
	if pc.expiration == "" {
		// The documents' suggested minimum: 30 minutes online, 2 hours cash.
		pc.expiration = "30"
		if pc.method == "Cash" {
			pc.expiration = "120"
		}
	}
	if m, err := strconv.Atoi(pc.expiration); err != nil || m <= 0 {
		problems = append(problems, "payin_expiration_minutes must be a positive number of minutes")
	}
	key, err := providers.Secret(extra["payin_key"])
	if err != nil {
		problems = append(problems, "payin_key: "+err.Error())
	}
	pc.key = key
	if len(problems) > 0 {
		return nil, errors.New("Payin V3: " + strings.Join(problems, "; "))
	}
	return pc, nil
}

func nonCardMethods() []string {
	var out []string
	for _, m := range payinMethods {
		if !slices.Contains(payinCardMethods, m) {
			out = append(out, m)
		}
	}
	return out
}

// payinBody builds the Payin V3 create body, every documented field
// present; today is "YYYY-MM-DD". It refuses, as ErrRejected, a payer
// Monnet would refuse: first name, last name, email and phone "must NOT be
// sent with empty values on any case".
func payinBody(p providers.Payout, pc *payinConfig, today string) (payinRequest, error) {
	b := p.Beneficiary
	var missing []string
	for name, v := range map[string]string{"name": b.Name, "last_name": b.LastName, "email": b.Email, "phone": b.Phone} {
		if strings.TrimSpace(v) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return payinRequest{}, fmt.Errorf("a Monnet payment link needs the payer's %s: %w", strings.Join(missing, ", "), providers.ErrRejected)
	}
	if utf8.RuneCountInString(b.Name) > 30 || utf8.RuneCountInString(b.LastName) > 30 || len(b.Email) > 50 || len(p.ID) > 50 {
		return payinRequest{}, fmt.Errorf("a Monnet payment link takes names of at most 30 characters, an email of at most 50 and a payout id of at most 50: %w", providers.ErrRejected)
	}
	amount := money.FormatMinor(p.Amount.Minor, p.Amount.Exponent())
	createURL := pc.base + payinCreatePath
	return payinRequest{
		MerchantID: pc.merchantID, Amount: amount, Currency: p.Amount.Currency, OperationNumber: p.ID,
		Method:       pc.method,
		Verification: payinVerification(pc.merchantID, p.ID, amount, p.Amount.Currency, pc.key),
		CustomerName: b.Name, CustomerLastName: b.LastName, CustomerEmail: b.Email, CustomerPhone: b.Phone,
		CustomerTypeDocument: strings.ToUpper(b.DocumentType), CustomerDocument: b.DocumentNumber,
		RegularCustomer: "0", CustomerID: p.ID, DiscountCoupon: "0", Language: "ES", ExpirationTime: pc.expiration,
		DateTime: today, TransactionOKURL: pc.okURL, TransactionErrorURL: pc.errorURL, FilterBy: "0",
		CustomerAddress: "0", CustomerCity: "Lima", CustomerRegion: "Lima", CustomerCountry: "Peru", CustomerZipCode: "0",
		CustomerShippingName: b.FullName(), CustomerShippingPhone: b.Phone, CustomerShippingAddress: "0",
		CustomerShippingCity: "Lima", CustomerShippingRegion: "Lima", CustomerShippingCountry: "Peru", CustomerShippingZipCode: "0",
		ProductID: "0", ProductDescription: orDefault(p.Description, "0"), ProductAmount: amount, ProductSku: "0", ProductQuantity: "1",
		URLMonnet: createURL, TypePost: "json",
	}, nil
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
	req, err := payinBody(p, pc, c.now().Format("2006-01-02"))
	if err != nil {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "submit", Message: err.Error(), Kind: providers.ErrRejected}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return providers.Status{}, err
	}
	resp, err := c.do(ctx, "submit", http.MethodPost, pc.base+payinCreatePath, nil, body, true)
	var cr payinCreateResponse
	if err != nil {
		// Creation errors come in the Payin shape (payinErrorCode), which
		// the payout error classifier cannot read.
		if resp.status >= 400 && resp.status < 500 && json.Unmarshal(resp.body, &cr) == nil && cr.ErrorCode != "" {
			return providers.Status{}, &providers.APIError{Provider: Name, Op: "submit", HTTPStatus: resp.status, Code: cr.ErrorCode, Message: cr.ErrorMessage, Kind: payinKind(cr.ErrorCode)}
		}
		return providers.Status{}, err
	}
	if err := json.Unmarshal(resp.body, &cr); err != nil {
		return providers.Status{}, decodeError("submit", err, true)
	}
	if cr.ErrorCode != payinOK {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "submit", HTTPStatus: resp.status, Code: cr.ErrorCode, Message: cr.ErrorMessage, Kind: payinKind(cr.ErrorCode)}
	}
	if cr.URL == "" {
		return providers.Status{}, inDoubt("submit", resp.status, "no url")
	}
	// payinTrxOperation, when the answer has it, is not the payinID the
	// status query and notifications name, so it is not kept as the
	// provider's id.
	return providers.Status{
		Outcome: providers.AwaitingBeneficiary, Refs: providers.Refs{PayoutID: p.ID, Method: providers.PaymentLink},
		RawStatus: cr.ErrorCode, URL: cr.URL, Amount: p.Amount,
	}, nil
}

// payinKind classifies a Payin creation error code.
func payinKind(code string) error {
	switch code {
	case payinBadVerification, payinBadMerchant, "0011":
		return providers.ErrAuth
	case payinDuplicate:
		return providers.ErrDuplicate
	case "0099", "0050":
		return providers.ErrUnavailable
	}
	return providers.ErrRejected
}

// payinStatus maps a payin state report (notification or status query).
func payinStatus(stateID flex, state string, amount flex, currency, op string, errs *payinErrorDetail) providers.Status {
	id, _ := stateID.Int()
	st := providers.Status{
		Outcome:   payinOutcome(int(id)),
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
		// An empty operation number asks Monnet for every operation.
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "lookup", Message: "payin lookup needs the operation number", Kind: providers.ErrUnsupported}
	}
	body, _ := json.Marshal(payinStatusRequest{OperationNumber: refs.PayoutID})
	h := http.Header{}
	h.Set("authorization", payinAuthorization(pc.merchantID, pc.key))
	resp, err := c.do(ctx, "lookup", http.MethodPost, pc.statusBase+"/ms-experience-payin/merchant/"+pc.merchantID+"/operations", h, body, false)
	if err != nil {
		return providers.Status{}, err
	}
	var sr payinStatusResponse
	if err := json.Unmarshal(resp.body, &sr); err != nil {
		return providers.Status{}, decodeError("lookup", err, false)
	}
	for _, op := range sr.Operations {
		if op.OperationNumber == refs.PayoutID {
			st := payinStatus(op.StateID, op.State, op.Amount, op.Currency, op.OperationNumber, nil)
			st.Refs.ProviderID = string(op.PayinID)
			return st, nil
		}
	}
	return providers.Status{}, &providers.APIError{Provider: Name, Op: "lookup", HTTPStatus: resp.status, Message: "no payin with operation number " + refs.PayoutID, Kind: providers.ErrNotFound}
}
