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

// A payout waiting for its beneficiary shows its link in the status API
// and on the status page (JournalStatus.Link, app.Collect.Link); others
// show none.
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
		got[it.PayoutID] = it.Link
	}
	if got["P3"] != link(journal.Item{PayoutID: "P3", State: journal.AwaitingBeneficiary}) || got["P2"] != "" || got["T1"] != "" {
		t.Errorf("links: %v", got)
	}
	resp, err = http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	var page strings.Builder
	_, _ = io.Copy(&page, resp.Body)
	resp.Body.Close()
	if !strings.Contains(page.String(), `href="https://pay.example.com/collect/P3?e=1&amp;s=x"`) {
		t.Errorf("the status page lacks P3's link")
	}
}
