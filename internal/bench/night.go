package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// NightResult is one whole night: n rows through every phase of payrun
// against the four sandboxes, as `payrun bench --night N` runs it.
type NightResult struct {
	Rows int
	// DropWebhooks says every webhook was lost (polls alone settled the
	// night).
	DropWebhooks bool
	// Run is payrun's process: its figures per phase in Extra, its whole
	// process's wall, CPU and peak resident set in Proc*.
	Run Side
	// Sandboxes is the providers' process (not payrun's cost).
	Sandboxes Side
	Loads     map[string]ProviderLoad
	// RowsBy counts the rows per provider.
	RowsBy map[string]int
	// Load is the machine's load average (/proc/loadavg: 1, 5 and 15
	// minutes) when the night started and when it ended: other work on
	// a shared machine takes the cores the night's figures count on.
	Load [2]string
}

// loadAverage reads /proc/loadavg's three averages ("" without /proc).
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// NightProviders are the night's providers in the order rows take them.
func NightProviders() []string {
	var out []string
	for _, r := range nightTemplates() {
		out = append(out, r.Provider)
	}
	return out
}

// Night runs a whole night of n rows under o.Dir (reused: its night/
// folder is emptied first). The sandboxes run in one child process, payrun
// in another.
func Night(ctx context.Context, o Options, n int, dropWebhooks bool) (*NightResult, error) {
	r, base, cleanup, err := newRunner(o, "payrun-night-")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	dir := filepath.Join(base, "night")
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "run"), 0o700); err != nil {
		return nil, err
	}
	res := &NightResult{Rows: n, DropWebhooks: dropWebhooks, RowsBy: map[string]int{}}
	provs := NightProviders()
	for i := range n {
		res.RowsBy[provs[i%len(provs)]]++
	}
	input := filepath.Join(dir, "payouts-night.csv")
	r.logf("generating the night's %d rows", n)
	if err := WriteNightCSV(input, n); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	hooks := fmt.Sprintf("http://127.0.0.1:%d/webhooks/", port)

	// The providers.
	sb, err := r.command(ctx, job{Name: "night/sandboxes", Dir: dir, Hooks: hooks, Drop: dropWebhooks})
	if err != nil {
		return nil, err
	}
	stdin, err := sb.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := sb.StdoutPipe()
	if err != nil {
		return nil, err
	}
	sbStart := time.Now()
	if err := sb.Start(); err != nil {
		return nil, err
	}
	sbDone := false
	defer func() {
		if !sbDone {
			stdin.Close()
			_ = sb.Wait()
		}
	}()
	sc := bufio.NewScanner(stdout)
	ready := false
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if !ready {
		return nil, errors.New("night: the sandboxes did not start")
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	r.logf("sandboxes ready; the night of %d rows starts (every webhook dropped: %v)", n, dropWebhooks)

	// payrun.
	res.Load[0] = loadAverage()
	run, err := r.command(ctx, job{Name: "night/run", Dir: dir, Input: input, N: n, Port: port})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	run.Stdout = &out
	start := time.Now()
	if err := run.Run(); err != nil {
		return nil, fmt.Errorf("night: payrun: %w", err)
	}
	wall := time.Since(start)
	res.Load[1] = loadAverage()
	if err := json.Unmarshal(lastLine(out.Bytes()), &res.Run); err != nil {
		return nil, fmt.Errorf("night: payrun answered %q: %w", out.String(), err)
	}
	res.Run.ProcWall = wall
	res.Run.ProcCPU, res.Run.ProcMaxRSS = childUsage(run.ProcessState)

	stdin.Close()
	sbDone = true
	if err := sb.Wait(); err != nil {
		return nil, fmt.Errorf("night: sandboxes: %w", err)
	}
	res.Sandboxes.ProcWall = time.Since(sbStart)
	res.Sandboxes.ProcCPU, res.Sandboxes.ProcMaxRSS = childUsage(sb.ProcessState)
	if res.Loads, err = readLoads(dir); err != nil {
		return nil, err
	}
	return res, nil
}

// freePort returns a loopback port free a moment ago, for the receiver:
// the sandboxes must know where to post before payrun listens.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Limit is the time provider p's configured rate allows for its rows.
func (n *NightResult) Limit(p string) time.Duration {
	rate := NightRates[p]
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(n.RowsBy[p]) * requestsPerPayout(p) / rate * float64(time.Second))
}

