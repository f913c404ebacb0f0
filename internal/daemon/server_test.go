package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/payrun/payrun/internal/testjournal"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/journaltest"
	"github.com/payrun/payrun/providers"
	"github.com/prometheus/client_golang/prometheus"
)

// serverBundle is a server over a real journal holding one batch:
// monnet P1 succeeded, P2 queued, P3 accepted (10.00, 20.00, 30.00 PEN);
// teemopay T1 submitted (5.00 PEN).
type serverBundle struct {
	j       journal.Journal
	batchID string
	reg     *prometheus.Registry
	metrics *Metrics
	sched   *Scheduler
	srv     *httptest.Server
}

const testBatch = "B20261120-0123456789"

func move(t testing.TB, j journal.Journal, id string, states ...journal.State) {
	t.Helper()
	for _, s := range states {
		if err := j.Apply(ctx, journal.Change{PayoutID: id, To: s, Actor: "test"}); err != nil {
			t.Fatalf("%s -> %s: %v", id, s, err)
		}
	}
}

func seedJournal(t testing.TB, j journal.Journal, id string) {
	t.Helper()
	journaltest.Import(t, j, id,
		journaltest.ValidItem("P1", "monnet", 1000),
		journaltest.ValidItem("P2", "monnet", 2000),
		journaltest.ValidItem("P3", "monnet", 3000),
		journaltest.ValidItem("T1", "teemopay", 500),
	)
	move(t, j, "P1", journal.Queued, journal.Sending, journal.Submitted, journal.Succeeded)
	move(t, j, "P2", journal.Queued)
	move(t, j, "T1", journal.Queued, journal.Sending, journal.Submitted)
}

