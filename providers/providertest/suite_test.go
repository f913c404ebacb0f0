package providertest

import (
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/payrun/payrun/providers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFlipDigitChangesOneDigit(t *testing.T) {
	r := flipDigit(providers.WebhookRequest{Body: []byte(`{"amount":"19"}`)})
	if string(r.Body) != `{"amount":"29"}` {
		t.Errorf("flipDigit: %s", r.Body)
	}
	r = flipDigit(providers.WebhookRequest{Body: []byte(`{"a":"9"}`)})
	if string(r.Body) != `{"a":"0"}` {
		t.Errorf("flipDigit wraps: %s", r.Body)
	}
}

func TestSinkKeepsRequestsAndAnswersUnverified(t *testing.T) {
	s := NewSink(t)
	resp, err := http.Post(s.URL(), "application/json", strings.NewReader(`{"x":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("sink without provider answered %s", resp.Status)
	}
	if got := s.Requests(); len(got) != 1 || string(got[0].Body) != `{"x":1}` {
		t.Errorf("requests %+v", got)
	}
	http.DefaultClient.CloseIdleConnections()
}
