package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The widget's flow by hand, over the wire: a public token from /token,
// the widget's form in its iframe, the card posted there, the hashes
// handed to the page by postMessage (to the page's origin only), then
// token/info and session/init/payout with the hash.
func TestWidgetProtocol(t *testing.T) {
	sb, srv := setup(t, "smartglocal")
	if code, a := post(t, srv, "/api/v1/token", "", `{"tokenize_widget":{"access":true}}`, false); code != http.StatusForbidden || a.Error.Code != "invalid_signature" {
		t.Errorf("unsigned token request: %d %+v", code, a)
	}
	for body, want := range map[string]string{
		`{}`: "validation_error", `{"tokenize_widget":{"access":false}}`: "validation_error",
		`{"acquiring_widget":{"session_id":"ps_1"}}`: "validation_error",
	} {
		if code, a := post(t, srv, "/api/v1/token", "", body, true); code != http.StatusBadRequest || a.Error.Code != want {
			t.Errorf("%s: %d %+v", body, code, a)
		}
	}
	tok := issuePublicToken(t, srv)
	if sb.PublicTokens() != 1 {
		t.Errorf("public tokens %d", sb.PublicTokens())
	}
	page := "https://payrun.example"
	get := func(q url.Values) (int, string) {
		resp, err := srv.Client().Get(srv.URL + "/widget/form?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get(url.Values{"public_token": {tok}, "origin": {page + "/path"}}); code != http.StatusBadRequest {
		t.Errorf("origin with a path: %d", code)
	}
	code, form := get(url.Values{"public_token": {tok}, "origin": {page}})
	if code != http.StatusOK || !strings.Contains(form, `id="card-number"`) {
		t.Fatalf("form: %d\n%s", code, form)
	}
	if _, form := get(url.Values{"public_token": {"nope"}, "origin": {page}}); !strings.Contains(form, `"token_invalid"`) || !strings.Contains(form, `"https://payrun.example"`) {
		t.Errorf("unknown token's form:\n%s", form)
	}
	send := func(v url.Values) string {
		resp, err := srv.Client().PostForm(srv.URL+"/widget/form", v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	card := url.Values{"public_token": {tok}, "origin": {page}, "number": {"4242 4242 4242 4242"}, "expiration_date": {"12/39"},
		"cardholder_name": {"John Johnson"}, "security_code": {"123"}}
	bad := url.Values{}
	for k, v := range card {
		bad[k] = v
	}
	bad.Set("number", "4242424242424241")
	if out := send(bad); !strings.Contains(out, "not valid") || strings.Contains(out, "postMessage") {
		t.Errorf("bad card: %s", out)
	}
	out := send(card)
	i := strings.Index(out, "parent.postMessage(")
	if i < 0 || !strings.Contains(out, `, "https://payrun.example");`) {
		t.Fatalf("no postMessage to the page's origin:\n%s", out)
	}
	msg := out[i+len("parent.postMessage(") : strings.Index(out, `, "https://payrun.example");`)]
	var m struct {
		Type string
		Card struct {
			NumberHash string `json:"number_hash"`
		}
	}
	if err := json.Unmarshal([]byte(msg), &m); err != nil || m.Type != "tokenized" || !isHash(m.Card.NumberHash) {
		t.Fatalf("message %s: %v", msg, err)
	}
	if strings.Contains(out, "4242424242424242") || strings.Contains(out, "4242 4242") {
		t.Errorf("the widget's answer holds the card number")
	}
	info := `{"type":"card","card":{"type":"encrypted_card","encrypted_card":{"number_hash":"` + m.Card.NumberHash + `"}}}`
	var ti struct {
		Info struct{ Last4 string }
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/token/info", strings.NewReader(info))
	req.Header.Set("X-PARTNER-PROJECT", creds.Project)
	req.Header.Set("X-PARTNER-SIGN", sign(creds.MerchantKey, []byte(info)))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&ti)
	resp.Body.Close()
	if ti.Info.Last4 != "4242" {
		t.Errorf("token/info last4 %q", ti.Info.Last4)
	}
	initBody := `{"amount_details":{"amount":3290,"currency":"eur"},"payment_method":{"type":"card","card":{"type":"encrypted_card","encrypted_card":{"number_hash":"` +
		m.Card.NumberHash + `"}}},"participant_details":{"recipient":{"full_name":"John Johnson"}},"customer":{"reference":"w-1"},"metadata":{"metadata":"w-1"}}`
	code, a := post(t, srv, "/api/v1/session/init/payout", "w-1", initBody, true)
	if code != http.StatusOK || a.Session == nil || a.Session.Status != "in_progress" {
		t.Fatalf("init/payout: %d %+v", code, a)
	}
	if code, a := post(t, srv, "/api/v1/session/init/payout", "w-1", initBody, true); code != http.StatusBadRequest || a.Error.Code != "idempotency_key_already_exists" {
		t.Errorf("init/payout again: %d %+v", code, a)
	}
	if n := len(sb.Sessions()); n != 1 {
		t.Errorf("%d sessions", n)
	}
	if code, a := post(t, srv, "/api/v1/session/init/payout", "w-2", strings.Replace(initBody, `{"amount_details"`, `{"session_id":"ps_1","amount_details"`, 1), true); code != http.StatusBadRequest || a.Error.Code != "invalid_request" {
		t.Errorf("init/payout with a session: %d %+v", code, a)
	}
	// The public token expires on the sandbox's clock.
	sb.Kit().Clock.Advance(DefaultWidgetTokenLifetime + time.Second)
	if out := send(card); !strings.Contains(out, "token_invalid") {
		t.Errorf("expired token accepted:\n%s", out)
	}
}

func issuePublicToken(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	body := `{"tokenize_widget":{"access":true}}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/token", strings.NewReader(body))
	req.Header.Set("X-PARTNER-PROJECT", creds.Project)
	req.Header.Set("X-PARTNER-SIGN", sign(creds.MerchantKey, []byte(body)))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Status      string `json:"status"`
		PublicToken string `json:"public_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || a.Status != "ok" || a.PublicToken == "" {
		t.Fatalf("token: %d %+v %v", resp.StatusCode, a, err)
	}
	return a.PublicToken
}
