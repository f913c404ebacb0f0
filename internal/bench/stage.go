package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// ChildEnv is the hidden environment variable that turns the payrun
// binary into one measurement of a stage: its value is the JSON job.
const ChildEnv = "PAYRUN_BENCH_CHILD"

// Side is one measured run of a stage: ours or the baseline.
type Side struct {
	Elapsed time.Duration `json:"elapsed"`
	// Items is the work done (rows, payouts, webhooks, lines).
	Items int `json:"items"`
	// PeakRSS is the child process's VmHWM in bytes: the most resident
	// memory it ever had, Go runtime and in-process sandbox included.
	PeakRSS int64 `json:"peak_rss"`
	// PeakAnon is the most anonymous resident memory (RssAnon: heap,
	// stacks; not the journal's file-backed mmap, which VmHWM counts and
	// the kernel can drop) seen by sampling every 10 ms.
	PeakAnon int64 `json:"peak_anon"`
	// CPU is the process's CPU time (user and system, every thread,
	// in-process sandbox included) during the timed part, where a stage
	// measures it: less sensitive than Elapsed to other work on a shared
	// machine. It is 0 where not measured, and on systems without
	// getrusage(2) (see cputime_other.go).
	CPU time.Duration `json:"cpu,omitempty"`
	// Tail is work left after the timed part and timed apart, where a
	// stage has some: the webhook events acknowledged and not applied yet
	// when the last acknowledgement went out. TailCPU is its CPU time.
	Tail    time.Duration `json:"tail,omitempty"`
	TailCPU time.Duration `json:"tail_cpu,omitempty"`
	// Extra carries stage-specific figures (rate accuracy counts, the
	// webhook rounds' ratios).
	Extra map[string]float64 `json:"extra,omitempty"`
	// Base is the baseline, where a stage measures both sides in one
	// process (the webhook stage, round for round).
	Base *Side `json:"base,omitempty"`
	// The whole child process, as the parent saw it: wall time from start
	// to exit, CPU time and peak resident set from its rusage (ru_maxrss).
	// They count what the timed part leaves out (start-up, reading inputs,
	// opening the journal, the in-process sandbox), which is what a user
	// running the command pays.
	ProcWall   time.Duration `json:"proc_wall,omitempty"`
	ProcCPU    time.Duration `json:"proc_cpu,omitempty"`
	ProcMaxRSS int64         `json:"proc_max_rss,omitempty"`
}

// PerSecond is the side's throughput.
func (s Side) PerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Items) / s.Elapsed.Seconds()
}

// Result is one row of the table.
type Result struct {
	Stage    string
	Workload string
	Ours     Side
	Base     Side
	// BaseLabel names a baseline that is not a measurement (the ideal
	// time of the rate stages); empty for a measured one.
	BaseLabel string
	Goal      string
	// Verdict is "met", "missed: ..." or "" when the stage has no goal.
	Verdict string
	Note    string
}

// Ratio is ours/baseline time.
func (r Result) Ratio() float64 {
	if r.Base.Elapsed <= 0 {
		return 0
	}
	return r.Ours.Elapsed.Seconds() / r.Base.Elapsed.Seconds()
}

// Options configure Run.
type Options struct {
	// Self is the command line that re-executes this binary as a child
	// (e.g. os.Args[0], "bench"); the child must call RunChild.
	Self []string
	// Scale divides every workload (1: full sizes; 10: --quick).
	Scale int
	// Dir holds the generated inputs and journals ("" = a temporary
	// directory, removed afterwards).
	Dir string
	// Log receives progress lines (nil: discarded).
	Log io.Writer
	// Stages, when set, runs only these: ingest, ingest_xlsx, dispatch,
	// rate, webhook, recovery, match, report.
	Stages []string
	// Postgres, when set, is the connection string of a PostgreSQL server
	// where the bench may create and drop databases: the stages in
	// PostgresStages then gain a row on PostgreSQL each.
	Postgres string
}

// StageNames lists the stages in table order.
var StageNames = []string{"ingest", "ingest_xlsx", "dispatch", "rate", "webhook", "recovery", "match", "report"}

