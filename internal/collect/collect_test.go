package collect_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/payrun/payrun/internal/collect"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers/bank131"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

var providersUnderTest = []string{bank131.NameBank131, bank131.NameSmartGlocal}

// clock is a settable clock for the journal, the page and the poller.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// The beneficiary opens the link from the report, gives a card through
// the widget; payrun checks it (token/info), pays it through the usual
// two-phase path, exactly once by the sandbox's ledger. A second use of
// the link, with another card, changes nothing.
func TestCollectionPaysOnce(t *testing.T) {
	for _, name := range providersUnderTest {
		t.Run(name, func(t *testing.T) {
			b := setup(t, name, benchOptions{})
			b.pay("C-1")
			link := b.reportLink("C-1")
			if !strings.HasPrefix(link, b.site.URL+"/collect/C-1?e=") {
				t.Fatalf("link %q", link)
			}
			who := newBeneficiary(t, b.api.URL)
			code, outcome, body := who.give(link, "4242424242424242")
			if code != http.StatusOK || outcome != "received" || !strings.Contains(body, `data-last4="4242"`) {
				t.Fatalf("post: %d %s\n%s", code, outcome, body)
			}
			b.waitPaid("C-1")
			it := b.item("C-1")
			if len(it.Payout.Beneficiary.CardToken) != 64 || !strings.HasPrefix(it.Last.Recipient, "card *4242") {
				t.Errorf("journal keeps token %q, recipient %q", it.Payout.Beneficiary.CardToken, it.Last.Recipient)
			}
			// Used twice: the page says so, nothing is sent.
			code, outcome, _, _, _ = who.open(link)
			if code != http.StatusGone || outcome != "paid" {
				t.Errorf("reopened after payment: %d %s", code, outcome)
			}
			other := newBeneficiary(t, b.api.URL)
			_, _, tok, csrfToken, _ := other.open(link)
			if tok != "" || csrfToken != "" {
				t.Fatalf("a paid payout's page still shows the widget")
			}
			code, outcome, _ = other.submit(link, "", map[string]string{"number_hash": strings.Repeat("a", 64)})
			if code == http.StatusOK || outcome == "received" {
				t.Errorf("second use accepted: %d %s", code, outcome)
			}
			if n := b.ledgerPaid("C-1"); n != 1 {
				t.Errorf("paid %d times", n)
			}
		})
	}
}

// Two tabs of one link: both show the form; the first card given wins,
// the second post answers "used" and changes nothing.
func TestCollectionLinkUsedTwice(t *testing.T) {
	b := setup(t, bank131.NameBank131, benchOptions{})
	b.pay("C-2")
	link := b.reportLink("C-2")
	one, two := newBeneficiary(t, b.api.URL), newBeneficiary(t, b.api.URL)
	_, _, tok1, csrf1, _ := one.open(link)
	_, _, tok2, csrf2, _ := two.open(link)
	card1 := one.tokenize(tok1, "4242424242424242")
	card2 := two.tokenize(tok2, "5555555555554444")
	if code, outcome, body := one.submit(link, csrf1, card1); code != http.StatusOK || outcome != "received" {
		t.Fatalf("first: %d %s\n%s", code, outcome, body)
	}
	code, outcome, _ := two.submit(link, csrf2, card2)
	if code != http.StatusConflict && code != http.StatusGone || (outcome != "used" && outcome != "paid") {
		t.Errorf("second: %d %s", code, outcome)
	}
	b.waitPaid("C-2")
	if it := b.item("C-2"); it.Payout.Beneficiary.CardToken != card1["number_hash"] {
		t.Errorf("paid to %s, want the first card", it.Last.Recipient)
	}
}

