package providers_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/bank131"
	b131sandbox "github.com/payrun/payrun/providers/bank131/sandbox"
	"github.com/payrun/payrun/providers/monnet"
	monnetsandbox "github.com/payrun/payrun/providers/monnet/sandbox"
	"github.com/payrun/payrun/providers/sandboxkit"
	"github.com/payrun/payrun/providers/teemopay"
	teemosandbox "github.com/payrun/payrun/providers/teemopay/sandbox"
)

// The sandboxes must be able to fail the clients. Each break below is a
// mistake a client could make (signing a string one byte off what the
// provider documents, the wrong key, a header under another name, a wire
// field under another name), made by a RoundTripper between the real
// client and the real sandbox: the client is unchanged, and the request
// that leaves is what a client with that mistake would send. A break
// re-signs the request itself where the mistake is not in the signature,
// so that only the mistake it names is there. Every break must be refused
// by the sandbox: the payout is not accepted, and nothing is paid.
//
// The signing helpers here are a third implementation, from PROVIDERS.md,
// used only to produce the broken requests.

// breakage is one mistake: it rewrites an outgoing request and its body.
type breakage struct {
	name   string
	mutate func(t *testing.T, r *http.Request, body []byte) []byte
}

// breaker is a RoundTripper that applies a breakage to the requests whose
// path passes only (all when nil).
type breaker struct {
	t     *testing.T
	next  http.RoundTripper
	br    breakage
	only  func(path string) bool
	count int
}

func (b *breaker) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.only != nil && !b.only(r.URL.Path) {
		return b.next.RoundTrip(r)
	}
	r = r.Clone(r.Context())
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	body = b.br.mutate(b.t, r, body)
	b.count++
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return b.next.RoundTrip(r)
}

// probe is one provider product wired for the breakages: it builds a
// client whose requests go through rt, and the payout to send.
type probe struct {
	provider string
	kit      *sandboxkit.Kit
	client   func(t *testing.T, rt http.RoundTripper) providers.Provider
	payout   func(id string) providers.Payout
	only     func(path string) bool
	breaks   []breakage
}