// Workload sizes at full scale.
const (
	CSVRows       = 1_000_000
	XLSXRows      = 200_000
	DispatchItems = 20_000
	RateItems     = 5_000
	RateLimit     = 200
	RateBurst     = 20
	RefuseAbove   = 100
	Webhooks      = 20_000
	// WebhookRoundCount is how many paired rounds the webhook stage runs
	// (odd: the median is one of them).
	WebhookRoundCount = 5
	JournalItems      = 1_000_000
	ReportLines       = 1_000_000
	// Concurrency is the dispatch pool's width and the bare loop's.
	Concurrency = 16
	// InFlight is how many items the SIGKILL leaves in sending.
	InFlight = 32
)

// job is what a child process measures.
type job struct {
	Name  string `json:"name"`
	Dir   string `json:"dir"`
	Input string `json:"input,omitempty"`
	N     int    `json:"n"`
	// Port and Hooks are the night's: the receiver's port and the URL
	// the sandboxes post webhooks to; Drop loses every webhook.
	Port  int    `json:"port,omitempty"`
	Hooks string `json:"hooks,omitempty"`
	Drop  bool   `json:"drop,omitempty"`
	// DSN is the PostgreSQL database of a side on PostgreSQL, made for it.
	DSN string `json:"dsn,omitempty"`
	// Fill is the ingest baseline's bbolt fill: the one the journal chose
	// for the same rows.
	Fill float64 `json:"fill,omitempty"`
	// keep leaves the directory to the caller when the side is over.
	keep bool
}

// sideFunc measures one side of one stage in the current process.
type sideFunc func(ctx context.Context, jb job) (Side, error)

// sides lists every measurement a child can run.
var sides = map[string]sideFunc{
	"ingest/ours":   func(_ context.Context, jb job) (Side, error) { return IngestOurs(jb.Input, jb.Dir) },
	"ingest/base":   func(_ context.Context, jb job) (Side, error) { return IngestBaseline(jb.Input, jb.Dir, jb.Fill) },
	"dispatch/ours": func(ctx context.Context, jb job) (Side, error) { return DispatchOurs(ctx, jb.Dir, jb.N) },
	"dispatch/base": func(ctx context.Context, jb job) (Side, error) { return DispatchBaseline(ctx, jb.Dir, jb.N) },
	"rate/limit":    func(ctx context.Context, jb job) (Side, error) { return RateRun(ctx, jb.Dir, jb.N, 0) },
	"rate/refuse":   func(ctx context.Context, jb job) (Side, error) { return RateRun(ctx, jb.Dir, jb.N, RefuseAbove) },
	"webhook/rounds": func(ctx context.Context, jb job) (Side, error) {
		return WebhookRounds(ctx, jb.Dir, jb.N, WebhookRoundCount)
	},
	"journal/build":    func(ctx context.Context, jb job) (Side, error) { return buildJournal(ctx, jb.Input, jb.N) },
	"recovery/ours":    func(_ context.Context, jb job) (Side, error) { return RecoveryOurs(jb.Input) },
	"recovery/base":    func(_ context.Context, jb job) (Side, error) { return RecoveryBaseline(jb.Input) },
	"match/ours":       func(_ context.Context, jb job) (Side, error) { return MatchOurs(jb.Input) },
	"match/base":       func(_ context.Context, jb job) (Side, error) { return MatchBaseline(jb.Input) },
	"report/ours":      func(_ context.Context, jb job) (Side, error) { return ReportJournalOurs(jb.Input, jb.Dir) },
	"report/base":      func(_ context.Context, jb job) (Side, error) { return ReportJournalBaseline(jb.Input, jb.Dir) },
	"ingest_xlsx/ours": func(_ context.Context, jb job) (Side, error) { return IngestOurs(jb.Input, jb.Dir) },
	"ingest_xlsx/base": func(_ context.Context, jb job) (Side, error) { return IngestBaseline(jb.Input, jb.Dir, jb.Fill) },
	"ingest/fill": func(_ context.Context, jb job) (Side, error) {
		fill, err := IngestFill(jb.Dir)
		return Side{Extra: map[string]float64{"fill": fill}}, err
	},
	"pg_ingest/ours":   func(ctx context.Context, jb job) (Side, error) { return IngestPostgres(ctx, jb.Input, jb.DSN) },
	"pg_ingest/base":   func(ctx context.Context, jb job) (Side, error) { return IngestCopyBaseline(ctx, jb.Input, jb.DSN) },
	"pg_dispatch/ours": func(ctx context.Context, jb job) (Side, error) { return DispatchPostgres(ctx, jb.Dir, jb.DSN, jb.N) },
	"pg_dispatch/base": func(ctx context.Context, jb job) (Side, error) { return DispatchBaseline(ctx, jb.Dir, jb.N) },
	"pg_webhook/ours":  func(ctx context.Context, jb job) (Side, error) { return webhookPostgresSide(ctx, jb.Dir, jb.DSN, jb.N) },
	"pg_webhook/base":  func(ctx context.Context, jb job) (Side, error) { return webhookBareSide(ctx, jb.Dir, jb.DSN, jb.N) },
	"pg_journal/build": func(ctx context.Context, jb job) (Side, error) { return buildPostgresJournal(ctx, jb.DSN, jb.N) },
	"pg_recovery/ours": func(ctx context.Context, jb job) (Side, error) { return RecoveryPostgres(ctx, jb.DSN) },
	"pg_recovery/base": func(ctx context.Context, jb job) (Side, error) { return RecoveryBarePostgres(ctx, jb.DSN) },
	"pg_match/ours":    func(ctx context.Context, jb job) (Side, error) { return MatchPostgres(ctx, jb.DSN) },
	"pg_match/base":    func(ctx context.Context, jb job) (Side, error) { return MatchBarePostgres(ctx, jb.DSN) },
	"night/sandboxes":  func(_ context.Context, jb job) (Side, error) { return nightSandboxes(jb.Dir, jb.Hooks, jb.Drop) },
	"night/run":        func(ctx context.Context, jb job) (Side, error) { return nightRun(ctx, jb.Dir, jb.Input, jb.Port) },
}

