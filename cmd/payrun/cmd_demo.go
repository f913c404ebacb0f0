package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/collect"
	"github.com/payrun/payrun/internal/daemon"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/sandboxes"
	"github.com/payrun/payrun/providers/sandboxkit"
	"github.com/payrun/payrun/reconcile"
)

const demoMarker = ".payrun-demo"

func cmdDemo() command {
	c := command{Name: "demo", Summary: "run the whole flow against the providers' sandboxes on loopback, with no configuration",
		Usage: "demo [--dir DIR] [--rows N] [--journal LOCATION] [--serve]"}
	c.Run = func(ctx context.Context, e *env, args []string) error {
		fs := newFlags(&c, e)
		dir := fs.String("dir", "payrun-demo", "working `DIR` for the demo (recreated on every run)")
		rows := fs.Int("rows", 24, "`N` rows in each sample file")
		serve := fs.Bool("serve", false, "leave the daemon running on the demo directory afterwards")
		journalAt := fs.String("journal", "", "the journal `LOCATION`: a postgres:// URL (or env:NAME) runs the demo on PostgreSQL, which must be empty; default a file in the demo directory")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *rows < 8 || *rows > 100000 {
			return usagef("--rows must be between 8 and 100000")
		}
		return runDemo(ctx, e, *dir, *rows, *serve, *journalAt)
	}
	return c
}

// prepareDemoDir empties a previous demo directory; it refuses to touch a
// directory that payrun did not create for a demo.
func prepareDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	case len(entries) > 0:
		if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
			return usagef("%s exists and is not a payrun demo directory; choose another --dir", dir)
		}
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, demoMarker), []byte("created by payrun demo; deleted by the next demo run\n"), 0o640)
}

