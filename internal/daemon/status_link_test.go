package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
)

// A payout waiting for its beneficiary shows its link (JournalStatus.Link,
// app.Collect.Link): masked in the HTTP status API and on the status page,
// which more than the operators may reach (whoever holds a collection link
// chooses the card the money goes to), whole to the control socket's
// status (FullURLs); others show none.
func TestStatusShowsBeneficiaryLinks(t *testing.T) {
	clock := newFakeClock(time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC))
	j := testjournal.Open(t, clock.Now)
	seedJournal(t, j, testBatch)
	move(t, j, "P3", journal.Queued, journal.Sending, journal.AwaitingBeneficiary)
	link := func(it journal.Item) string {
		if it.State != journal.AwaitingBeneficiary {
			return ""
		}
		return "https://pay.example.com/collect/" + it.PayoutID + "?e=1&s=x"
	}
	srv := httptest.NewServer(NewServer(ServerOptions{Status: JournalStatus{J: j, Link: link}, Now: clock.Now}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/batches/" + testBatch)
	if err != nil {
		t.Fatal(err)
	}
	var d BatchDetail
	err = json.NewDecoder(resp.Body).Decode(&d)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, it := range d.OpenItems {
		got[it.PayoutID] = it.URL
	}
	whole := link(journal.Item{PayoutID: "P3", State: journal.AwaitingBeneficiary})
	if got["P3"] != MaskURL(whole) || strings.Contains(got["P3"], "/collect/P3") || got["P2"] != "" || got["T1"] != "" {
		t.Errorf("links over HTTP: %v", got)
	}
	full, err := JournalStatus{J: j, Link: link, FullURLs: true}.OpenItems(t.Context(), testBatch, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range full {
		if it.PayoutID == "P3" && it.URL != whole {
			t.Errorf("the control socket's status shows P3's link as %q, want %q", it.URL, whole)
		}
	}
	resp, err = http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	_, _ = io.Copy(&page, resp.Body)
	resp.Body.Close()
	if strings.Contains(page.String(), "/collect/P3") || !strings.Contains(page.String(), "https://pay.example.com/…") {
		t.Errorf("the status page shows P3's link whole, or not at all")
	}
}