func TestSandboxesRefuseBrokenClients(t *testing.T) {
	probes := []func(t *testing.T) probe{monnetPayoutProbe, monnetPayinProbe, teemopayProbe,
		func(t *testing.T) probe { return sessionProbe(t, bank131.NameBank131) },
		func(t *testing.T) probe { return sessionProbe(t, bank131.NameSmartGlocal) },
		func(t *testing.T) probe { return collectionProbe(t, bank131.NameBank131) },
		func(t *testing.T) probe { return collectionProbe(t, bank131.NameSmartGlocal) }}
	tried, refused := map[string]int{}, map[string]int{}
	var order []string
	for _, mk := range probes {
		p := mk(t)
		if _, ok := tried[p.provider]; !ok {
			order = append(order, p.provider)
		}
		// The unbroken client is accepted: the probe itself works.
		ok := p.client(t, http.DefaultTransport)
		if _, err := ok.Submit(ctxT(t), p.payout("unbroken")); err != nil {
			t.Fatalf("%s: the unbroken client was refused: %v", p.provider, err)
		}
		for i, br := range p.breaks {
			tried[p.provider]++
			id := "brk" + strconv.Itoa(i)
			rt := &breaker{t: t, next: http.DefaultTransport, br: br, only: p.only}
			c := p.client(t, rt)
			st, err := c.Submit(ctxT(t), p.payout(id))
			if rt.count == 0 {
				t.Errorf("%s: %s: the break touched no request", p.provider, br.name)
				continue
			}
			accepted := err == nil || errors.Is(err, providers.ErrDuplicate)
			if accepted || providers.IsInDoubt(err) {
				t.Errorf("%s: %s: not refused by the sandbox (status %+v, err %v)", p.provider, br.name, st, err)
				continue
			}
			if !errors.Is(err, providers.ErrAuth) && !errors.Is(err, providers.ErrRejected) {
				t.Errorf("%s: %s: err %v, want a refusal (ErrAuth or ErrRejected)", p.provider, br.name, err)
				continue
			}
			if n := p.kit.Ledger.PaidByReference()[id]; n != 0 {
				t.Errorf("%s: %s: paid %d times", p.provider, br.name, n)
				continue
			}
			refused[p.provider]++
			t.Logf("%s: %-58s refused: %v", p.provider, br.name, err)
		}
	}
	for _, name := range order {
		t.Logf("%s: %d breaks tried, %d refused by the sandbox", name, tried[name], refused[name])
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func serve(t *testing.T, h http.Handler) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func pen(minor int64) money.Money { return money.Money{Minor: minor, Currency: "PEN"} }

// rename renames a member of a JSON object body, wherever it is.
func rename(body []byte, from, to string) []byte {
	return bytes.Replace(body, []byte(`"`+from+`":`), []byte(`"`+to+`":`), 1)
}

// flipFirst changes the first byte of s to another one.
func flipFirst(s string) string {
	b := []byte(s)
	b[0] ^= 1
	return string(b)
}

// Monnet: HMAC-SHA256 over METHOD:path?timestamp=ts:sha256hex(body), the
// secret's literal bytes as the key; timestamp and signature in the query,
// the key id in monnet-api-key (PROVIDERS.md 1.2).

func monnetSig(secret, s string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil))
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// monnetResign signs r again over the string that stringOf builds.
func monnetResign(r *http.Request, secret string, stringOf func(method, path, ts string, body []byte) string, body []byte) {
	q := r.URL.Query()
	q.Set("signature", monnetSig(secret, stringOf(r.Method, r.URL.EscapedPath(), q.Get("timestamp"), body)))
	r.URL.RawQuery = q.Encode()
}

func monnetDocumented(method, path, ts string, body []byte) string {
	return method + ":" + path + "?timestamp=" + ts + ":" + sha256hex(body)
}

func monnetPayoutProbe(t *testing.T) probe {
	creds, err := monnetsandbox.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	sb := monnetsandbox.New(monnetsandbox.Options{Credentials: creds})
	t.Cleanup(sb.Close)
	url := serve(t, sb)
	cfg, err := creds.WriteFiles(t.TempDir(), url)
	if err != nil {
		t.Fatal(err)
	}
	secret := creds.APISecret
	resignWith := func(f func(method, path, ts string, body []byte) string) func(*testing.T, *http.Request, []byte) []byte {
		return func(_ *testing.T, r *http.Request, body []byte) []byte {
			monnetResign(r, secret, f, body)
			return body
		}
	}
	renamed := func(from, to string) func(*testing.T, *http.Request, []byte) []byte {
		return func(_ *testing.T, r *http.Request, body []byte) []byte {
			body = rename(body, from, to)
			monnetResign(r, secret, monnetDocumented, body)
			return body
		}
	}
	return probe{
		provider: "monnet",
		kit:      sb.Kit(),
		client: func(t *testing.T, rt http.RoundTripper) providers.Provider {
			c, err := monnet.New(cfg, providers.Deps{HTTP: &http.Client{Transport: rt}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		payout: func(id string) providers.Payout {
			return providers.Payout{ID: id, Method: providers.BankTransfer, Country: "PE", Amount: pen(150_50),
				Beneficiary: providers.Beneficiary{Name: "Sergio", LastName: "Quispe", Email: "s@example.com", DocumentType: "DNI",
					DocumentNumber: "12345678", BankCode: "002", AccountType: "savings", CCI: "00243000584290204477"}}
		},
		breaks: []breakage{
			{"string to sign: a ':' between path and ?timestamp", resignWith(func(m, p, ts string, b []byte) string {
				return m + ":" + p + ":?timestamp=" + ts + ":" + sha256hex(b)
			})},
			{"string to sign: body hash in upper case", resignWith(func(m, p, ts string, b []byte) string {
				return m + ":" + p + "?timestamp=" + ts + ":" + strings.ToUpper(sha256hex(b))
			})},
			{"string to sign: the path's last byte dropped", resignWith(func(m, p, ts string, b []byte) string {
				return monnetDocumented(m, p[:len(p)-1], ts, b)
			})},
			{"string to sign: the timestamp in seconds", resignWith(func(m, p, ts string, b []byte) string {
				return monnetDocumented(m, p, ts[:len(ts)-3], b)
			})},
			{"string to sign: hash of the body re-serialised", resignWith(func(m, p, ts string, b []byte) string {
				var v any
				_ = json.Unmarshal(b, &v)
				again, _ := json.MarshalIndent(v, "", " ")
				return monnetDocumented(m, p, ts, again)
			})},
			{"key: the secret base64-decoded", func(_ *testing.T, r *http.Request, body []byte) []byte {
				raw, _ := base64.StdEncoding.DecodeString(secret)
				monnetResign(r, string(raw), monnetDocumented, body)
				return body
			}},
			{"key: one byte of the secret changed", func(_ *testing.T, r *http.Request, body []byte) []byte {
				monnetResign(r, flipFirst(secret), monnetDocumented, body)
				return body
			}},
			{"header: monnet-api-key sent as x-api-key", func(_ *testing.T, r *http.Request, body []byte) []byte {
				r.Header.Set("x-api-key", r.Header.Get("monnet-api-key"))
				r.Header.Del("monnet-api-key")
				return body
			}},
			{"header: the signature in a header, not the query", func(_ *testing.T, r *http.Request, body []byte) []byte {
				q := r.URL.Query()
				r.Header.Set("monnet-api-signature", q.Get("signature"))
				q.Del("signature")
				r.URL.RawQuery = q.Encode()
				return body
			}},
			{"field: orderId written orderID", renamed("orderId", "orderID")},
			{"field: lastName written last_name", renamed("lastName", "last_name")},
			{"field: bankAccount written bank_account", renamed("bankAccount", "bank_account")},
			{"field: accountType as the docs' string \"2\"", func(_ *testing.T, r *http.Request, body []byte) []byte {
				body = bytes.Replace(body, []byte(`"accountType":2`), []byte(`"accountType":"2"`), 1)
				monnetResign(r, secret, monnetDocumented, body)
				return body
			}},
		},
	}
}

// Monnet Payin V3: payinVerification = sha512hex(merchantID + operation +
// amount + currency + key), in the body (PROVIDERS.md 2).
func monnetPayinProbe(t *testing.T) probe {
	creds, err := monnetsandbox.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	sb := monnetsandbox.New(monnetsandbox.Options{Credentials: creds})
	t.Cleanup(sb.Close)
	url := serve(t, sb)
	cfg, err := creds.WriteFiles(t.TempDir(), url)
	if err != nil {
		t.Fatal(err)
	}
	reverify := func(concat func(f map[string]any) string) func(*testing.T, *http.Request, []byte) []byte {
		return func(t *testing.T, _ *http.Request, body []byte) []byte {
			var f map[string]any
			if err := json.Unmarshal(body, &f); err != nil {
				t.Fatal(err)
			}
			sum := sha512.Sum512([]byte(concat(f)))
			f["payinVerification"] = hex.EncodeToString(sum[:])
			out, _ := json.Marshal(f)
			return out
		}
	}
	str := func(f map[string]any, k string) string { s, _ := f[k].(string); return s }
	documented := func(key string) func(map[string]any) string {
		return func(f map[string]any) string {
			return str(f, "payinMerchantID") + str(f, "payinMerchantOperationNumber") + str(f, "payinAmount") + str(f, "payinCurrency") + key
		}
	}
	renamed := func(from, to string) func(*testing.T, *http.Request, []byte) []byte {
		return func(_ *testing.T, _ *http.Request, body []byte) []byte { return rename(body, from, to) }
	}
	return probe{
		provider: "monnet payin",
		kit:      sb.Kit(),
		only:     func(p string) bool { return strings.HasSuffix(p, "/online-payments") },
		client: func(t *testing.T, rt http.RoundTripper) providers.Provider {
			c, err := monnet.New(cfg, providers.Deps{HTTP: &http.Client{Transport: rt}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		payout: func(id string) providers.Payout {
			return providers.Payout{ID: id, Method: providers.PaymentLink, Country: "PE", Amount: pen(30_00),
				Beneficiary: providers.Beneficiary{Name: "Sergio", LastName: "Quispe", Email: "s@example.com", Phone: "987654321",
					DocumentType: "DNI", DocumentNumber: "12345678"}}
		},
		breaks: []breakage{
			{"string to sign: the amount with one decimal", reverify(func(f map[string]any) string {
				a := str(f, "payinAmount")
				return str(f, "payinMerchantID") + str(f, "payinMerchantOperationNumber") + a[:len(a)-1] + str(f, "payinCurrency") + creds.PayinKey
			})},
			{"string to sign: currency before amount", reverify(func(f map[string]any) string {
				return str(f, "payinMerchantID") + str(f, "payinMerchantOperationNumber") + str(f, "payinCurrency") + str(f, "payinAmount") + creds.PayinKey
			})},
			{"key: one byte of the payin key changed", reverify(documented(flipFirst(creds.PayinKey)))},
			{"field: URLMonnet written urlMonnet", renamed("URLMonnet", "urlMonnet")},
			{"field: payinCustomerPhone written payinCustomerMobile", renamed("payinCustomerPhone", "payinCustomerMobile")},
		},
	}
}

// TeemoPay: sign = base64 SHA1withRSA (merchant key) over the body's
// fields but sign, nulls and blanks dropped, keys in ASCII order, k=v
// joined by &, then &nonce=<nonce header> (PROVIDERS.md 3.1).

func teemoString(fields map[string]any, nonce string, sorted bool) string {
	keys := make([]string, 0, len(fields))
	for k, v := range fields {
		if s, ok := v.(string); k == "sign" || v == nil || ok && strings.TrimSpace(s) == "" {
			continue
		}
		keys = append(keys, k)
	}
	if sorted {
		sort.Strings(keys)
	} else {
		sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	}
	var parts []string
	for _, k := range keys {
		switch v := fields[k].(type) {
		case json.Number:
			parts = append(parts, k+"="+v.String())
		default:
			parts = append(parts, k+"="+v.(string))
		}
	}
	return strings.Join(parts, "&") + "&nonce=" + nonce
}

func teemoFields(t *testing.T, body []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var f map[string]any
	if err := dec.Decode(&f); err != nil {
		t.Fatal(err)
	}
	return f
}

func teemoSign(t *testing.T, key *rsa.PrivateKey, s string) string {
	h := sha1.Sum([]byte(s))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA1, h[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// rawHeader reads a header the client set under its own spelling
// (TeemoPay's lower-case app_code and nonce), or its canonical form.
func rawHeader(r *http.Request, k string) string {
	if v := r.Header[k]; len(v) > 0 {
		return v[0]
	}
	return r.Header.Get(k)
}

func teemopayProbe(t *testing.T) probe {
	sb := teemosandbox.New(teemosandbox.Options{})
	t.Cleanup(sb.Close)
	url := serve(t, sb)
	creds := sb.Credentials()
	cfg, err := creds.WriteFiles(t.TempDir(), url)
	if err != nil {
		t.Fatal(err)
	}
	resign := func(key *rsa.PrivateKey, stringOf func(f map[string]any, nonce string) string, edit func(map[string]any)) func(*testing.T, *http.Request, []byte) []byte {
		return func(t *testing.T, r *http.Request, body []byte) []byte {
			f := teemoFields(t, body)
			if edit != nil {
				edit(f)
			}
			delete(f, "sign")
			f["sign"] = teemoSign(t, key, stringOf(f, rawHeader(r, "nonce")))
			out, _ := json.Marshal(f)
			return out
		}
	}
	documented := func(f map[string]any, nonce string) string { return teemoString(f, nonce, true) }
	renameField := func(from, to string) func(map[string]any) {
		return func(f map[string]any) { f[to] = f[from]; delete(f, from) }
	}
	return probe{
		provider: "teemopay",
		kit:      sb.Kit(),
		client: func(t *testing.T, rt http.RoundTripper) providers.Provider {
			c, err := teemopay.New(cfg, providers.Deps{HTTP: &http.Client{Transport: rt}, Now: sb.Kit().Clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		payout: func(id string) providers.Payout {
			return providers.Payout{ID: id, Method: providers.BankTransfer, Country: "PE", Amount: pen(150_50),
				Beneficiary: providers.Beneficiary{Name: "Ana", LastName: "Quispe", DocumentType: "DNI", DocumentNumber: "01234567",
					BankCode: "002", AccountType: "savings", AccountNumber: "19312345678901"}}
		},
		breaks: []breakage{
			{"string to sign: keys in reverse order", resign(creds.MerchantKey, func(f map[string]any, n string) string { return teemoString(f, n, false) }, nil)},
			{"string to sign: without &nonce=", resign(creds.MerchantKey, func(f map[string]any, n string) string {
				return strings.TrimSuffix(teemoString(f, n, true), "&nonce="+n)
			}, nil)},
			{"string to sign: the timestamp signed too", resign(creds.MerchantKey, func(f map[string]any, n string) string {
				return "timestamp=" + strconv.FormatInt(time.Now().UnixMilli(), 10) + "&" + teemoString(f, n, true)
			}, nil)},
			{"string to sign: one byte of the nonce off", resign(creds.MerchantKey, func(f map[string]any, n string) string {
				return teemoString(f, n[:len(n)-1]+"x", true)
			}, nil)},
			{"key: signed with the platform's key", resign(creds.PlatformKey, documented, nil)},
			{"header: app_code sent as appCode (the callbacks' name)", func(_ *testing.T, r *http.Request, body []byte) []byte {
				r.Header["appCode"] = r.Header["app_code"]
				delete(r.Header, "app_code")
				return body
			}},
			{"header: nonce sent as x-nonce", func(_ *testing.T, r *http.Request, body []byte) []byte {
				r.Header["x-nonce"] = []string{rawHeader(r, "nonce")}
				delete(r.Header, "nonce")
				r.Header.Del("nonce")
				return body
			}},
			{"field: merchantOrderNo written merchantOrderNO", resign(creds.MerchantKey, documented, renameField("merchantOrderNo", "merchantOrderNO"))},
			{"field: bankAccount written accountNumber", resign(creds.MerchantKey, documented, renameField("bankAccount", "accountNumber"))},
			{"field: the CCI sent as bankAccount", resign(creds.MerchantKey, documented, func(f map[string]any) { f["bankAccount"] = "00219300123456789012" })},
		},
	}
}

// Bank 131 and Smart Glocal: X-PARTNER-SIGN = base64 RSASSA-PKCS1-v1_5
// SHA-256 over the exact body bytes (merchant key), X-PARTNER-PROJECT
// (PROVIDERS.md 4.2).

func sessionSign(t *testing.T, key *rsa.PrivateKey, h crypto.Hash, msg []byte) string {
	var digest []byte
	switch h {
	case crypto.SHA1:
		s := sha1.Sum(msg)
		digest = s[:]
	default:
		s := sha256.Sum256(msg)
		digest = s[:]
	}
	sig, err := rsa.SignPKCS1v15(nil, key, h, digest)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func sessionProbe(t *testing.T, name string) probe {
	creds, err := b131sandbox.NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	sb := b131sandbox.New(b131sandbox.Options{Name: name, Credentials: creds})
	t.Cleanup(sb.Close)
	url := serve(t, sb)
	cfg, err := creds.WriteFiles(t.TempDir(), url)
	if err != nil {
		t.Fatal(err)
	}
	probeKeys[creds.Project] = creds.MerchantKey
	resign := func(key *rsa.PrivateKey, h crypto.Hash, signed func([]byte) []byte, edit func([]byte) []byte) func(*testing.T, *http.Request, []byte) []byte {
		return func(t *testing.T, r *http.Request, body []byte) []byte {
			if edit != nil {
				body = edit(body)
			}
			r.Header.Set("X-PARTNER-SIGN", sessionSign(t, key, h, signed(body)))
			return body
		}
	}
	same := func(b []byte) []byte { return b }
	renamed := func(from, to string) func([]byte) []byte { return func(b []byte) []byte { return rename(b, from, to) } }
	return probe{
		provider: name,
		kit:      sb.Kit(),
		client: func(t *testing.T, rt http.RoundTripper) providers.Provider {
			c, err := bank131.NewNamed(name, cfg, providers.Deps{HTTP: &http.Client{Transport: rt}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
		payout: func(id string) providers.Payout {
			return providers.Payout{ID: id, Method: providers.CardToken, Amount: money.Money{Minor: 100_00, Currency: "RUB"},
				Beneficiary: providers.Beneficiary{Name: "Ivan", LastName: "Petrov", CardToken: strings.Repeat("ab", 32)}}
		},
		breaks: []breakage{
			{"string to sign: the body with a trailing newline", resign(creds.MerchantKey, crypto.SHA256, func(b []byte) []byte { return append(append([]byte(nil), b...), '\n') }, nil)},
			{"string to sign: the body re-serialised", resign(creds.MerchantKey, crypto.SHA256, func(b []byte) []byte {
				var v any
				_ = json.Unmarshal(b, &v)
				out, _ := json.MarshalIndent(v, "", "  ")
				return out
			}, nil)},
			{"string to sign: SHA-1 instead of SHA-256", resign(creds.MerchantKey, crypto.SHA1, same, nil)},
			{"key: signed with the provider's key", resign(creds.ProviderKey, crypto.SHA256, same, nil)},
			{"header: X-PARTNER-SIGN sent as X-PARTNER-SIGNATURE", func(_ *testing.T, r *http.Request, body []byte) []byte {
				r.Header.Set("X-PARTNER-SIGNATURE", r.Header.Get("X-PARTNER-SIGN"))
				r.Header.Del("X-PARTNER-SIGN")
				return body
			}},
			{"header: X-PARTNER-PROJECT sent as X-PROJECT", func(_ *testing.T, r *http.Request, body []byte) []byte {
				r.Header.Set("X-PROJECT", r.Header.Get("X-PARTNER-PROJECT"))
				r.Header.Del("X-PARTNER-PROJECT")
				return body
			}},
			oneOf(name == bank131.NameSmartGlocal,
				// session/init/payout (one call): its card under another name.
				breakage{"field: payment_method written paymentMethod", resign(creds.MerchantKey, crypto.SHA256, same, renamed("payment_method", "paymentMethod"))},
				breakage{"field: session_id written sessionId", resign(creds.MerchantKey, crypto.SHA256, same, renamed("session_id", "sessionId"))}),
			{"field: amount_details written Amount_Details", resign(creds.MerchantKey, crypto.SHA256, same, func(b []byte) []byte {
				return bytes.ReplaceAll(b, []byte(`"amount_details":`), []byte(`"Amount_Details":`))
			})},
			{"field: participant_details written participants", resign(creds.MerchantKey, crypto.SHA256, same, renamed("participant_details", "participants"))},
		},
	}
}

func oneOf(first bool, a, b breakage) breakage {
	if first {
		return a
	}
	return b
}

// collectionProbe sends card collections (card_token rows without a
// token): Submit's one request is POST /token for the widget's public
// token. TestSandboxesRefuseBrokenTokenInfo breaks token/info, the other
// call of the collection flow that Submit does not make.
func collectionProbe(t *testing.T, name string) probe {
	p := sessionProbe(t, name)
	p.provider = name + " collection"
	p.payout = func(id string) providers.Payout {
		return providers.Payout{ID: id, Method: providers.CardToken, Amount: money.Money{Minor: 100_00, Currency: "RUB"},
			Beneficiary: providers.Beneficiary{Name: "Ivan", LastName: "Petrov", Email: "ivan@example.com"}}
	}
	keep := p.breaks[:6] // the signature and header breaks
	p.breaks = append(keep,
		breakage{"field: tokenize_widget written tokenizeWidget", func(t *testing.T, r *http.Request, body []byte) []byte {
			body = rename(body, "tokenize_widget", "tokenizeWidget")
			r.Header.Set("X-PARTNER-SIGN", reSign(t, r, body))
			return body
		}},
		breakage{"field: access written enabled", func(t *testing.T, r *http.Request, body []byte) []byte {
			body = rename(body, "access", "enabled")
			r.Header.Set("X-PARTNER-SIGN", reSign(t, r, body))
			return body
		}})
	return p
}

// reSign signs a broken body with the key the probe's client uses, found
// by the sandbox credentials of the request's project.
var probeKeys = map[string]*rsa.PrivateKey{}

func reSign(t *testing.T, r *http.Request, body []byte) string {
	key := probeKeys[r.Header.Get("X-PARTNER-PROJECT")]
	if key == nil {
		t.Fatalf("no probe key for project %q", r.Header.Get("X-PARTNER-PROJECT"))
	}
	return sessionSign(t, key, crypto.SHA256, body)
}

// TestSandboxesRefuseBrokenTokenInfo breaks the client's token/info (the
// check of a card hash the widget issued): every break is refused, and the
// unbroken call answers the card's last four digits.
func TestSandboxesRefuseBrokenTokenInfo(t *testing.T) {
	for _, name := range []string{bank131.NameBank131, bank131.NameSmartGlocal} {
		creds, err := b131sandbox.NewCredentials()
		if err != nil {
			t.Fatal(err)
		}
		sb := b131sandbox.New(b131sandbox.Options{Name: name, Credentials: creds, StrictTokens: true})
		t.Cleanup(sb.Close)
		url := serve(t, sb)
		cfg, err := creds.WriteFiles(t.TempDir(), url)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := sb.Token("4242424242424242")
		if err != nil {
			t.Fatal(err)
		}
		client := func(rt http.RoundTripper) *bank131.Client {
			c, err := bank131.NewNamed(name, cfg, providers.Deps{HTTP: &http.Client{Transport: rt}})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if last4, err := client(http.DefaultTransport).CheckCardHash(ctxT(t), tok); err != nil || last4 != "4242" {
			t.Fatalf("%s: unbroken token/info: %q %v", name, last4, err)
		}
		edit := func(from, to string) func(*testing.T, *http.Request, []byte) []byte {
			return func(t *testing.T, r *http.Request, body []byte) []byte {
				body = rename(body, from, to)
				r.Header.Set("X-PARTNER-SIGN", sessionSign(t, creds.MerchantKey, crypto.SHA256, body))
				return body
			}
		}
		for _, br := range []breakage{
			{"key: signed with the provider's key", func(t *testing.T, r *http.Request, body []byte) []byte {
				r.Header.Set("X-PARTNER-SIGN", sessionSign(t, creds.ProviderKey, crypto.SHA256, body))
				return body
			}},
			{"field: type written kind", edit("type", "kind")},
			{"field: number_hash written numberHash", edit("number_hash", "numberHash")},
			{"field: encrypted_card written encryptedCard", edit("encrypted_card", "encryptedCard")},
		} {
			rt := &breaker{t: t, next: http.DefaultTransport, br: br}
			last4, err := client(rt).CheckCardHash(ctxT(t), tok)
			if err == nil || rt.count == 0 {
				t.Errorf("%s token/info: %s: not refused (%q)", name, br.name, last4)
				continue
			}
			t.Logf("%s token/info: %-44s refused: %v", name, br.name, err)
		}
	}
}