// IsChild reports whether this process was started by Run to measure.
func IsChild() bool { return os.Getenv(ChildEnv) != "" }

// RunChild runs the job named in ChildEnv and writes its Side as one JSON
// line to w, with the process's peak RSS.
func RunChild(ctx context.Context, w io.Writer) error {
	var jb job
	if err := json.Unmarshal([]byte(os.Getenv(ChildEnv)), &jb); err != nil {
		return fmt.Errorf("bench child: %w", err)
	}
	fn, ok := sides[jb.Name]
	if !ok {
		return fmt.Errorf("bench child: unknown job %q", jb.Name)
	}
	stop := make(chan struct{})
	peakAnon := make(chan int64)
	go func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		var peak int64
		for {
			peak = max(peak, statusKB("RssAnon:"))
			select {
			case <-stop:
				peakAnon <- peak
				return
			case <-t.C:
			}
		}
	}()
	s, err := fn(ctx, jb)
	close(stop)
	anon := <-peakAnon
	if err != nil {
		return fmt.Errorf("%s: %w", jb.Name, err)
	}
	s.PeakRSS, s.PeakAnon = PeakRSS(), anon
	return json.NewEncoder(w).Encode(s)
}

// PeakRSS returns this process's VmHWM from /proc/self/status in bytes
// (0 where there is no /proc).
func PeakRSS() int64 { return statusKB("VmHWM:") }

// statusKB reads one "kB" field of /proc/self/status in bytes.
func statusKB(field string) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// runner starts children.
type runner struct {
	o   Options
	log io.Writer
}

func (r *runner) logf(format string, a ...any) {
	fmt.Fprintf(r.log, "bench: "+format+"\n", a...)
}

func (r *runner) command(ctx context.Context, jb job) (*exec.Cmd, error) {
	spec, err := json.Marshal(jb)
	if err != nil {
		return nil, err
	}
	if len(r.o.Self) == 0 {
		return nil, errors.New("bench: Options.Self is empty")
	}
	cmd := exec.CommandContext(ctx, r.o.Self[0], r.o.Self[1:]...)
	cmd.Env = append(os.Environ(), ChildEnv+"="+string(spec))
	cmd.Stderr = r.log
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}

