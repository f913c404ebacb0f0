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
func payinBody(p providers.Payout, op string, pc *payinConfig, today string) (payinRequest, error) {
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
	if utf8.RuneCountInString(b.Name) > 30 || utf8.RuneCountInString(b.LastName) > 30 || len(b.Email) > 50 || len(op) > maxOperation {
		return payinRequest{}, fmt.Errorf("a Monnet payment link takes names of at most 30 characters, an email of at most 50 and an operation number (the payout id, with .N for a later link) of at most %d: %w", maxOperation, providers.ErrRejected)
	}
	amount := money.FormatMinor(p.Amount.Minor, p.Amount.Exponent())
	createURL := pc.base + payinCreatePath
	return payinRequest{
		MerchantID: pc.merchantID, Amount: amount, Currency: p.Amount.Currency, OperationNumber: op,
		Method:       pc.method,
		Verification: payinVerification(pc.merchantID, op, amount, p.Amount.Currency, pc.key),
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

// A payment link's URL comes only in the answer to its creation: the status
// query and the notifications never carry it. A link whose answer was lost
// can therefore never be shown to its payer, and the row needs another link;
// but two live links for one row could be paid twice, so the next link is
// created only once Monnet says the earlier one expired (its
// payinExpirationTime passed unpaid). Links of a row are numbered: the
// first is the payout id, the next ID.2, ID.3 ... up to maxLinks. '.' is
// never in a payout id (letters, digits, '-' and '_'), so no other row's
// link can carry one of these numbers. docs/PROVIDER_GUESSES.md, Payin.
const (
	maxLinks     = 9
	maxOperation = 50 // payinMerchantOperationNumber, excerpt 001
	// linkSession prefixes a link's operation number in Refs.SessionID:
	// the link a row's payer was shown. A status about another link of
	// the row speaks for the row only when a payer acted on it (paid,
	// denied, refunded): the journal applies no other fact about a
	// session that is not the item's own.
	linkSession = "payin:"
)

// linkOperation is the operation number of a row's n-th link (n >= 1).
func linkOperation(payoutID string, n int) string {
	if n <= 1 {
		return payoutID
	}
	return payoutID + "." + strconv.Itoa(n)
}

// payoutOfOperation is the payout id a link's operation number belongs to.
func payoutOfOperation(op string) string {
	if i := strings.LastIndexByte(op, '.'); i > 0 {
		if n, err := strconv.Atoi(op[i+1:]); err == nil && n >= 2 && n <= maxLinks {
			return op[:i]
		}
	}
	return op
}

// payerActed reports whether a payer did something on a link (paid, was
// denied, was refunded): a fact about the row whichever of its links it
// was, unlike a link created, pending or expired, which speaks only for
// the link the row knows.
func payerActed(state int) bool {
	switch state {
	case payinAuthorized, payinDenied, payinSettled, payinRefunded, payinReturned:
		return true
	}
	return false
}

// linkRefs are the references of a status about the link op: the row's,
// and the link's as its session unless a payer acted on it.
func linkRefs(op string, state int) providers.Refs {
	refs := providers.Refs{PayoutID: payoutOfOperation(op), Method: providers.PaymentLink}
	if !payerActed(state) {
		refs.SessionID = linkSession + op
	}
	return refs
}

// submitPayin creates the row's payment link: its first one, or, when that
// number is taken by a link that expired without its URL ever reaching
// payrun, the next. A taken number whose link still waits for its payer
// is in doubt (its URL is unknown here; the next link waits for its
// expiry); one a payer acted on is that link's status.
func (c *Client) submitPayin(ctx context.Context, p providers.Payout) (providers.Status, error) {
	pc := c.payin
	if pc == nil {
		return providers.Status{}, c.payinMissing("submit")
	}
	for n := 1; n <= maxLinks; n++ {
		op := linkOperation(p.ID, n)
		st, err := c.createPayin(ctx, p, op)
		if !errors.Is(err, providers.ErrDuplicate) {
			return st, err
		}
		// The number is taken: by an earlier link of this row.
		old, err := c.queryPayin(ctx, op)
		if errors.Is(err, providers.ErrNotFound) {
			return providers.Status{}, inDoubt("submit", 0, "Monnet refused operation number "+op+" as a duplicate but does not report it")
		}
		if err != nil {
			return providers.Status{}, inDoubt("submit", 0, "payment link "+op+" exists and its state could not be read: "+err.Error())
		}
		id, _ := old.StateID.Int()
		switch {
		case payerActed(int(id)):
			return payinOperationStatus(old), nil
		case int(id) != payinExpired:
			return providers.Status{}, inDoubt("submit", 0, fmt.Sprintf("payment link %s exists and waits for its payer (%s), but its URL was in an answer that was lost; "+
				"the row gets a new link once Monnet reports this one expired (payin_expiration_minutes %s)", op, old.State, pc.expiration))
		}
	}
	return providers.Status{}, &providers.APIError{Provider: Name, Op: "submit", Kind: providers.ErrRejected,
		Message: fmt.Sprintf("%d payment links of this payout expired before their URL reached payrun; no more are created", maxLinks)}
}

// createPayin creates one link under the operation number op.
func (c *Client) createPayin(ctx context.Context, p providers.Payout, op string) (providers.Status, error) {
	pc := c.payin
	req, err := payinBody(p, op, pc, c.now().Format("2006-01-02"))
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
		Outcome: providers.AwaitingBeneficiary, Refs: linkRefs(op, payinCreated),
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
		Refs:      linkRefs(op, int(id)),
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

// lookupPayin reports a payment link's state. With Refs.SessionID (the
// link the row's payer was shown) it asks about that link. Without it,
// the asker has no link's URL (its creation's answer was lost, or a
// notification names only the row): it asks about the row's links in
// order and reports what a payer did on any of them, else the last one;
// a last link that expired is reported as no link at all (ErrNotFound),
// so that the row is sent again and submitPayin creates the next.
func (c *Client) lookupPayin(ctx context.Context, refs providers.Refs) (providers.Status, error) {
	if c.payin == nil {
		return providers.Status{}, c.payinMissing("lookup")
	}
	if op, ok := strings.CutPrefix(refs.SessionID, linkSession); ok && op != "" {
		o, err := c.queryPayin(ctx, op)
		if err != nil {
			return providers.Status{}, err
		}
		return payinOperationStatus(o), nil
	}
	if refs.PayoutID == "" {
		// An empty operation number asks Monnet for every operation.
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "lookup", Message: "payin lookup needs the operation number", Kind: providers.ErrUnsupported}
	}
	var last *payinOperation
	for n := 1; n <= maxLinks; n++ {
		o, err := c.queryPayin(ctx, linkOperation(refs.PayoutID, n))
		if errors.Is(err, providers.ErrNotFound) {
			break
		}
		if err != nil {
			return providers.Status{}, err
		}
		if id, _ := o.StateID.Int(); payerActed(int(id)) {
			return payinOperationStatus(o), nil
		}
		last = &o
	}
	if last == nil {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "lookup", Message: "no payin with operation number " + refs.PayoutID, Kind: providers.ErrNotFound}
	}
	if id, _ := last.StateID.Int(); int(id) == payinExpired {
		return providers.Status{}, &providers.APIError{Provider: Name, Op: "lookup", Kind: providers.ErrNotFound,
			Message: "no live payment link for " + refs.PayoutID + ": link " + last.OperationNumber + " expired unpaid, and its URL never reached payrun"}
	}
	return payinOperationStatus(*last), nil
}

// payinOperationStatus maps one operation of the status query.
func payinOperationStatus(o payinOperation) providers.Status {
	st := payinStatus(o.StateID, o.State, o.Amount, o.Currency, o.OperationNumber, nil)
	st.Refs.ProviderID = string(o.PayinID)
	return st
}

// queryPayin asks the status query about one operation number
// (ErrNotFound when Monnet has none).
func (c *Client) queryPayin(ctx context.Context, op string) (payinOperation, error) {
	pc := c.payin
	body, _ := json.Marshal(payinStatusRequest{OperationNumber: op})
	h := http.Header{}
	h.Set("authorization", payinAuthorization(pc.merchantID, pc.key))
	resp, err := c.do(ctx, "lookup", http.MethodPost, pc.statusBase+"/ms-experience-payin/merchant/"+pc.merchantID+"/operations", h, body, false)
	if err != nil {
		return payinOperation{}, err
	}
	var sr payinStatusResponse
	if err := json.Unmarshal(resp.body, &sr); err != nil {
		return payinOperation{}, decodeError("lookup", err, false)
	}
	for _, o := range sr.Operations {
		if o.OperationNumber == op {
			return o, nil
		}
	}
	return payinOperation{}, &providers.APIError{Provider: Name, Op: "lookup", HTTPStatus: resp.status, Message: "no payin with operation number " + op, Kind: providers.ErrNotFound}
}
