package collect_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/reconcile"
)

// browser starts headless Chromium (Debian's chromium package) for a test,
// with the flags this machine's closed network needs, or skips the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not on PATH: install Debian's chromium package (apt-get install -y chromium) to run the beneficiary page's browser tests")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1000, 900),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// fillWidget types a card into the provider's widget, an iframe from the
// sandbox's origin inside payrun's page, and sends it.
func fillWidget(ctx context.Context, pan string) error {
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`#collect[data-state="ready"]`))); err != nil {
		return err
	}
	frames, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#tokenization-widget")))
	if err != nil {
		return err
	}
	in := chromedp.FromNode(frames[0])
	return chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#card-number"), in),
		chromedp.SendKeys(chromedp.CSS("#card-number"), pan, in),
		chromedp.SendKeys(chromedp.CSS("#card-expiry"), "12/39", in),
		chromedp.SendKeys(chromedp.CSS("#card-holder"), "ANA QUISPE", in),
		chromedp.SendKeys(chromedp.CSS("#card-cvc"), "123", in),
		chromedp.Click(chromedp.CSS("#card-submit"), in),
	)
}

// outcome reads what the page says it is, once it is no longer the form.
func outcome(ctx context.Context) (string, string, error) {
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitReady(chromedp.CSS(`main[data-outcome]:not([data-outcome="form"])`))); err != nil {
		return "", "", err
	}
	attrs, err := chromedp.Run(ctx, chromedp.Attributes(chromedp.CSS("main")))
	return attrs["data-outcome"], attrs["data-last4"], err
}

// TestCollectionInChromium is the beneficiary's whole path in a real
// browser, per provider: the link from the report opens payrun's page,
// the provider's widget (the sandbox's stand-in, in its iframe) is filled
// in, the page posts the card's hashes, payrun checks them and pays: the
// sandbox's ledger shows the payout paid once. The link opened again says
// so and offers no form; a second payout's link opened after its expiry
// says expired, the poller expires the row, and nothing is paid.
func TestCollectionInChromium(t *testing.T) {
	for _, name := range providersUnderTest {
		t.Run(name, func(t *testing.T) {
			ctx := browser(t)
			var c clock
			b := setup(t, name, benchOptions{Lifetime: time.Hour, Now: c.Now})
			b.pay("W-1", "W-2")
			link, late := b.reportLink("W-1"), b.reportLink("W-2")

			// Paid once.
			if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
				t.Fatal(err)
			}
			amount, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#amount")))
			if err != nil {
				t.Fatal(err)
			}
			if want := b.item("W-1").Payout.Amount.Decimal() + " " + b.currency(); amount != want {
				t.Errorf("page shows %q, want %q", amount, want)
			}
			screenshot(ctx, name+"-form")
			if err := fillWidget(ctx, "4242 4242 4242 4242"); err != nil {
				t.Fatal(err)
			}
			out, last4, err := outcome(ctx)
			if err != nil || out != "received" || last4 != "4242" {
				t.Fatalf("after the widget: outcome %q, last4 %q, %v", out, last4, err)
			}
			screenshot(ctx, name+"-received")
			b.waitPaid("W-1")

			// Used twice: the page says paid, offers no widget.
			if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
				t.Fatal(err)
			}
			if out, _, err := outcome(ctx); err != nil || out != "paid" {
				t.Errorf("link used again: %q %v", out, err)
			}
			if widgets, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSS("#tokenization-widget"), chromedp.AtLeast(0))); err != nil || len(widgets) != 0 {
				t.Errorf("a paid payout's page shows the widget (%d, %v)", len(widgets), err)
			}

			// Expired: the page says so; the poller expires the row.
			c.Advance(time.Hour + time.Second)
			if err := chromedp.Do(ctx, chromedp.Navigate(late)); err != nil {
				t.Fatal(err)
			}
			if out, _, err := outcome(ctx); err != nil || out != "expired" {
				t.Errorf("expired link: %q %v", out, err)
			}
			c.Advance(reconcile.LinkGrace)
			pl := reconcile.NewPoller(b.j, b.provs, reconcile.PollOptions{After: -1, Now: c.Now})
			if _, err := pl.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if it := b.item("W-2"); it.State != journal.Expired {
				t.Errorf("W-2 is %s, want expired", it.State)
			}
			if n := b.ledgerPaid("W-2"); n != 0 {
				t.Errorf("the expired payout was paid %d times", n)
			}
			if n := b.ledgerPaid("W-1"); n != 1 {
				t.Errorf("W-1 paid %d times", n)
			}
		})
	}
}

// TestCollectionPageCSP loads the form in Chromium and checks that the
// page's own script ran under its Content-Security-Policy (it marks the
// page ready only after rendering the widget) and that the widget's
// iframe is from the provider's origin.
func TestCollectionPageCSP(t *testing.T) {
	ctx := browser(t)
	b := setup(t, "bank131", benchOptions{})
	b.pay("W-3")
	link := b.reportLink("W-3")
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitReady(chromedp.CSS(`#collect[data-state="ready"]`))); err != nil {
		t.Fatal(err)
	}
	attr, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("#tokenization-widget"), "src"))
	if err != nil {
		t.Fatal(err)
	}
	src := attr.Value
	if !strings.HasPrefix(src, b.api.URL+"/widget/form?") {
		t.Errorf("widget iframe src %q, want the provider's origin %s", src, b.api.URL)
	}
}

// screenshot keeps a picture of the page for a person to look at, when
// PAYRUN_SCREENSHOT names a file (its name gains what).
func screenshot(ctx context.Context, what string) {
	shot := os.Getenv("PAYRUN_SCREENSHOT")
	if shot == "" {
		return
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(strings.TrimSuffix(shot, ".png")+"-"+what+".png", png, 0o644)
	}
}