// side runs one measurement in a child process.
func (r *runner) side(ctx context.Context, jb job) (Side, error) {
	// A side starts from an empty directory, so that a --dir reused after
	// an interrupted run measures the same work (its journal would hold
	// the payouts already).
	if err := os.RemoveAll(jb.Dir); err != nil {
		return Side{}, err
	}
	if err := os.MkdirAll(jb.Dir, 0o700); err != nil {
		return Side{}, err
	}
	s, err := r.child(ctx, jb)
	if err != nil {
		return Side{}, err
	}
	if !jb.keep {
		_ = os.RemoveAll(jb.Dir)
	}
	return s, nil
}

// child runs one job in a child process and returns what it measured.
func (r *runner) child(ctx context.Context, jb job) (Side, error) {
	cmd, err := r.command(ctx, jb)
	if err != nil {
		return Side{}, err
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return Side{}, fmt.Errorf("%s: child: %w", jb.Name, err)
	}
	wall := time.Since(start)
	var s Side
	if err := json.Unmarshal(lastLine(out.Bytes()), &s); err != nil {
		return Side{}, fmt.Errorf("%s: child answered %q: %w", jb.Name, out.String(), err)
	}
	s.ProcWall = wall
	s.ProcCPU, s.ProcMaxRSS = childUsage(cmd.ProcessState)
	r.logf("%-16s %8d items in %8.3fs (child %.1fs), peak RSS %s, anon %s", jb.Name, s.Items, s.Elapsed.Seconds(),
		time.Since(start).Seconds(), mb(s.PeakRSS), mb(s.PeakAnon))
	return s, nil
}