// NightLimit is the slowest provider's Limit: the night cannot pay faster.
func (n *NightResult) NightLimit() time.Duration {
	var worst time.Duration
	for p := range n.RowsBy {
		worst = max(worst, n.Limit(p))
	}
	return worst
}

func (n *NightResult) x(k string) float64 { return n.Run.Extra[k] }

// Checks are the night's pass/fail figures that do not depend on the
// machine's speed: every payout has its result, none paid twice, the
// providers' ledgers agree with the journal. CI runs on them.
func (n *NightResult) Checks() []string {
	var bad []string
	if left := int(n.x("left_open")); left > 0 {
		bad = append(bad, fmt.Sprintf("%d payouts still need payrun", left))
	}
	paid, twice := 0, 0
	for _, l := range n.Loads {
		paid += l.Paid
		twice += l.PaidTwice
	}
	if twice > 0 {
		bad = append(bad, fmt.Sprintf("%d payouts paid more than once", twice))
	}
	// A payout waiting for a notification the sandbox lost (a Monnet
	// payout payrun cannot ask about) may have been paid: it is neither
	// final nor counted as succeeded, and never counted as paid twice.
	waiting := int(n.x("waiting_notification"))
	if ok := int(n.x("state_succeeded")); paid < ok || paid > ok+waiting {
		bad = append(bad, fmt.Sprintf("the providers paid %d payouts, the journal says %d succeeded (%d wait for a notification)", paid, ok, waiting))
	}
	final := 0
	for k, v := range n.Run.Extra {
		if s, ok := strings.CutPrefix(k, "state_"); ok && slices.Contains([]string{"succeeded", "failed", "cancelled"}, s) {
			final += int(v)
		}
	}
	if final+waiting != n.Rows {
		bad = append(bad, fmt.Sprintf("%d of %d payouts final, %d waiting for a notification (%s)", final, n.Rows, waiting, n.stateList()))
	}
	return bad
}