func runDemo(ctx context.Context, e *env, dirArg string, rows int, serve bool, journalAt string) error {
	start := time.Now()
	dir, err := filepath.Abs(dirArg)
	if err != nil {
		return err
	}
	if err := prepareDemoDir(dir); err != nil {
		return err
	}
	out := e.stdout
	fmt.Fprintf(out, "payrun demo in %s\n\n", dir)

	// The providers: four sandboxes on loopback, with a few faults so that
	// the demo shows retries, duplicates and failures handled.
	land, err := sandboxes.Start(sandboxes.Options{Dir: dir, ProcessingDelay: 300 * time.Millisecond, Seed: 20261121})
	if err != nil {
		return err
	}
	defer land.Close()
	for _, n := range land.Names() {
		land.Kit(n).SetFaults(demoFaults(n))
	}

	cfg := sandboxConfig(land, dir, "")
	cfg.Dir = dir
	cfg.Path = filepath.Join(dir, "payrun.yaml")
	cfg.Dispatch.ResendAfter = time.Second
	cfg.Reports.To = []string{"accounts@example.com"}
	cfg.Reports.Operators = []string{"payments-ops@example.com"}
	if journalAt != "" {
		cfg.Journal = journalAt
	}
	for _, d := range []string{cfg.Dirs.Inbox, cfg.Dirs.Reports, cfg.Dirs.Outbox, cfg.Dirs.Archive} {
		if err := os.MkdirAll(cfg.Abs(d), 0o750); err != nil {
			return err
		}
	}
	j, err := app.OpenJournal(ctx, cfg)
	if err != nil {
		return err
	}
	defer j.Close()
	if bs, err := j.ListBatches(ctx); err != nil {
		return err
	} else if len(bs) > 0 {
		return usagef("the demo needs an empty journal; %s holds %d batches", app.JournalName(cfg), len(bs))
	}
	log := newLogger(cfg, io.Discard)

	// The webhook receiver, on loopback, where the sandboxes send.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg.Serve.Listen = ln.Addr().String()
	cfg.Serve.PublicURL = "http://" + cfg.Serve.Listen
	land.SetWebhookBase(cfg.Serve.PublicURL + "/webhooks/")
	if err := writeConfig(cfg.Path, cfg); err != nil {
		return err
	}
	a, err := app.New(cfg, j, log)
	if err != nil {
		return err
	}
	recv := a.Receiver(nil)
	// The card collection pages, beside the webhooks, as the daemon serves them.
	coll, err := a.Collect()
	if err != nil {
		return err
	}
	srv := &daemon.HTTPServer{Listener: ln, Handler: coll.Mount(recv.Handler()), Log: log}
	if err := recv.Start(ctx); err != nil {
		return err
	}
	if err := coll.Start(ctx); err != nil {
		recv.Stop()
		return err
	}
	if err := srv.Start(ctx); err != nil {
		coll.Stop()
		recv.Stop()
		return err
	}
	stopReceiver := func() {
		srv.Stop()
		coll.Stop()
		recv.Stop()
	}
	defer stopReceiver()
	fmt.Fprintf(out, "Sandboxes: ")
	for _, n := range land.Names() {
		fmt.Fprintf(out, "%s %s  ", n, land.URLs[n])
	}
	fmt.Fprintf(out, "\nWebhooks:  %s/webhooks/{provider}\nCards:     %s/collect/{payout_id}?e=...&s=... (signed links)\nConfig:    %s\n\n",
		cfg.Serve.PublicURL, cfg.Serve.PublicURL, cfg.Path)

	// The sample files: a CSV and an XLSX, every provider and method.
	csvPath := filepath.Join(cfg.Abs(cfg.Dirs.Inbox), "payouts-demo.csv")
	xlsxPath := filepath.Join(cfg.Abs(cfg.Dirs.Inbox), "payouts-demo.xlsx")
	// The CSV also has one Bank 131 and one Smart Glocal row without a
	// card token: card collections, played below by their beneficiaries.
	if err := writeDemoFile(csvPath, append(demoRows("CSV", rows), demoCollectionRows("CSV")...), false); err != nil {
		return err
	}
	if err := writeDemoFile(xlsxPath, demoRows("XLS", rows), true); err != nil {
		return err
	}
	var ids []string
	for _, p := range []string{csvPath, xlsxPath} {
		res, err := j.Ingest(ctx, p, app.IngestOptions(cfg, app.EnabledProviders(cfg)))
		if err != nil {
			return err
		}
		if err := printIngest(out, res); err != nil {
			return err
		}
		ids = append(ids, res.Batch.ID)
	}
	fmt.Fprintln(out)

	// Pay, then play the beneficiaries of card push payouts and payment
	// links while webhooks and the poller settle the rest.
	sum, err := a.Dispatcher.Run(ctx, ids, progressReporter(e.stderr, log))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Dispatched: %s sent, %d held, %d in doubt (resolved next)\n", plural(sum.Sent, "request"), sum.Held, sum.InDoubt)
	played, err := playBeneficiaries(ctx, j, ids, coll)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Played the beneficiary of %s (card push payouts, payment links and card collections); one link is left unpaid on purpose.\n", plural(played, "payout"))
	if _, err := a.Follow(ctx, ids, 20*time.Second); err != nil {
		return err
	}
	if _, err := playBeneficiaries(ctx, j, ids, coll); err != nil {
		return err
	}
	if _, err := a.Follow(ctx, ids, 8*time.Second); err != nil {
		return err
	}
	// Every notification acknowledged so far counts from here on.
	if err := recv.Drain(ctx); err != nil {
		return err
	}
	if err := printBatchStates(ctx, out, j, ids); err != nil {
		return err
	}

	// Exactly once, by the providers' own books.
	if err := checkLedgers(ctx, land, j, ids, out); err != nil {
		return err
	}

	// Reconciliation and reports.
	for _, id := range ids {
		res, err := reconcile.Match(ctx, j, reconcile.Scope{BatchID: id}, j.Now(), reconcile.MatchOptions{Location: cfg.Location(), SLA: cfg.Reconcile.SLA})
		if err != nil {
			return err
		}
		fmt.Fprintln(out)
		printReconciliation(out, res)
	}
	fmt.Fprintln(out)
	files, err := app.Report(ctx, cfg, j, reconcile.Scope{Date: j.Now().In(cfg.Location()).Format("2006-01-02")},
		cfg.Abs(cfg.Dirs.Reports), true, out)
	if err != nil {
		return err
	}
	printPaths(out, files)
	fmt.Fprintf(out, "\nDone in %s. Journal: %s\n", durationText(time.Since(start).Round(100*time.Millisecond)), app.JournalName(cfg))
	if !files.Balanced {
		return errors.New("the reconciliation does not tie out: this is a bug, please report it")
	}
	if serve {
		fmt.Fprintf(out, "\nThe daemon keeps running on %s: drop files into %s; status page %s/ (Ctrl-C to stop)\n",
			dir, cfg.Abs(cfg.Dirs.Inbox), cfg.Serve.PublicURL)
		stopReceiver()
		return serveDaemon(ctx, e, cfg, j)
	}
	return nil
}

