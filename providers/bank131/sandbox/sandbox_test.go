package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/providers/sandboxkit"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var (
	credsOnce sync.Once
	creds     Credentials
	credsErr  error
)

// These tests speak the wire protocol by hand, independently of the client.
func setup(t *testing.T, name string) (*Sandbox, *httptest.Server) {
	t.Helper()
	credsOnce.Do(func() { creds, credsErr = NewCredentials() })
	if credsErr != nil {
		t.Fatal(credsErr)
	}
	sb := New(Options{Name: name, Seed: 1, ProcessingDelay: time.Millisecond, Credentials: creds})
	srv := httptest.NewServer(sb)
	t.Cleanup(func() {
		srv.Close()
		sb.Close()
	})
	return sb, srv
}

type answer struct {
	Status  string
	Session *struct {
		ID         string
		Status     string
		NextAction string `json:"next_action"`
	}
	Error *struct{ Code string }
}

func post(t *testing.T, srv *httptest.Server, path, key, body string, signed bool) (int, answer) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-PARTNER-PROJECT", creds.Project)
	if signed {
		req.Header.Set("X-PARTNER-SIGN", sign(creds.MerchantKey, []byte(body)))
	} else {
		req.Header.Set("X-PARTNER-SIGN", sign(creds.ProviderKey, []byte(body)))
	}
	if key != "" {
		req.Header.Set("X-PARTNER-IDEMPOTENCY-KEY", key)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("%s: answer is not JSON: %v", path, err)
	}
	return resp.StatusCode, a
}

const tok = "63191fa17cc7edf818ee5d6611a2c2169ab30b705111cffd710af39880deef09"

func start(id string) string {
	return `{"session_id":"` + id + `","payment_method":{"type":"card","card":{"type":"encrypted_card","encrypted_card":{"number_hash":"` + tok + `"}}},` +
		`"participant_details":{"recipient":{"full_name":"John Johnson"}},"customer":{"reference":"r-1"},"metadata":"r-1"}`
}

func TestProtocol(t *testing.T) {
	sb, srv := setup(t, "bank131")
	create := `{"amount_details":{"amount":10000,"currency":"rub"},"metadata":"r-1"}`

	if code, a := post(t, srv, "/api/v1/session/create", "k1", create, false); code != http.StatusForbidden || a.Status != "error" || a.Error.Code != "invalid_signature" {
		t.Errorf("bad signature: %d %+v", code, a)
	}
	code, a := post(t, srv, "/api/v1/session/create", "k1", create, true)
	if code != http.StatusOK || a.Status != "ok" || !strings.HasPrefix(a.Session.ID, "ps_") || a.Session.Status != "created" {
		t.Fatalf("create: %d %+v", code, a)
	}
	id := a.Session.ID
	code, dup := post(t, srv, "/api/v1/session/create", "k1", create, true)
	if code != http.StatusBadRequest || dup.Error == nil || dup.Error.Code != "idempotency_key_already_exists" || dup.Session != nil {
		t.Errorf("reused key: %d %+v", code, dup)
	}
	for _, c := range []struct{ body, code string }{
		{`{"amount_details":{"amount":0,"currency":"rub"}}`, "invalid_amount"},
		{`{"amount_details":{"amount":100,"currency":"pen"}}`, "invalid_currency"},
		{`not json`, "invalid_request"},
	} {
		if _, a := post(t, srv, "/api/v1/session/create", "", c.body, true); a.Error == nil || a.Error.Code != c.code {
			t.Errorf("%s: %+v, want %s", c.body, a, c.code)
		}
	}
	if _, a := post(t, srv, "/api/v1/session/start/payout", "", strings.Replace(start(id), tok, "abc", 1), true); a.Error == nil || a.Error.Code != "invalid_card" {
		t.Errorf("bad token: %+v", a)
	}
	if _, a := post(t, srv, "/api/v1/session/start/payout", "", strings.Replace(start(id), "John Johnson", "", 1), true); a.Error == nil || a.Error.Code != "validation_error" {
		t.Errorf("no recipient: %+v", a)
	}
	if _, a := post(t, srv, "/api/v1/session/confirm", "", `{"session_id":"`+id+`"}`, true); a.Error == nil || a.Error.Code != "invalid_session_status" {
		t.Errorf("confirm before start: %+v", a)
	}
	if code, a := post(t, srv, "/api/v2/session/start/payout", "k1:start", start(id), true); code != http.StatusOK || a.Session.Status != "in_progress" {
		t.Fatalf("start (v2 path): %d %+v", code, a)
	}
	var st answer
	deadline := time.Now().Add(5 * time.Second)
	for st.Session == nil || st.Session.NextAction != "confirm" {
		if time.Now().After(deadline) {
			t.Fatalf("no ready_to_confirm: %+v", st)
		}
		_, st = post(t, srv, "/api/v1/session/status", "", `{"session_id":"`+id+`"}`, true)
	}
	if e := sb.Kit().Ledger.Entries(); len(e) != 1 || e[0].State != "pending" || e[0].Reference != "r-1" || e[0].Amount != 10000 || e[0].Currency != "RUB" {
		t.Errorf("ledger before confirm: %+v", e)
	}
	if code, a := post(t, srv, "/api/v1/session/status", "", `{"session_id":"ps_0"}`, true); code != http.StatusNotFound || a.Error.Code != "session_not_found" {
		t.Errorf("unknown session: %d %+v", code, a)
	}
	if code, a := post(t, srv, "/api/v1/session/refund", "", `{}`, true); code != http.StatusNotFound || a.Status != "error" {
		t.Errorf("unknown method: %d %+v", code, a)
	}

	resp, err := srv.Client().Get(srv.URL + "/_sandbox/sessions")
	if err != nil {
		t.Fatal(err)
	}
	var sessions []SessionInfo
	_ = json.NewDecoder(resp.Body).Decode(&sessions)
	resp.Body.Close()
	if len(sessions) != 1 || sessions[0].PaymentStatus != "pending" || !strings.HasPrefix(sessions[0].PaymentID, "po_") {
		t.Errorf("/_sandbox/sessions: %+v", sessions)
	}
}