// Links that cannot be used answer with a clear page and change nothing:
// forged, for another payout, extended, posted from another site,
// without the form's token, with a hash the widget never issued.
func TestCollectionLinkRefusals(t *testing.T) {
	b := setup(t, bank131.NameSmartGlocal, benchOptions{})
	b.pay("C-3", "C-4")
	link := b.reportLink("C-3")
	u, _ := url.Parse(link)
	q := u.Query()
	who := newBeneficiary(t, b.api.URL)
	for name, bad := range map[string]string{
		"forged signature": b.site.URL + "/collect/C-3?e=" + q.Get("e") + "&s=" + strings.Repeat("A", len(q.Get("s"))),
		"other payout":     b.site.URL + "/collect/C-4?e=" + q.Get("e") + "&s=" + q.Get("s"),
		"extended":         b.site.URL + "/collect/C-3?e=" + "99" + q.Get("e") + "&s=" + q.Get("s"),
		"unknown payout":   b.site.URL + "/collect/NOPE?e=" + q.Get("e") + "&s=" + q.Get("s"),
		"no signature":     b.site.URL + "/collect/C-3",
	} {
		code, outcome, _, _, _ := who.open(bad)
		if code != http.StatusNotFound || outcome != "invalid" {
			t.Errorf("%s: %d %s", name, code, outcome)
		}
	}
	_, _, tok, csrfToken, _ := who.open(link)
	card := who.tokenize(tok, "4242424242424242")
	// Another site's post.
	form := url.Values{"csrf": {csrfToken}, "number_hash": {card["number_hash"]}}
	req, _ := http.NewRequest(http.MethodPost, link, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := who.client.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site post: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	if code, _, _ := who.submit(link, "wrong", card); code != http.StatusForbidden {
		t.Errorf("bad form token: %d", code)
	}
	if code, _, _ := who.submit(link, csrfToken, map[string]string{"number_hash": "not-a-hash"}); code != http.StatusBadRequest {
		t.Errorf("malformed hash: %d", code)
	}
	if code, _, _ := who.submit(link, csrfToken, map[string]string{"number_hash": strings.Repeat("ab", 32)}); code != http.StatusBadRequest {
		t.Errorf("hash the widget never issued: %d", code)
	}
	if it := b.item("C-3"); it.State != journal.AwaitingBeneficiary || it.Payout.Beneficiary.CardToken != "" {
		t.Fatalf("refusals changed the payout: %s %q", it.State, it.Payout.Beneficiary.CardToken)
	}
	// The right post still works after all that.
	if code, outcome, body := who.submit(link, csrfToken, card); code != http.StatusOK || outcome != "received" {
		t.Fatalf("post: %d %s\n%s", code, outcome, body)
	}
	b.waitPaid("C-3")
}

// A link past its expiry answers "expired"; the poller expires the row
// at its deadline; nothing is paid.
func TestCollectionLinkExpires(t *testing.T) {
	var c clock
	b := setup(t, bank131.NameBank131, benchOptions{Lifetime: time.Hour, Now: c.Now})
	b.pay("C-5")
	link := b.reportLink("C-5")
	who := newBeneficiary(t, b.api.URL)
	_, _, tok, csrfToken, _ := who.open(link)
	card := who.tokenize(tok, "4242424242424242")
	c.Advance(time.Hour + time.Second)
	if code, outcome, _ := who.submit(link, csrfToken, card); code != http.StatusGone || outcome != "expired" {
		t.Errorf("post after expiry: %d %s", code, outcome)
	}
	c.Advance(reconcile.LinkGrace)
	pl := reconcile.NewPoller(b.j, b.provs, reconcile.PollOptions{After: -1, Now: c.Now})
	if _, err := pl.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if it := b.item("C-5"); it.State != journal.Expired {
		t.Fatalf("C-5 is %s (%s), want expired", it.State, it.Reason)
	}
	if code, outcome, _, _, _ := who.open(link); code != http.StatusGone || outcome != "expired" {
		t.Errorf("open after expiry: %d %s", code, outcome)
	}
	if n := b.ledgerPaid("C-5"); n != 0 {
		t.Errorf("an expired link paid %d times", n)
	}
}

// The link key is made once, 0600, and refused when others may read it.
func TestLinkKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "payrun.db.linkkey")
	k1, err := collect.LoadKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v", fi.Mode(), err)
	}
	k2, err := collect.LoadKey(path)
	if err != nil || string(k1) != string(k2) {
		t.Fatalf("key changed on reload: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := collect.LoadKey(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a readable key file was accepted: %v", err)
	}
}

// Beneficiary emails go through the reports' mail queue: once per link,
// one reminder before it expires, none after.
func TestBeneficiaryEmailsOncePerLink(t *testing.T) {
	var c clock
	b := setup(t, bank131.NameBank131, benchOptions{Lifetime: 10 * time.Hour, Now: c.Now})
	b.pay("C-6", "C-7")
	outbox := t.TempDir()
	tmpl, err := reports.ParseBeneficiaryTemplates("", "")
	if err != nil {
		t.Fatal(err)
	}
	m := collect.NewMailer(collect.MailOptions{Journal: b.j, Signer: b.signer, Lifetimes: b.life,
		Mailer: &reports.Mailer{Outbox: outbox}, Templates: tmpl, From: "payouts@example.com", Payer: "Example S.A.C.",
		Reminder: 2 * time.Hour, Now: c.Now})
	ctx := context.Background()
	files := func() []string {
		es, _ := os.ReadDir(outbox)
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
		}
		return out
	}
	for range 3 {
		if _, err := m.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := files(); len(got) != 2 {
		t.Fatalf("outbox after three passes: %v, want one message per link", got)
	}
	var all strings.Builder
	for _, f := range files() {
		eml, _ := os.ReadFile(filepath.Join(outbox, f))
		all.Write(eml)
	}
	// Quoted-printable, undone for reading.
	text := strings.ReplaceAll(strings.ReplaceAll(all.String(), "=\r\n", ""), "=3D", "=")
	link := b.reportLink("C-6")
	if !strings.Contains(text, "To: <ana@example.com>") || !strings.Contains(text, "Example S.A.C. is sending you") {
		t.Errorf("messages:\n%s", text)
	}
	if !strings.Contains(text, link) {
		t.Errorf("no message carries the link %s:\n%s", link, text)
	}
	c.Advance(8*time.Hour + time.Minute)
	for range 2 {
		if _, err := m.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := files(); len(got) != 4 {
		t.Fatalf("outbox after the reminder window: %v, want one reminder per link", got)
	}
	c.Advance(3 * time.Hour)
	if st, err := m.RunOnce(ctx); err != nil || st.Waiting != 0 {
		t.Fatalf("after expiry: %+v %v", st, err)
	}
	if got := files(); len(got) != 4 {
		t.Errorf("messages after expiry: %v", got)
	}
}