// killed runs a job that prints "ready" when its work is durable, then
// kills it with SIGKILL, as a power cut or the OOM killer would.
func (r *runner) killed(ctx context.Context, jb job) error {
	cmd, err := r.command(ctx, jb)
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "ready" {
			ready = true
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil && ready {
		return err
	}
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	if !ready {
		return fmt.Errorf("%s: child ended before it was ready: %v", jb.Name, werr)
	}
	r.logf("%-16s killed with SIGKILL after %d items were journaled", jb.Name, jb.N)
	return nil
}

func lastLine(b []byte) []byte {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// newRunner is a run's runner and its directory: o.Dir, created when
// missing and kept, or a temporary one named after prefix that cleanup
// removes.
func newRunner(o Options, prefix string) (r *runner, dir string, cleanup func(), err error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	r, dir, cleanup = &runner{o: o, log: log}, o.Dir, func() {}
	if dir == "" {
		if dir, err = os.MkdirTemp("", prefix); err != nil {
			return nil, "", nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		cleanup()
		return nil, "", nil, err
	}
	return r, dir, cleanup, nil
}

// Run measures every stage and returns the table's rows.
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Scale <= 0 {
		o.Scale = 1
	}
	r, dir, cleanup, err := newRunner(o, "payrun-bench-")
	if err != nil {
		return nil, err
	}
	defer cleanup()
	n := func(full int) int { return max(full/o.Scale, 1) }
	want := func(name string) bool { return len(o.Stages) == 0 || slices.Contains(o.Stages, name) }
	var out []Result
	pair := func(name, stage, workload, input string, size int, judge func(*Result)) error {
		if err := ctx.Err(); err != nil || !want(name) {
			return err
		}
		res := Result{Stage: stage, Workload: workload}
		var err error
		ours := job{Name: name + "/ours", Dir: filepath.Join(dir, name+"-ours"), Input: input, N: size}
		ours.keep = name == "ingest" || name == "ingest_xlsx" // for ingest/fill
		if res.Ours, err = r.side(ctx, ours); err != nil {
			return err
		}
		runtime.GC()
		base := job{Name: name + "/base", Dir: filepath.Join(dir, name+"-base"), Input: input, N: size}
		if ours.keep {
			// Read in a child of its own: the journal's pages read here
			// would count in every later child's peak resident set, which
			// Linux carries over from the process that starts it.
			f, err := r.child(ctx, job{Name: "ingest/fill", Dir: ours.Dir})
			_ = os.RemoveAll(ours.Dir) // the baseline runs beside no other journal
			if err != nil {
				return err
			}
			base.Fill = f.Extra["fill"]
		}
		if res.Base, err = r.side(ctx, base); err != nil {
			return err
		}
		judge(&res)
		out = append(out, res)
		return nil
	}
	// The PostgreSQL rows: each side on a database of its own, empty or
	// a copy of template.
	var pg *pgServer
	if o.Postgres != "" && slices.ContainsFunc(PostgresStages, want) {
		var err error
		if pg, err = openServer(ctx, o.Postgres); err != nil {
			return nil, err
		}
	}
	pgPair := func(name, stage, workload, input string, size int, template string, judge func(*Result)) error {
		if err := ctx.Err(); err != nil || pg == nil || !want(name) {
			return err
		}
		res := Result{Stage: stage + " (PostgreSQL)", Workload: workload}
		var err error
		if res.Ours, err = r.pgSide(ctx, pg, job{Name: "pg_" + name + "/ours", Dir: filepath.Join(dir, "pg_"+name+"-ours"), Input: input, N: size}, template); err != nil {
			return err
		}
		runtime.GC()
		if res.Base, err = r.pgSide(ctx, pg, job{Name: "pg_" + name + "/base", Dir: filepath.Join(dir, "pg_"+name+"-base"), Input: input, N: size}, template); err != nil {
			return err
		}
		judge(&res)
		out = append(out, res)
		return nil
	}

	csvPath := filepath.Join(dir, "payouts.csv")
	if want("ingest") {
		r.logf("generating %d CSV rows", n(CSVRows))
		if err := WriteCSV(csvPath, n(CSVRows)); err != nil {
			return nil, err
		}
	}
	if err := pair("ingest", "ingest CSV", fmt.Sprintf("%s rows, 18 columns", count(n(CSVRows))), csvPath, n(CSVRows), judgeIngestCSV); err != nil {
		return out, err
	}
	if err := pgPair("ingest", "ingest CSV", fmt.Sprintf("%s rows, 18 columns; base: one bare COPY", count(n(CSVRows))), csvPath, n(CSVRows), "", judgeRatio(2, "<= 2x bare COPY")); err != nil {
		return out, err
	}
	_ = os.Remove(csvPath)

	xlsxPath := filepath.Join(dir, "payouts.xlsx")
	if want("ingest_xlsx") {
		r.logf("generating %d XLSX rows", n(XLSXRows))
		if err := WriteXLSX(xlsxPath, n(XLSXRows)); err != nil {
			return out, err
		}
	}
	if err := pair("ingest_xlsx", "ingest XLSX", fmt.Sprintf("%s rows, 18 columns", count(n(XLSXRows))), xlsxPath, n(XLSXRows), judgeRatio(2, "<= 2x")); err != nil {
		return out, err
	}
	_ = os.Remove(xlsxPath)

	if err := pair("dispatch", "dispatch", fmt.Sprintf("%s TeemoPay payouts, %d in flight", count(n(DispatchItems)), Concurrency), "", n(DispatchItems), judgeDispatch); err != nil {
		return out, err
	}
	if err := pgPair("dispatch", "dispatch", fmt.Sprintf("%s TeemoPay payouts, %d in flight", count(n(DispatchItems)), Concurrency), "", n(DispatchItems), "", judgeDispatch); err != nil {
		return out, err
	}

	for _, rr := range []struct{ name, stage string }{{"rate/limit", "rate accuracy"}, {"rate/refuse", "rate under 429"}} {
		if !want("rate") {
			break
		}
		size := n(RateItems)
		s, err := r.side(ctx, job{Name: rr.name, Dir: filepath.Join(dir, "rate"), N: size})
		if err != nil {
			return out, err
		}
		res := Result{Stage: rr.stage, Ours: s}
		judgeRate(&res, rr.name == "rate/refuse", size)
		out = append(out, res)
	}

	if want("webhook") {
		// Both sides in one process, in alternating rounds (WebhookRounds).
		s, err := r.side(ctx, job{Name: "webhook/rounds", Dir: filepath.Join(dir, "webhook"), N: n(Webhooks)})
		if err != nil {
			return out, err
		}
		if s.Base == nil {
			return out, errors.New("webhook/rounds: the child measured no baseline")
		}
		res := Result{Stage: "webhook intake", Base: *s.Base,
			Workload: fmt.Sprintf("%s signed TeemoPay callbacks, %d at a time, median of %d rounds", count(n(Webhooks)), WebhookConcurrency, WebhookRoundCount)}
		res.Ours, res.Ours.Base = s, nil
		judgeWebhook(&res)
		out = append(out, res)
	}
	if err := pgPair("webhook", "webhook intake", fmt.Sprintf("%s signed TeemoPay callbacks, %d at a time; base: verify and INSERT", count(n(Webhooks)), WebhookConcurrency), "", n(Webhooks), "", judgeWebhookPostgres); err != nil {
		return out, err
	}

	// One journal of a million items, written by a process killed with
	// SIGKILL, serves crash recovery and then matching.
	jpath := filepath.Join(dir, "journal.db")
	if want("recovery") || want("match") || want("report") {
		r.logf("building a %d-item journal (then SIGKILL)", n(JournalItems))
		if err := os.Remove(jpath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return out, err
		}
		if err := r.killed(ctx, job{Name: "journal/build", Dir: dir, Input: jpath, N: n(JournalItems)}); err != nil {
			return out, err
		}
	}
	// The same journal on PostgreSQL: a database that every recovery and
	// matching side gets a copy of.
	pgJournal := ""
	if pg != nil && (want("recovery") || want("match")) {
		r.logf("building a %d-item journal on PostgreSQL (then SIGKILL)", n(JournalItems))
		name, dsn, err := pg.create(ctx, "journal", "")
		if err != nil {
			return out, err
		}
		defer func() { _ = pg.drop(name) }()
		if err := r.killed(ctx, job{Name: "pg_journal/build", Dir: dir, DSN: dsn, N: n(JournalItems)}); err != nil {
			return out, err
		}
		pgJournal = name
	}
	if err := pair("recovery", "crash recovery", fmt.Sprintf("%s-item journal after SIGKILL, %d in flight", count(n(JournalItems)), InFlight), jpath, n(JournalItems), judgeNone); err != nil {
		return out, err
	}
	if err := pgPair("recovery", "crash recovery", fmt.Sprintf("%s-item journal after SIGKILL, %d in flight", count(n(JournalItems)), InFlight), "", n(JournalItems), pgJournal, judgeNone); err != nil {
		return out, err
	}
	if err := pair("match", "matching", fmt.Sprintf("%s rows", count(n(JournalItems))), jpath, n(JournalItems), judgeMatch); err != nil {
		return out, err
	}
	if err := pgPair("match", "matching", fmt.Sprintf("%s rows", count(n(JournalItems))), "", n(JournalItems), pgJournal, judgeNone); err != nil {
		return out, err
	}
	// The report reads the same journal, as `payrun report` reads the
	// journal (it used to write generated lines, which left the reading
	// out).
	if err := pair("report", "report (app.Report)", fmt.Sprintf("%s-item journal: workbook, CSVs", count(n(JournalItems))), jpath, n(JournalItems), judgeReport); err != nil {
		return out, err
	}
	_ = os.Remove(jpath)
	return out, nil
}

// Goals, from the issues.
func judgeIngestCSV(r *Result) {
	r.Goal = "<= 2x, peak < 150 MB"
	r.Verdict = verdict(r.Ratio() <= 2, fmt.Sprintf("%.2fx", r.Ratio()), r.Ours.PeakRSS < 150<<20, mb(r.Ours.PeakRSS))
}

func judgeRatio(limit float64, goal string) func(*Result) {
	return func(r *Result) {
		r.Goal = goal
		r.Verdict = verdict(r.Ratio() <= limit, fmt.Sprintf("%.2fx", r.Ratio()))
	}
}

// judgeWebhook judges the webhooks acknowledged and applied (the
// receiver, then its Applier until the last event has changed its payout)
// in the median round against bare verification, and notes every round's
// ratio, the CPU per webhook of both sides and the acknowledgements alone
// (the figure this stage judged before the events were counted in).
func judgeWebhook(r *Result) {
	judgeRatio(2, "<= 2x (acknowledged and applied)")(r)
	var notes []string
	var rounds []string
	for i := 1; ; i++ {
		v, ok := r.Ours.Extra[fmt.Sprintf("round%d", i)]
		if !ok {
			break
		}
		rounds = append(rounds, fmt.Sprintf("%.2fx", v))
	}
	if len(rounds) > 0 {
		notes = append(notes, "rounds "+strings.Join(rounds, ", "))
	}
	if n := cpuNote(r, "webhook"); n != "" {
		notes = append(notes, n)
	}
	if ack := r.Ours.Extra["ack_s"]; ack > 0 {
		notes = append(notes, fmt.Sprintf("acknowledgements alone %.3f s, %.2fx of bare verification (the old figure); the Applier finished %.0f ms after the last acknowledgement (%.0f ms of CPU)",
			ack, ack/r.Base.Elapsed.Seconds(), float64(r.Ours.Tail.Microseconds())/1000, float64(r.Ours.TailCPU.Microseconds())/1000))
	}
	r.Note = strings.Join(notes, "; ")
}

// cpuNote compares the CPU time per item (named unit) of both sides, ours
// against the baseline: on a shared machine it moves less than the
// elapsed time, so it tells whether a ratio is ours or the neighbours'.
// It is "" when either side measured no CPU (or no items).
func cpuNote(r *Result, unit string) string {
	if r.Ours.CPU <= 0 || r.Base.CPU <= 0 || r.Ours.Items <= 0 || r.Base.Items <= 0 {
		return ""
	}
	ours, base := perItem(r.Ours.CPU, r.Ours.Items), perItem(r.Base.CPU, r.Base.Items)
	return fmt.Sprintf("CPU per %s %.1f µs against %.1f µs (%.2fx)", unit, ours, base, ours/base)
}

// perItem is d per item in microseconds.
func perItem(d time.Duration, items int) float64 {
	return float64(d.Nanoseconds()) / 1000 / float64(items)
}

// judgeDispatch judges payouts per second against the bare loop and notes
// the CPU per payout of both sides (both include the in-process sandbox).
func judgeDispatch(r *Result) {
	r.Goal = ">= 70% of bare loop"
	share := 0.0
	if r.Base.PerSecond() > 0 {
		share = r.Ours.PerSecond() / r.Base.PerSecond()
	}
	r.Verdict = verdict(share >= 0.7, fmt.Sprintf("%.0f%%", share*100))
	r.Note = cpuNote(r, "payout")
}

func judgeMatch(r *Result) {
	r.Goal = "<= 3x, peak < 1 GB"
	r.Verdict = verdict(r.Ratio() <= 3, fmt.Sprintf("%.2fx", r.Ratio()), r.Ours.PeakRSS < 1<<30, "RSS "+mb(r.Ours.PeakRSS))
	if r.Ours.PeakRSS >= 1<<30 {
		r.Note = fmt.Sprintf("peak RSS counts the journal's mmap (file pages); anonymous memory peaked at %s", mb(r.Ours.PeakAnon))
	}
}

func judgeReport(r *Result) {
	r.Goal = "<= 1.5x, peak < 500 MB"
	r.Verdict = verdict(r.Ratio() <= 1.5, fmt.Sprintf("%.2fx", r.Ratio()), r.Ours.PeakRSS < 500<<20, mb(r.Ours.PeakRSS))
	if r.Ours.PeakRSS >= 500<<20 {
		r.Note = fmt.Sprintf("peak RSS counts the journal's mmap (file pages); anonymous memory peaked at %s", mb(r.Ours.PeakAnon))
	}
}

func judgeNone(r *Result) { r.Goal = "-" }

// judgeRate compares the run with the ideal time at the limit that binds:
// the configured 200/s, or the sandbox's 100/s when it refuses above it.
func judgeRate(r *Result, refuse bool, n int) {
	x := r.Ours.Extra
	limit := float64(RateLimit)
	if refuse {
		limit = RefuseAbove
	}
	ideal := time.Duration(float64(n) / limit * float64(time.Second))
	r.Base = Side{Elapsed: ideal, Items: n}
	r.BaseLabel = "ideal"
	r.Workload = fmt.Sprintf("%s payouts, %d/s configured", count(n), RateLimit)
	if refuse {
		r.Workload += fmt.Sprintf(", sandbox refuses > %d/s", RefuseAbove)
		r.Goal = "all succeed, none fail"
		ok := int(x["sent"]) == n && x["failed"] == 0 && x["left"] == 0
		r.Verdict = verdict(ok, fmt.Sprintf("%d of %d sent, %d failed", int(x["sent"]), n, int(x["failed"])))
		r.Note = fmt.Sprintf("%d sent, %d failed, %d left queued, %d in doubt; %d refusals (429) answered; max %d requests in any 1 s",
			int(x["sent"]), int(x["failed"]), int(x["left"]), int(x["in_doubt"]), int(x["rate_limited"]), int(x["max_per_second"]))
		return
	}
	dev := (r.Ours.Elapsed.Seconds() - ideal.Seconds()) / ideal.Seconds() * 100
	maxSec := int(x["max_per_second"])
	r.Goal = fmt.Sprintf("within 3%% of %s; <= %d req in any sliding second", ideal.Round(time.Millisecond), RateLimit)
	r.Verdict = verdict(dev <= 3 && dev >= -3, fmt.Sprintf("%+.1f%%", dev), maxSec <= RateLimit, fmt.Sprintf("max %d in a sliding second", maxSec))
	r.Note = fmt.Sprintf("deviation %+.2f%% from %s; max %d requests in any sliding 1 s window, %d in a clock second (limit %d, burst %d); %d sent, %d failed",
		dev, ideal, maxSec, int(x["max_calendar"]), RateLimit, RateBurst, int(x["sent"]), int(x["failed"]))
}

// verdict takes (ok, figure) pairs: "met (figures)" or "MISSED (figures)".
func verdict(pairs ...any) string {
	ok := true
	var figs []string
	for i := 0; i+1 < len(pairs); i += 2 {
		good, _ := pairs[i].(bool)
		fig, _ := pairs[i+1].(string)
		ok = ok && good
		if !good {
			fig += " ✗"
		}
		figs = append(figs, fig)
	}
	if ok {
		return "met (" + strings.Join(figs, ", ") + ")"
	}
	return "MISSED (" + strings.Join(figs, ", ") + ")"
}

func mb(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MB", float64(b)/(1<<20))
}

func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func secs(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.3fs", d.Seconds())
}

func cells(r Result) []string {
	base := secs(r.Base.Elapsed)
	if r.BaseLabel != "" {
		base = r.BaseLabel + " " + base
	}
	ratio := "-"
	if r.Ratio() > 0 {
		ratio = fmt.Sprintf("%.2f", r.Ratio())
	}
	rate := fmt.Sprintf("%s/s", count(int(r.Ours.PerSecond())))
	if r.BaseLabel == "" {
		rate += fmt.Sprintf(" (base %s/s)", count(int(r.Base.PerSecond())))
	}
	peak := mb(r.Ours.PeakRSS) + " (" + mb(r.Ours.PeakAnon) + ")"
	if r.BaseLabel == "" {
		peak += " / " + mb(r.Base.PeakRSS) + " (" + mb(r.Base.PeakAnon) + ")"
	}
	return []string{r.Stage, r.Workload, secs(r.Ours.Elapsed), base, ratio, rate, peak, procRatios(r), r.Goal, r.Verdict}
}

// procRatios compares the two sides' whole processes (ours / baseline):
// wall time, CPU time and peak resident set from each child's rusage.
func procRatios(r Result) string {
	o, b := r.Ours, r.Base
	if r.BaseLabel != "" || o.ProcWall <= 0 || b.ProcWall <= 0 {
		return "-"
	}
	f := func(a, b float64) string {
		if a <= 0 || b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	return fmt.Sprintf("wall %s, CPU %s, RSS %s", f(o.ProcWall.Seconds(), b.ProcWall.Seconds()),
		f(o.ProcCPU.Seconds(), b.ProcCPU.Seconds()), f(float64(o.ProcMaxRSS), float64(b.ProcMaxRSS)))
}

var header = []string{"stage", "workload", "ours", "baseline", "ratio", "throughput", "peak RSS (anon) ours / base", "whole process ours/base", "goal", "verdict"}

// WriteTable prints the rows as an aligned text table, then the notes.
func WriteTable(w io.Writer, rows []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(cells(r), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Stage, r.Note)
		}
	}
	return nil
}

// WriteMarkdown writes the rows as a Markdown table, then the notes.
func WriteMarkdown(w io.Writer, rows []Result) error {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|")
	for range header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range rows {
		b.WriteString("| " + strings.Join(cells(r), " | ") + " |\n")
	}
	b.WriteString("\n")
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(&b, "- %s: %s\n", r.Stage, r.Note)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
