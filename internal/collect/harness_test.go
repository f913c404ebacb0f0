package collect_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/collect"
	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/bank131"
	b131sandbox "github.com/payrun/payrun/providers/bank131/sandbox"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

var (
	credsOnce sync.Once
	creds     b131sandbox.Credentials
	credsErr  error
)

// bench is payrun's side of card collection over one provider's sandbox:
// the journal, the dispatcher, the webhook receiver and the page, each on
// its own loopback server, as the daemon wires them.
type bench struct {
	t       *testing.T
	name    string
	sb      *b131sandbox.Sandbox
	api     *httptest.Server
	j       journal.Journal
	client  *bank131.Client
	provs   map[string]providers.Provider
	d       *dispatch.Dispatcher
	recv    *reconcile.Receiver
	page    *collect.Page
	site    *httptest.Server
	signer  *collect.Signer
	life    collect.Lifetimes
	batches int
}

type benchOptions struct {
	// Lifetime of the widget token (the link); 0: the client's default.
	Lifetime time.Duration
	Now      func() time.Time
}

func setup(t *testing.T, name string, o benchOptions) *bench {
	t.Helper()
	credsOnce.Do(func() { creds, credsErr = b131sandbox.NewCredentials() })
	if credsErr != nil {
		t.Fatal(credsErr)
	}
	b := &bench{t: t, name: name}
	b.sb = b131sandbox.New(b131sandbox.Options{Name: name, Seed: 1, ProcessingDelay: 20 * time.Millisecond,
		Credentials: creds, StrictTokens: true})
	b.api = httptest.NewServer(b.sb)
	cfg, err := creds.WriteFiles(t.TempDir(), b.api.URL)
	if err != nil {
		t.Fatal(err)
	}
	if o.Lifetime > 0 {
		cfg.Extra["widget_token_lifetime"] = o.Lifetime.String()
	}
	b.client, err = bank131.NewNamed(name, cfg, providers.Deps{HTTP: b.api.Client()})
	if err != nil {
		t.Fatal(err)
	}
	b.provs = map[string]providers.Provider{name: b.client}
	b.j = testjournal.Open(t, o.Now)
	b.d = dispatch.NewDispatcher(b.j, b.provs, dispatch.DispatchOptions{
		Pools: map[string]dispatch.PoolConfig{name: {RatePerSecond: 100, Burst: 10, Concurrency: 4}}})
	b.recv = reconcile.NewReceiver(b.j, b.provs, reconcile.ReceiverOptions{})
	if err := b.recv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	hooks := httptest.NewServer(b.recv.Handler())
	b.sb.SetWebhookURL(hooks.URL + "/webhooks/" + name)

	var handler http.Handler = http.NotFoundHandler()
	b.site = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	key, err := collect.LoadKey(filepath.Join(t.TempDir(), "link.key"))
	if err != nil {
		t.Fatal(err)
	}
	if b.signer, err = collect.NewSigner(b.site.URL, key); err != nil {
		t.Fatal(err)
	}
	b.life = collect.Lifetimes{Providers: b.provs}
	b.page = collect.NewPage(collect.PageOptions{Journal: b.j, Providers: b.provs, Sender: b.d, Signer: b.signer,
		Lifetimes: b.life, Payer: "Example S.A.C.", Now: o.Now})
	ctx, cancel := context.WithCancel(context.Background())
	b.page.Start(ctx)
	handler = b.page
	t.Cleanup(func() {
		cancel()
		b.page.Wait()
		b.site.Close()
		hooks.Close()
		b.recv.Stop()
		b.api.Close()
		b.sb.Close()
	})
	return b
}

func (b *bench) currency() string {
	if b.name == bank131.NameSmartGlocal {
		return "USD"
	}
	return "RUB"
}

// pay journals a batch of collection payouts (no card token) and sends
// them: each gets its widget token and waits for its beneficiary.
func (b *bench) pay(ids ...string) {
	b.t.Helper()
	ctx := context.Background()
	b.batches++
	batchID := fmt.Sprintf("B%d", b.batches)
	var items []journal.Item
	for i, id := range ids {
		items = append(items, journal.Item{PayoutID: id, Row: i + 2, Provider: b.name, Payout: providers.Payout{
			ID: id, Method: providers.CardToken, Amount: money.Money{Minor: 12345 + int64(i), Currency: b.currency()},
			Beneficiary: providers.Beneficiary{Name: "Ana", LastName: "Quispe", Email: "ana@example.com"}}})
	}
	if err := b.j.Import(ctx, journal.Batch{ID: batchID, File: batchID + ".csv"}, items); err != nil {
		b.t.Fatal(err)
	}
	if _, err := b.d.Run(ctx, []string{batchID}, nil); err != nil {
		b.t.Fatal(err)
	}
	for _, id := range ids {
		if it := b.item(id); it.State != journal.AwaitingBeneficiary || it.Refs.ProviderID == "" {
			b.t.Fatalf("%s is %s (%s), refs %+v: want awaiting_beneficiary with a widget token", id, it.State, it.Reason, it.Refs)
		}
	}
}