// seedHeldAndWaiting journals a batch held by the pre-flight threshold
// (dropped by ana) and an accepted batch waiting for the cut-off, one of
// whose payouts is a payment link waiting for its payer.
func seedHeldAndWaiting(t testing.TB, j journal.Journal) (held, waiting string) {
	t.Helper()
	held, waiting = "B20261121-held000001", "B20261121-wait000002"
	journaltest.Import(t, j, held, journaltest.ValidItem("H1", "monnet", 25_000_000))
	err := j.SetBatch(ctx, held, func(b *journal.Batch) error {
		b.State, b.Note, b.DroppedBy = journal.BatchHeld, "the batch total 250000.00 PEN is above the approval threshold 100000.00 PEN", "ana"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	link := journaltest.Item("W2", "monnet", providers.PaymentLink, 4200, "PEN")
	journaltest.Import(t, j, waiting, journaltest.ValidItem("W1", "monnet", 1500), link)
	move(t, j, "W2", journal.Queued, journal.Sending)
	st := providers.Status{Outcome: providers.AwaitingBeneficiary, URL: "https://pay.example/link/secret-token-9f3a"}
	if err := j.Apply(ctx, journal.Change{PayoutID: "W2", To: journal.AwaitingBeneficiary, Actor: "test", Status: &st}); err != nil {
		t.Fatal(err)
	}
	return held, waiting
}

func setupServer(t *testing.T) *serverBundle {
	t.Helper()
	clock := newFakeClock(time.Date(2026, 11, 21, 2, 0, 0, 0, time.UTC))
	j := testjournal.Open(t, clock.Now)
	seedJournal(t, j, testBatch)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	status := JournalStatus{J: j}
	if err := m.RegisterStatus(status); err != nil {
		t.Fatal(err)
	}
	sched, err := NewScheduler(nil, SchedulerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	webhooks := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "webhook "+r.PathValue("provider"))
	})
	h := NewServer(ServerOptions{Webhooks: webhooks, Gatherer: reg, Status: status, Now: clock.Now, Location: lima,
		Ready: []Check{status.Check(), sched.Check()}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &serverBundle{j: j, batchID: testBatch, reg: reg, metrics: m, sched: sched, srv: srv}
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, string(body)
}

func TestServerHealthz(t *testing.T) {
	b := setupServer(t)
	if code, _, body := get(t, b.srv.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("healthz %d %q", code, body)
	}
}

func TestServerReadyz(t *testing.T) {
	b := setupServer(t)
	code, _, body := get(t, b.srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "scheduler: scheduler is not running") ||
		strings.Contains(body, "journal") {
		t.Fatalf("readyz before the scheduler runs: %d %q", code, body)
	}
	if err := b.sched.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer b.sched.Stop()
	if code, _, body := get(t, b.srv.URL+"/readyz"); code != 200 || body != "ok\n" {
		t.Fatalf("readyz %d %q", code, body)
	}
}

func TestServerReadyzFailsOnAClosedJournal(t *testing.T) {
	j, err := boltjournal.Open(filepath.Join(t.TempDir(), "journal.db"), boltjournal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	check := JournalStatus{J: j}.Check()
	if err := check.Func(context.Background()); err != nil {
		t.Fatalf("open journal not ready: %v", err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(ServerOptions{Ready: []Check{check}}))
	defer srv.Close()
	code, _, body := get(t, srv.URL+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "journal: ") {
		t.Fatalf("readyz %d %q", code, body)
	}
}

func TestServerWebhooksAreDelegated(t *testing.T) {
	b := setupServer(t)
	res, err := http.Post(b.srv.URL+"/webhooks/monnet", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "webhook monnet" {
		t.Fatalf("%d %q", res.StatusCode, body)
	}
}

func TestServerMetricsShowItemCountsFromTheJournal(t *testing.T) {
	b := setupServer(t)
	b.metrics.ObserveRequest("monnet", "create", 120*time.Millisecond, nil)
	b.metrics.ObserveRequest("monnet", "create", 10*time.Millisecond,
		&providers.APIError{Provider: "monnet", HTTPStatus: 429, Kind: providers.ErrRateLimited})
	b.metrics.RateLimitWait("monnet", 250*time.Millisecond)
	b.metrics.Retry("monnet")
	b.metrics.InDoubtResolved("teemopay", "query", "succeeded")
	b.metrics.ObserveWebhook("teemopay", http.StatusUnauthorized, time.Millisecond)
	b.metrics.IntakeFile("duplicate")
	b.metrics.ObserveJob("report", time.Second, errors.New("x"))

	code, _, body := get(t, b.srv.URL+"/metrics")
	if code != 200 {
		t.Fatalf("metrics %d", code)
	}
	for _, want := range []string{
		`payrun_items{provider="monnet",state="succeeded"} 1`,
		`payrun_items{provider="monnet",state="queued"} 1`,
		`payrun_items{provider="monnet",state="accepted"} 1`,
		`payrun_items{provider="teemopay",state="submitted"} 1`,
		`payrun_batches{state="accepted"} 1`,
		`payrun_webhook_events_queued 0`,
		`payrun_status_up 1`,
		`payrun_provider_request_duration_seconds_count{op="create",provider="monnet",result="ok"} 1`,
		`payrun_provider_request_duration_seconds_count{op="create",provider="monnet",result="rate_limited"} 1`,
		`payrun_provider_rate_limited_total{provider="monnet"} 1`,
		`payrun_rate_limit_waits_total{provider="monnet"} 1`,
		`payrun_rate_limit_wait_seconds_total{provider="monnet"} 0.25`,
		`payrun_retries_total{provider="monnet"} 1`,
		`payrun_in_doubt_resolutions_total{how="query",provider="teemopay",state="succeeded"} 1`,
		`payrun_webhook_verification_failed_total{provider="teemopay"} 1`,
		`payrun_intake_files_total{outcome="duplicate"} 1`,
		`payrun_intake_files_total{outcome="accepted"} 0`,
		`payrun_job_duration_seconds_count{job="report",result="error"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}

	// The counts are read at scrape time.
	move(t, b.j, "P3", journal.Cancelled)
	_, _, body = get(t, b.srv.URL+"/metrics")
	if !strings.Contains(body, `payrun_items{provider="monnet",state="cancelled"} 1`+"\n") ||
		strings.Contains(body, `payrun_items{provider="monnet",state="accepted"}`) {
		t.Errorf("counts not live:\n%s", grep(body, "payrun_items"))
	}
}

func grep(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// failingStatus is a StatusSource whose journal cannot be read.
type failingStatus struct{}

func (failingStatus) Batches(context.Context, int) ([]BatchStatus, error) {
	return nil, errors.New("boom")
}
func (failingStatus) Batch(context.Context, string) (BatchStatus, error) {
	return BatchStatus{}, errors.New("boom")
}
func (failingStatus) OpenItems(context.Context, string, int) ([]OpenItem, error) {
	return nil, errors.New("boom")
}
func (failingStatus) Counts(context.Context) (Counts, error) { return Counts{}, errors.New("boom") }

func TestServerMetricsWhenTheJournalFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := NewMetrics(reg).RegisterStatus(failingStatus{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(NewServer(ServerOptions{Gatherer: reg, Status: failingStatus{}}))
	defer srv.Close()
	code, _, body := get(t, srv.URL+"/metrics")
	if code != 200 || !strings.Contains(body, "payrun_status_up 0\n") {
		t.Fatalf("%d\n%s", code, grep(body, "payrun_status"))
	}
	code, _, body = get(t, srv.URL+"/api/batches")
	if code != 500 || strings.Contains(body, "boom") {
		t.Fatalf("api %d %q", code, body)
	}
	if code, _, _ := get(t, srv.URL+"/"); code != 500 {
		t.Fatalf("page %d", code)
	}
}

func TestServerStatusAPI(t *testing.T) {
	b := setupServer(t)
	code, h, body := get(t, b.srv.URL+"/api/batches")
	if code != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %s", code, h.Get("Content-Type"), body)
	}
	var list BatchList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Batches) != 1 {
		t.Fatalf("batches %+v", list.Batches)
	}
	got := list.Batches[0]
	if got.ID != testBatch || got.Items != 4 || got.Final != 1 || len(got.Providers) != 2 {
		t.Fatalf("batch %+v", got)
	}
	mon := got.Providers[0]
	if mon.Provider != "monnet" || mon.Total != 3 || mon.Final != 1 ||
		mon.States["succeeded"] != 1 || mon.States["queued"] != 1 || mon.States["accepted"] != 1 {
		t.Fatalf("monnet %+v", mon)
	}
	if len(mon.Amounts) != 1 || mon.Amounts[0] != (Amount{Currency: "PEN", TotalMinor: 6000, Total: "60.00",
		PaidMinor: 1000, Paid: "10.00", Count: 3, PaidCount: 1}) {
		t.Fatalf("monnet amounts %+v", mon.Amounts)
	}
	if tee := got.Providers[1]; tee.Provider != "teemopay" || tee.Total != 1 || tee.Final != 0 || tee.States["submitted"] != 1 {
		t.Fatalf("teemopay %+v", tee)
	}

	code, _, body = get(t, b.srv.URL+"/api/batches/"+testBatch)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var detail BatchDetail
	if err := json.Unmarshal([]byte(body), &detail); err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, it := range detail.OpenItems {
		open = append(open, it.PayoutID+":"+it.State+":"+it.Amount+" "+it.Currency)
	}
	if strings.Join(open, ",") != "P2:queued:20.00 PEN,P3:accepted:30.00 PEN,T1:submitted:5.00 PEN" {
		t.Fatalf("open items %q", open)
	}

	for _, path := range []string{"/api/batches/nope", "/api/batches/%2e%2e"} {
		code, _, body = get(t, b.srv.URL+path)
		if code != 404 || !strings.Contains(body, `"error": "not found"`) {
			t.Fatalf("%s: %d %s", path, code, body)
		}
	}
	if code, _, _ := get(t, b.srv.URL+"/api/batches?limit=x"); code != 400 {
		t.Fatalf("bad limit: %d", code)
	}
}

func TestServerStatusPage(t *testing.T) {
	b := setupServer(t)
	evil := `<script>alert("x")</script>`
	if err := b.j.Import(ctx, journal.Batch{ID: "B-evil\"'<>", File: evil + ".csv", Rows: 1, Valid: 1},
		[]journal.Item{journaltest.ValidItem("E1", evil, 100)}); err != nil {
		t.Fatal(err)
	}
	code, h, body := get(t, b.srv.URL+"/")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", code, h.Get("Content-Type"))
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'sha256-") {
		t.Fatalf("CSP %q", csp)
	}
	for _, want := range []string{
		testBatch,
		`<meta http-equiv="refresh" content="5">`,
		`<progress max="3" value="1"`,
		"1/3 final (33%)",
		"0/1 final (0%)",
		"10.00 of 60.00 PEN",
		"3 open item(s)",
		"<td>P2</td>",
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;.csv",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, evil) {
		t.Error("page holds an unescaped file name")
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("page refers to an external asset")
	}
}

func TestServerWithoutCollaborators(t *testing.T) {
	srv := httptest.NewServer(NewServer(ServerOptions{}))
	defer srv.Close()
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 404, "/api/batches": 404, "/": 404, "/webhooks/monnet": 404} {
		if code, _, _ := get(t, srv.URL+path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
}

// TestMetricsPresentFromTheStart: payrun_build_info, the last success of
// each schedule and the webhook verification failures of every enabled
// provider are exposed before anything happened, so that alerts on them
// have a series to read.
func TestMetricsPresentFromTheStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.Providers("monnet", "teemopay")
	m.Jobs("dispatch", "report")
	srv := httptest.NewServer(NewServer(ServerOptions{Gatherer: reg}))
	defer srv.Close()
	_, _, body := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`payrun_build_info{goversion="go`,
		`payrun_webhook_verification_failed_total{provider="monnet"} 0`,
		`payrun_webhook_verification_failed_total{provider="teemopay"} 0`,
		`payrun_job_last_success_timestamp_seconds{job="dispatch"} 0`,
		`payrun_job_last_success_timestamp_seconds{job="report"} 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	m.ObserveJob("report", time.Second, nil)
	m.ObserveJob("dispatch", time.Second, errors.New("down"))
	_, _, body = get(t, srv.URL+"/metrics")
	if strings.Contains(body, `payrun_job_last_success_timestamp_seconds{job="report"} 0`) ||
		!strings.Contains(body, `payrun_job_last_success_timestamp_seconds{job="dispatch"} 0`) {
		t.Errorf("last success after a good report run and a failed dispatch:\n%s", body)
	}
}
