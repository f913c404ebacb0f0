package reconcile

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/providers"
)

// TestObserveUnknownProvider: a request for a provider the receiver does
// not have is observed under UnknownProvider, never under the name in its
// path (anyone can post to /webhooks/4111111111111111, and the name became
// a metric's label, shown by /metrics).
func TestObserveUnknownProvider(t *testing.T) {
	p, _, err := monnetClient(t.TempDir(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	rc := NewReceiver(testjournal.Open(t, nil), map[string]providers.Provider{"monnet": p}, ReceiverOptions{
		Observe: func(provider string, status int, _ time.Duration) { seen = append(seen, provider) }})
	for _, path := range []string{"/webhooks/4111111111111111", "/webhooks/4111%C2%A01111%C2%A01111%C2%A01111", "/webhooks/monnet"} {
		w := httptest.NewRecorder()
		rc.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, strings.NewReader("{}")))
	}
	if strings.Join(seen, ",") != UnknownProvider+","+UnknownProvider+",monnet" {
		t.Fatalf("observed %q", seen)
	}
}