func (n *NightResult) stateList() string {
	var parts []string
	for k, v := range n.Run.Extra {
		if s, ok := strings.CutPrefix(k, "state_"); ok {
			parts = append(parts, fmt.Sprintf("%s %d", s, int(v)))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// WriteNight prints the night: per phase, the time against the time the
// configured limits allow, CPU, peak memory; per provider, the rate and
// polls; then the costs per payout and the goals.
func WriteNight(w io.Writer, n *NightResult) error {
	var b strings.Builder
	rows := float64(n.Rows)
	limit := n.NightLimit()
	mode := "webhooks delivered (1% lost, 2% duplicated)"
	if n.DropWebhooks {
		mode = "every webhook lost"
	}
	fmt.Fprintf(&b, "night of %s rows over %d providers, %s, latency %s a request; load average %s at the start, %s at the end\n\n",
		count(n.Rows), len(n.RowsBy), mode, NightLatency, n.Load[0], n.Load[1])
	fmt.Fprintf(&b, "| phase | time | limit the rates allow | ratio | CPU | CPU per payout | peak RSS (anon) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, ph := range []struct{ key, label string }{{"ingest", "ingest"}, {"preflight", "pre-flight"},
		{"pay", "dispatch, confirm, webhooks, polls (to the last result)"}, {"reconcile", "reconcile"}, {"report", "report (workbook, CSVs, annotated copy)"}} {
		lim, ratio := "-", "-"
		if ph.key == "pay" {
			lim = limit.Round(100 * time.Millisecond).String()
			ratio = fmt.Sprintf("%.3fx", n.x("pay_s")/limit.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %.1f s | %s | %s | %.1f s | %.3f ms | %s (%s) |\n", ph.label, n.x(ph.key+"_s"), lim, ratio,
			n.x(ph.key+"_cpu_s"), n.x(ph.key+"_cpu_s")*1000/rows, mb(int64(n.x(ph.key+"_peak"))), mb(int64(n.x(ph.key+"_anon"))))
	}
	fmt.Fprintf(&b, "| **whole night** | %.1f s | %s | **%.3fx** | %.1f s | %.3f ms | %s |\n", n.x("night_s"),
		limit.Round(100*time.Millisecond), n.x("night_s")/limit.Seconds(), n.x("night_cpu_s"), n.x("night_cpu_s")*1000/rows, mb(n.Run.ProcMaxRSS))
	fmt.Fprintf(&b, "| payrun process (start to exit, rusage) | %.1f s | | | %.1f s | %.3f ms | %s |\n", n.Run.ProcWall.Seconds(),
		n.Run.ProcCPU.Seconds(), n.Run.ProcCPU.Seconds()*1000/rows, mb(n.Run.ProcMaxRSS))
	fmt.Fprintf(&b, "| sandboxes process (not payrun's cost) | %.1f s | | | %.1f s | %.3f ms | %s |\n\n", n.Sandboxes.ProcWall.Seconds(),
		n.Sandboxes.ProcCPU.Seconds(), n.Sandboxes.ProcCPU.Seconds()*1000/rows, mb(n.Sandboxes.ProcMaxRSS))

	fmt.Fprintf(&b, "| provider | rows | rate (req/s) | limit | sends first to last | busiest minute | busiest second at the door (as they left payrun) | requests (through payrun's budget) | polls per payout |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	names := make([]string, 0, len(n.RowsBy))
	for p := range n.RowsBy {
		names = append(names, p)
	}
	slices.Sort(names)
	var lastSend time.Time
	polls := 0
	var outside []string
	for _, p := range names {
		l := n.Loads[p]
		rate := NightRates[p]
		polls += l.Polls
		if l.LastSend.After(lastSend) {
			lastSend = l.LastSend
		}
		through := int(n.x("sent_requests_" + p))
		if l.Requests > through {
			outside = append(outside, fmt.Sprintf("%s %s", p, count(l.Requests-through)))
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %s | %s | %.1f/s (%.1f%%) | %d (%.1f%%) (%d) | %s (%s) | %.3f |\n", p, count(n.RowsBy[p]), rate,
			n.Limit(p).Round(100*time.Millisecond), l.LastSend.Sub(l.FirstSend).Round(100*time.Millisecond),
			float64(l.BusiestMinute)/60, float64(l.BusiestMinute)/60/rate*100, l.BusiestSecond, float64(l.BusiestSecond)/rate*100,
			int(n.x("sent_busiest_second_"+p)), count(l.Requests), count(through), float64(l.Polls)/float64(max(n.RowsBy[p], 1)))
	}
	last := time.Unix(0, int64(n.x("last_result_unix")*1e9))
	fmt.Fprintf(&b, "\n- last result recorded %.1f s after the last send\n", last.Sub(lastSend).Seconds())
	if len(outside) > 0 {
		// Each one a request no budget counted: a path that sends
		// without providers.Pace, or an HTTP transport sending a request
		// again by itself (see providers.Pace).
		fmt.Fprintf(&b, "- requests outside payrun's budget: %s\n", strings.Join(outside, ", "))
	} else {
		fmt.Fprintf(&b, "- every request the sandboxes saw left through payrun's budget\n")
	}
	fmt.Fprintf(&b, "- polls per payout %.3f (%s status queries; %s counted in the journal)\n", float64(polls)/rows, count(polls), count(int(n.x("polls_journal"))))
	fmt.Fprintf(&b, "- journal: %.0f bytes per payout written (%s of pages), %.0f on disk, file %s (bbolt grows it ahead) (",
		n.x("journal_data")/rows, mb(int64(n.x("journal_data"))), n.x("journal_disk")/rows, mb(int64(n.x("journal_bytes"))))
	var bk []string
	for k, v := range n.Run.Extra {
		if name, ok := strings.CutPrefix(k, "bucket_"); ok && v > 0 {
			bk = append(bk, fmt.Sprintf("%s %.0f (%.0f)", name, v/rows, n.x("bucketuse_"+name)/rows))
		}
	}
	slices.Sort(bk)
	fmt.Fprintf(&b, "bytes of pages per payout, and in brackets the bytes of them in use: %s)\n", strings.Join(bk, ", "))
	fmt.Fprintf(&b, "- payouts: %s", n.stateList())
	if w := int(n.x("waiting_notification")); w > 0 {
		fmt.Fprintf(&b, " (%d waiting for a notification only the provider can send, which the sandbox lost: payrun cannot ask about them)", w)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "- webhooks: ")
	for _, p := range names {
		l := n.Loads[p]
		fmt.Fprintf(&b, "%s %d accepted, %d attempts, %d lost; ", p, l.WebhooksAccepted, l.WebhookAttempts, l.WebhooksDropped)
	}
	b.WriteString("\n")
	if bad := n.Checks(); len(bad) > 0 {
		fmt.Fprintf(&b, "- CHECKS FAILED: %s\n", strings.Join(bad, "; "))
	} else {
		b.WriteString("- checks: every payout final or waiting for a lost notification, none paid twice, the providers' ledgers agree with the journal, the tie-out balances\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