func (b *bench) item(id string) journal.Item {
	b.t.Helper()
	it, err := b.j.Item(context.Background(), id)
	if err != nil {
		b.t.Fatal(err)
	}
	return it
}

// reportLink runs the report pipeline, unmasked, and returns the link the
// report's waiting-links CSV gives for a payout.
func (b *bench) reportLink(id string) string {
	b.t.Helper()
	ctx := context.Background()
	links, err := collect.Waiting(ctx, b.j, b.signer, b.life, time.Now())
	if err != nil {
		b.t.Fatal(err)
	}
	files, err := reports.Run(ctx, b.j, reports.Request{Scope: reconcile.Scope{Open: true}, Dir: b.t.TempDir(),
		Options: reports.Options{Unmasked: true}, Links: links})
	if err != nil {
		b.t.Fatal(err)
	}
	if files.LinksCSV == "" {
		b.t.Fatalf("the report lists no waiting links (%d waiting)", len(links))
	}
	f, err := os.Open(files.LinksCSV)
	if err != nil {
		b.t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		b.t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, r := range rows[1:] {
		if r[col["payout_id"]] == id {
			return r[col["link"]]
		}
	}
	b.t.Fatalf("the report's waiting links have no row for %s: %v", id, rows)
	return ""
}

// ledgerPaid is how often the sandbox's books paid a payout.
func (b *bench) ledgerPaid(id string) int { return b.sb.Kit().Ledger.PaidByReference()[id] }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitPaid waits until the journal says succeeded and returns the
// sandbox's count of payments.
func (b *bench) waitPaid(id string) {
	b.t.Helper()
	waitFor(b.t, id+" succeeded", 15*time.Second, func() bool {
		return b.item(id).State == journal.Succeeded
	})
	if n := b.ledgerPaid(id); n != 1 {
		b.t.Fatalf("%s paid %d times by the sandbox's ledger", id, n)
	}
}

// beneficiary plays a beneficiary over HTTP, without a browser: it opens
// the link, types the card into the sandbox's widget stand-in (its HTTP
// form) and posts the hashes back as the page's script does.
type beneficiary struct {
	t      *testing.T
	client *http.Client
	widget string // the sandbox's base URL
}

func newBeneficiary(t *testing.T, widgetBase string) *beneficiary {
	jar, _ := cookiejar.New(nil)
	return &beneficiary{t: t, client: &http.Client{Jar: jar, Timeout: 20 * time.Second}, widget: widgetBase}
}

var (
	attrToken = regexp.MustCompile(`data-public-token="([^"]+)"`)
	attrCSRF  = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	attrOut   = regexp.MustCompile(`data-outcome="([^"]+)"`)
)

// open GETs a link and returns the page's outcome, public token and form
// token.
func (p *beneficiary) open(link string) (code int, outcome, publicToken, csrfToken, body string) {
	p.t.Helper()
	resp, err := p.client.Get(link)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body = string(b)
	return resp.StatusCode, first(attrOut, body), first(attrToken, body), first(attrCSRF, body), body
}

func first(re *regexp.Regexp, s string) string {
	if m := re.FindStringSubmatch(s); m != nil {
		return m[1]
	}
	return ""
}

// tokenize types a card into the widget stand-in.
func (p *beneficiary) tokenize(publicToken, pan string) map[string]string {
	p.t.Helper()
	body, _ := json.Marshal(map[string]string{"public_token": publicToken, "number": pan, "expiration_date": "12/39",
		"cardholder_name": "ANA QUISPE", "security_code": "123"})
	resp, err := p.client.Post(p.widget+"/widget/tokenize", "application/json", strings.NewReader(string(body)))
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Card map[string]string `json:"card"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		p.t.Fatalf("widget tokenize: %d %v", resp.StatusCode, err)
	}
	return out.Card
}

// submit posts the hashes to the link as the page's form does.
func (p *beneficiary) submit(link, csrfToken string, card map[string]string) (int, string, string) {
	p.t.Helper()
	form := url.Values{"csrf": {csrfToken}}
	for k, v := range card {
		form.Set(k, v)
	}
	u, _ := url.Parse(link)
	req, _ := http.NewRequest(http.MethodPost, link, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	resp, err := p.client.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, first(attrOut, string(b)), string(b)
}

// give opens the link, tokenizes a card and posts it: the whole
// beneficiary step.
func (p *beneficiary) give(link, pan string) (int, string, string) {
	p.t.Helper()
	code, outcome, tok, csrfToken, body := p.open(link)
	if code != http.StatusOK || outcome != "form" {
		p.t.Fatalf("open %s: %d %s\n%s", link, code, outcome, body)
	}
	return p.submit(link, csrfToken, p.tokenize(tok, pan))
}