// demoFaults are the sandboxes' fault knobs in the demo: duplicated and
// delayed webhooks, a few dropped responses and 5xx, and rules that make
// the rows whose payout_id contains "-F" fail at the provider.
func demoFaults(name string) sandboxkit.Faults {
	f := sandboxkit.Faults{
		WebhookDuplicateRate: 0.3,
		WebhookDelay:         200 * time.Millisecond,
		WebhookReorder:       true,
		DropResponseEvery:    9,
		Burst5xx:             1,
	}
	switch name {
	case "monnet":
		f.Rules = []sandboxkit.Rule{{RefContains: "-F", Outcome: "fail", Code: "4001", Message: "Account closed"}}
	case "teemopay":
		f.Rules = []sandboxkit.Rule{{RefContains: "-F", Outcome: "fail", Code: "1000", Message: "Account missing or restricted"}}
	default:
		f.Rules = []sandboxkit.Rule{{RefContains: "-F", Outcome: "fail", Code: "card_declined", Message: "Card declined by issuer"}}
	}
	return f
}

// playBeneficiaries completes card push iframes, pays payment links
// except the last link of each batch (to show an open item), and gives a
// card on every card collection's page.
func playBeneficiaries(ctx context.Context, j journal.Journal, ids []string, coll *app.Collect) (int, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	played := 0
	for _, id := range ids {
		var waiting, collections []journal.Item
		if err := j.BatchItems(ctx, id, func(it journal.Item) bool {
			switch {
			case it.State != journal.AwaitingBeneficiary:
			case it.Last.URL != "":
				waiting = append(waiting, it)
			case it.Payout.Method == providers.CardToken:
				collections = append(collections, it)
			}
			return true
		}); err != nil {
			return played, err
		}
		for i, it := range collections {
			link, ok := collect.LinkOf(it, coll.Signer, coll.Lifetimes)
			if !ok {
				continue
			}
			pan := []string{"4242424242424242", "5555555555554444"}[i%2]
			// A beneficiary told to try again (the provider's answer was
			// lost: the demo's sandboxes drop some) tries again.
			outcome, _, err := giveCard(ctx, link.URL, pan)
			for try := 1; err == nil && outcome == "retry" && try < 5; try++ {
				outcome, _, err = giveCard(ctx, link.URL, pan)
			}
			if err != nil {
				return played, fmt.Errorf("card collection %s: %w", it.PayoutID, err)
			} else if outcome == "received" {
				played++
			}
		}
		lastLink := ""
		for _, it := range waiting {
			if it.Payout.Method == providers.PaymentLink {
				lastLink = it.PayoutID
			}
		}
		for _, it := range waiting {
			if it.PayoutID == lastLink {
				continue
			}
			url, body := it.Last.URL+"/pay", ""
			if it.Payout.Method == providers.CardPush {
				url, body = it.Last.URL+"/complete", `{"pan":"4111111111111111","expiry":"2030-12"}`
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
			if err != nil {
				return played, err
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				return played, err
			}
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				played++
			}
		}
	}
	return played, nil
}

// checkLedgers compares the sandboxes' ledgers with the journal: every
// payout paid at most once, and paid exactly when the journal says so.
func checkLedgers(ctx context.Context, land *sandboxes.Landscape, j journal.Journal, ids []string, out io.Writer) error {
	paid := map[string]int{}
	for _, n := range land.Names() {
		for ref, k := range land.Kit(n).Ledger.PaidByReference() {
			paid[ref] += k
		}
	}
	var problems []string
	succeeded := 0
	for _, id := range ids {
		if err := j.BatchItems(ctx, id, func(it journal.Item) bool {
			n := paid[it.PayoutID]
			if n > 1 {
				problems = append(problems, fmt.Sprintf("%s paid %s", it.PayoutID, plural(n, "time")))
			}
			if (it.State == journal.Succeeded) != (n == 1) {
				problems = append(problems, fmt.Sprintf("%s is %s in the journal, paid %s at %s", it.PayoutID, it.State, plural(n, "time"), it.Provider))
			}
			if it.State == journal.Succeeded {
				succeeded++
			}
			return true
		}); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("ledger check failed:\n  %s", strings.Join(problems, "\n  "))
	}
	fmt.Fprintf(out, "Ledger check: %s paid exactly once at the providers; none twice; the journal agrees.\n", plural(succeeded, "payout"))
	return nil
}