func TestTransportFaultsInSessionShape(t *testing.T) {
	sb, srv := setup(t, "smartglocal")
	sb.Kit().SetFaults(sandboxkit.Faults{Burst5xx: 1})
	code, a := post(t, srv, "/api/v1/session/status", "", `{"session_id":"ps_1"}`, true)
	if code != http.StatusServiceUnavailable || a.Status != "error" || a.Error.Code != "service_unavailable" {
		t.Errorf("5xx: %d %+v", code, a)
	}
	var w bytes.Buffer
	rec := httptest.NewRecorder()
	write429(rec, 1500*time.Millisecond)
	w.Write(rec.Body.Bytes())
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "2" || !strings.Contains(w.String(), `"too_many_requests"`) {
		t.Errorf("429: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), w.String())
	}
}

func TestDerivedLast4AndLuhn(t *testing.T) {
	if a, b := DerivedLast4(tok), DerivedLast4(strings.ToUpper(tok)); a != b || len(a) != 4 {
		t.Errorf("derived last4 %q %q", a, b)
	}
	for pan, want := range map[string]bool{"4242424242424242": true, "4242424242424241": false, "42": false, "4242x24242424242": false} {
		if luhn(pan) != want {
			t.Errorf("luhn(%s) != %v", pan, want)
		}
	}
}

// TestMetadataAndTokenInfoAsDocumented: Smart Glocal takes metadata as the
// object its documents show, not a string; token/info names the token's
// type ("card") and answers under "info", as the PHP SDK's TokenInfo
// request and response do.
func TestMetadataAndTokenInfoAsDocumented(t *testing.T) {
	_, srv := setup(t, "smartglocal")
	if _, a := post(t, srv, "/api/v1/session/create", "", `{"amount_details":{"amount":100,"currency":"usd"},"metadata":"r-1"}`, true); a.Error == nil || a.Error.Code != "validation_error" {
		t.Errorf("string metadata at Smart Glocal: %+v, want validation_error", a)
	}
	if code, a := post(t, srv, "/api/v1/session/create", "", `{"amount_details":{"amount":100,"currency":"usd"},"metadata":{"metadata":"r-1"}}`, true); code != http.StatusOK || a.Status != "ok" {
		t.Errorf("object metadata at Smart Glocal: %d %+v", code, a)
	}
	card := `"card":{"type":"encrypted_card","encrypted_card":{"number_hash":"` + tok + `"}}`
	if _, a := post(t, srv, "/api/v1/token/info", "", `{`+card+`}`, true); a.Error == nil || a.Error.Code != "validation_error" {
		t.Errorf("token/info without type: %+v, want validation_error", a)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/token/info", strings.NewReader(`{"type":"card",`+card+`}`))
	req.Header.Set("X-PARTNER-PROJECT", creds.Project)
	req.Header.Set("X-PARTNER-SIGN", sign(creds.MerchantKey, []byte(`{"type":"card",`+card+`}`)))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Status string
		Info   *struct{ Last4, Type string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || got.Status != "ok" || got.Info == nil || got.Info.Last4 != DerivedLast4(tok) || got.Info.Type != "card" {
		t.Errorf("token/info: %+v %v", got, err)
	}
	_, b131 := setup(t, "bank131")
	if code, a := post(t, b131, "/api/v1/session/create", "", `{"amount_details":{"amount":100,"currency":"rub"},"metadata":"order123"}`, true); code != http.StatusOK || a.Status != "ok" {
		t.Errorf("string metadata at Bank 131 (its documents' form): %d %+v", code, a)
	}
}
