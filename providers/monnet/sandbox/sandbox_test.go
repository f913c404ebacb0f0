package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rawRequest sends a body signed with secret, the way Monnet's docs show.
func rawRequest(t *testing.T, srv *httptest.Server, c Credentials, secret, path, body string) (int, errorAnswer) {
	t.Helper()
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	sig := requestSignature(secret, "POST", path, ts, []byte(body))
	req, _ := http.NewRequest("POST", srv.URL+path+"?timestamp="+ts+"&signature="+sig, strings.NewReader(body))
	req.Header.Set("monnet-api-key", c.APIKey)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var er errorAnswer
	_ = json.Unmarshal(b, &er)
	return resp.StatusCode, er
}

func TestWireRules(t *testing.T) {
	c, err := NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	sb := New(Options{Credentials: c})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	defer sb.Close()
	path := "/api/v1/" + c.MerchantID + "/payouts"
	good := `{"country":"PER","amount":100000,"currency":"PEN","orderId":"R123456","description":"text","beneficiary":{"name":"Sergio","lastName":"test","email":"test@test.com","document":{"type":1,"number":"12345678"}},"destination":{"bankAccount":{"bankCode":"002","accountType":1,"cci":"00243000584290204477"}}}`
	tests := []struct {
		name, secret, body string
		status             int
		code               string
	}{
		{"wrong secret", "not-the-secret", good, 401, "1001"},
		{"amount as string", c.APISecret, strings.Replace(good, `"amount":100000`, `"amount":"100000"`, 1), 400, "1117"},
		{"accountType as string (the docs' example)", c.APISecret, strings.Replace(good, `"accountType":1`, `"accountType":"1"`, 1), 400, "1116"},
		{"card on the payouts endpoint", c.APISecret, strings.Replace(good, `"accountType":1`, `"accountType":5`, 1), 400, "1122"},
		{"missing orderId", c.APISecret, strings.Replace(good, `"orderId":"R123456",`, ``, 1), 400, "1013"},
		{"country", c.APISecret, strings.Replace(good, `"PER"`, `"MEX"`, 1), 400, "1102"},
		{"attribute in another case", c.APISecret, strings.Replace(good, `"orderId"`, `"orderID"`, 1), 400, "1035"},
		{"attribute Monnet does not know", c.APISecret, strings.Replace(good, `"description"`, `"descripcion"`, 1), 400, "1035"},
		{"genuine", c.APISecret, good, 201, ""},
		{"repeat", c.APISecret, good, 400, "2005"},
	}
	for _, tt := range tests {
		status, er := rawRequest(t, srv, c, tt.secret, path, tt.body)
		if status != tt.status || string(er.Code) != tt.code {
			t.Errorf("%s: %d %q, want %d %q", tt.name, status, er.Code, tt.status, tt.code)
		}
	}
	if es := sb.Kit().Ledger.Entries(); len(es) != 1 || es[0].Reference != "R123456" || es[0].Amount != 100000 {
		t.Errorf("ledger %+v", es)
	}
	resp, err := srv.Client().Get(srv.URL + "/_sandbox/ledger")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/_sandbox/ledger: %s", resp.Status)
	}
}

func TestVisaAndNotifyAmount(t *testing.T) {
	for pan, want := range map[string]bool{"4111111111111111": true, "4111111111111112": false, "5555555555554444": false, "411111111111111": false} {
		if visa(pan) != want {
			t.Errorf("visa(%s) = %v", pan, !want)
		}
	}
	for in, want := range map[string]string{"30.00": "30.0", "30.50": "30.5", "30.55": "30.55", "200000.00": "200000.0"} {
		if got := notifyAmount(in); got != want {
			t.Errorf("notifyAmount(%s) = %s, want %s", in, got, want)
		}
	}
}

// The HMAC page's two worked examples (PROVIDERS.md 1.2), recomputed with
// the sandbox's own signing: the sandbox checks what Monnet documents, not
// what payrun's client computes.
func TestRequestSignatureVectors(t *testing.T) {
	const secret = "P5yjICOFoE0kmJVMALeBRmoxuWXz0BJKuoSaIXEHTgE="
	const body = `{"country": "MEX","amount": 10,"currency": "MXN","orderId": "CDO_90305","beneficiary": {"name": "testName","lastName": "testLastName","document": {"type": 3,"number": "PEGM9007151H0"},"customerId": "test","userName": "646180110400000007"},"destination": {"bankAccount": {"bankCode": "002","accountType": 1,"clabe": "002123451234534510"}}}`
	tests := []struct{ method, path, ts, body, want string }{
		{"POST", "/api/v1/22/payouts", "1687543238010", body, "d6895bccdff72b95cb1d134037edadfa87cff1f0a543209efa356c889db97cb9"},
		{"GET", "/api/v1/22/payouts/73", "1687543425203", "", "14cbc221c52bf588f439f86894ab1ebed9aa4867c2d79a1b159bd94a1df2c0d7"},
	}
	for _, tt := range tests {
		if got := requestSignature(secret, tt.method, tt.path, tt.ts, []byte(tt.body)); got != tt.want {
			t.Errorf("%s %s: %s, want %s", tt.method, tt.path, got, tt.want)
		}
		if !validRequestSignature(secret, tt.method, tt.path, tt.ts, []byte(tt.body), tt.want) {
			t.Errorf("%s %s: documented signature refused", tt.method, tt.path)
		}
		if validRequestSignature(secret, tt.method, tt.path+"/", tt.ts, []byte(tt.body), tt.want) {
			t.Errorf("%s %s: signature accepted for another path", tt.method, tt.path)
		}
	}
}

func TestBalanceIsAnArrayOfArrays(t *testing.T) {
	c, err := NewCredentials()
	if err != nil {
		t.Fatal(err)
	}
	sb := New(Options{Credentials: c})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	defer sb.Close()
	path := "/api/v1/" + c.MerchantID + "/balance"
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	req, _ := http.NewRequest("GET", srv.URL+path+"?timestamp="+ts+"&signature="+requestSignature(c.APISecret, "GET", path, ts, nil), nil)
	req.Header.Set("monnet-api-key", c.APIKey)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got [][]map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || len(got) != 1 || len(got[0]) != 2 || got[0][0]["currency"] != "PEN" {
		t.Fatalf("balance %v (%v), want [[{PEN...},{USD...}]]", got, err)
	}
}
