package app

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/reports"
)

// Gate is what the pre-flight decided about a batch.
type Gate struct {
	// Held says nothing of the batch may be sent yet; Reason says why and
	// Approve how to release it.
	Held            bool
	Reason, Approve string
	// Preflight is the facts, when the pre-flight ran (zero when it did
	// not: the batch was gated, approved or dispatched before).
	Preflight dispatch.Preflight
}

// Gate runs the pre-flight of a batch: a held batch whose approval file
// (BATCH.approved in preflight.approval_dir) exists is approved; an
// accepted batch that has neither passed the pre-flight nor been approved
// gets its pre-flight message, and is held when its totals are above the
// configured thresholds. The batch records that it passed (Preflighted),
// so that a second call on it costs one read and sends no second message.
//
// Every path that sends a batch calls it first (the intakes, ingest,
// process, send, resume and the daemon's runs, through Admit): a batch
// journaled without it, by an older payrun or by a run stopped between
// journaling and the pre-flight, is checked before anything of it moves.
func (a *App) Gate(ctx context.Context, id string) (Gate, error) {
	cfg, j := a.Config, a.Journal
	b, err := j.Batch(ctx, id)
	if err != nil {
		return Gate{}, err
	}
	approve := a.HowToApprove(id)
	if b.State == journal.BatchHeld {
		res, err := a.approveByFile(ctx, id)
		if err != nil {
			return Gate{}, err
		}
		switch {
		case res.Approved:
			// Read again: the approval is on it now, and the pre-flight
			// must not hold it again.
			if b, err = j.Batch(ctx, id); err != nil {
				return Gate{}, err
			}
		case res.Err != nil:
			a.Log.Warn("approval file refused", "batch", id, "by", res.By, "file", res.File, "why", res.Err.Error())
		}
	}
	if b.State == journal.BatchHeld {
		return Gate{Held: true, Reason: b.Note, Approve: approve}, nil
	}
	if !cfg.Preflight.Enabled || !b.Approved.IsZero() || !b.Preflighted.IsZero() || b.State != journal.BatchAccepted {
		return Gate{}, nil
	}
	pol, err := a.PreflightPolicy()
	if err != nil {
		return Gate{}, err
	}
	p, err := dispatch.CheckBatch(ctx, j, id, pol)
	if err != nil {
		return Gate{}, err
	}
	m, err := a.Mailer()
	if err != nil {
		return Gate{}, err
	}
	msg, err := reports.ComposePreflight(reports.PreflightOf(p, j.Now(), cfg.Location(), approve),
		Envelope(cfg, cfg.Reports.Operators), reports.Options{Unmasked: !cfg.Reports.Mask})
	if err != nil {
		return Gate{}, err
	}
	if err := m.Submit(ctx, msg); err != nil {
		a.Log.Warn("pre-flight message queued, not delivered yet", "err", err)
	}
	// Recorded once the message is queued: a stop before it gates the
	// batch again (a second message, never none).
	err = j.SetBatch(ctx, id, func(b *journal.Batch) error {
		if b.Preflighted.IsZero() {
			b.Preflighted = j.Now().UTC()
		}
		return nil
	})
	if err != nil {
		return Gate{}, err
	}
	return Gate{Held: p.Held, Reason: p.HoldReason, Approve: approve, Preflight: p}, nil
}

// Admit runs the pre-flight (Gate) of every batch of ids before they are
// sent, and returns those that may be sent, in order, and the gate of
// each one held (by the pre-flight now, or before). A batch that passed
// the pre-flight, or was approved, or has started sending costs one read.
func (a *App) Admit(ctx context.Context, ids []string) (send []string, held map[string]Gate, err error) {
	held = map[string]Gate{}
	for _, id := range ids {
		g, err := a.Gate(ctx, id)
		if err != nil {
			return send, held, err
		}
		if g.Held {
			held[id] = g
			continue
		}
		send = append(send, id)
	}
	return send, held, nil
}

// HowToApprove tells an operator how a held batch is released, as a
// phrase (a status line's, a log attribute's): "payrun approve B, or drop
// DIR/B.approved (by someone other than who dropped the file)".
func (a *App) HowToApprove(id string) string {
	cmd, file := a.approvalWays(id)
	how := cmd
	if file != "" {
		how += ", or drop " + file
	}
	if a.Config.Preflight.RequireDistinctApprover {
		how += " (by someone other than who dropped the file)"
	}
	return how
}

// ToSend tells an operator at a terminal, in a sentence, how a held batch
// is released: "Run 'payrun approve B', or drop DIR/B.approved, to send
// it." Only the command is quoted, so that it can be copied; under
// maker-checker the sentence says who may approve (by either way: the
// approval file's owner is its approver).
func (a *App) ToSend(id string) string {
	cmd, file := a.approvalWays(id)
	s := "Run '" + cmd + "'"
	if file != "" {
		s += ", or drop " + file + ","
	}
	s += " to send it"
	if a.Config.Preflight.RequireDistinctApprover {
		s += " (someone other than who dropped the file must approve it)"
	}
	return s + "."
}

// approvalWays are the ways a held batch is approved: the command, and
// the approval file ("" when there is no approvals folder).
func (a *App) approvalWays(id string) (cmd, file string) {
	if dir := a.Config.Preflight.ApprovalDir; dir != "" {
		file = filepath.Join(a.Config.Abs(dir), id+ApprovedSuffix)
	}
	return "payrun approve " + id, file
}

// Approve approves a held batch as the configuration says (maker-checker
// when preflight.require_distinct_approver is on).
func (a *App) Approve(ctx context.Context, id, by, via string, seen *dispatch.Seen) error {
	return dispatch.Approve(ctx, a.Journal, id, dispatch.Approval{By: by, Via: via, Seen: seen,
		DistinctFromDropper: a.Config.Preflight.RequireDistinctApprover})
}

// ApprovedSuffix names an approval file: BATCH.approved.
const ApprovedSuffix = ".approved"

// refusedSuffix is appended to an approval file that was refused, so that
// it is not tried again; the reason is written beside it.
const refusedSuffix = ".refused"

// FileApproval is what became of one approval file.
type FileApproval struct {
	Batch    string
	File     string
	By       string
	Approved bool
	// Err is why the approval was refused (the file is renamed
	// BATCH.approved.refused, with the reason in BATCH.approved.refused.txt).
	Err error
}

// ApproveByFiles approves every held batch whose approval file is in the
// approvals folder (preflight.approval_dir). The file's OS owner is the
// approver. An empty file approves what the batch holds; a file that names
// totals, one "CURRENCY AMOUNT" a line (as the pre-flight message shows
// them), approves only if the batch holds exactly those. A refused file is
// renamed so that it is tried once.
func (a *App) ApproveByFiles(ctx context.Context) ([]FileApproval, error) {
	dir := a.Config.Preflight.ApprovalDir
	if dir == "" {
		return nil, nil
	}
	entries, err := os.ReadDir(a.Config.Abs(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("approvals folder: %w", err)
	}
	var out []FileApproval
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ApprovedSuffix)
		if !ok || id == "" || !e.Type().IsRegular() || strings.HasPrefix(id, ".") {
			continue
		}
		b, err := a.Journal.Batch(ctx, id)
		if errors.Is(err, journal.ErrNotFound) {
			continue
		}
		if err != nil {
			return out, err
		}
		if b.State != journal.BatchHeld {
			continue // approved already (the file stays as the record of it)
		}
		res, err := a.approveByFile(ctx, id)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// approveByFile approves a held batch by its approval file, if there is
// one. Only journal failures are returned as errors; a refusal is in the
// result.
func (a *App) approveByFile(ctx context.Context, id string) (FileApproval, error) {
	dir := a.Config.Preflight.ApprovalDir
	if dir == "" {
		return FileApproval{Batch: id}, nil
	}
	path := filepath.Join(a.Config.Abs(dir), id+ApprovedSuffix)
	res := FileApproval{Batch: id, File: path}
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return res, nil
	}
	res.By = FileOwner(fi)
	seen, err := readApprovalFile(path)
	if err == nil {
		err = a.Approve(ctx, id, res.By, "approvals file "+path, seen)
	}
	switch {
	case err == nil:
		res.Approved = true
		return res, nil
	case !refusal(err):
		return res, err
	}
	res.Err = err
	refused := path + refusedSuffix
	if rerr := os.Rename(path, refused); rerr == nil {
		note := fmt.Sprintf("%s: approval of batch %s by %s refused at %s:\n%v\n", filepath.Base(path), id, res.By,
			a.Journal.Now().In(a.Config.Location()).Format(time.RFC3339), err)
		_ = os.WriteFile(refused+".txt", []byte(note), 0o640)
	}
	return res, nil
}

// refusal reports whether an approval error is a refusal (to be told to
// the approver), not a failure of the journal.
func refusal(err error) bool {
	for _, e := range []error{dispatch.ErrNotHeld, dispatch.ErrTotalsChanged, dispatch.ErrSameApprover,
		dispatch.ErrApproverUnknown, errBadApprovalFile} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

var errBadApprovalFile = errors.New("approval file not understood")

// maxApprovalFile bounds what is read of an approval file.
const maxApprovalFile = 4 << 10

// readApprovalFile reads the totals an approval file names (nil when it
// names none).
func readApprovalFile(path string) (*dispatch.Seen, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadApprovalFile, err)
	}
	defer f.Close()
	buf := make([]byte, maxApprovalFile+1)
	n, _ := f.Read(buf)
	if n > maxApprovalFile {
		return nil, fmt.Errorf("%w: longer than %d bytes", errBadApprovalFile, maxApprovalFile)
	}
	return ParseApprovalTotals(buf[:n])
}

// ParseApprovalTotals reads "CURRENCY AMOUNT" lines (blank lines and lines
// starting with # ignored); nil when there are none.
func ParseApprovalTotals(b []byte) (*dispatch.Seen, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	byCur := map[string]int64{}
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("%w: line %d: want CURRENCY AMOUNT, e.g. \"PEN 12500.00\"", errBadApprovalFile, line)
		}
		m, err := money.Parse(strings.ReplaceAll(fields[1], ",", ""), strings.ToUpper(fields[0]))
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", errBadApprovalFile, line, err)
		}
		if _, dup := byCur[m.Currency]; dup {
			return nil, fmt.Errorf("%w: line %d: %s named twice", errBadApprovalFile, line, m.Currency)
		}
		byCur[m.Currency] = m.Minor
	}
	if len(byCur) == 0 {
		return nil, nil
	}
	seen := &dispatch.Seen{}
	for cur, minor := range byCur {
		seen.Totals = append(seen.Totals, journal.Total{Currency: cur, Amount: minor})
	}
	sort.Slice(seen.Totals, func(x, y int) bool { return seen.Totals[x].Currency < seen.Totals[y].Currency })
	return seen, nil
}

// RecordDropper records who brought a batch's file, once: a file dropped
// again (the same content) keeps its first dropper.
func RecordDropper(ctx context.Context, j journal.Journal, id, who string) error {
	if who == "" {
		return nil
	}
	return j.SetBatch(ctx, id, func(b *journal.Batch) error {
		if b.DroppedBy == "" {
			b.DroppedBy = who
		}
		return nil
	})
}

// CurrentUser is the OS user running payrun ("" when unknown).
func CurrentUser() string {
	u, err := user.Current()
	if err != nil {
		return ""
	}
	return u.Username
}

// UserName is the name of a numeric OS user id ("uid 1234" when it has
// none).
func UserName(uid uint32) string {
	id := fmt.Sprint(uid)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "uid " + id
}

// PreflightPolicy is the configured pre-flight.
func (a *App) PreflightPolicy() (dispatch.PreflightPolicy, error) {
	cfg := a.Config
	pol := dispatch.PreflightPolicy{DuplicateLookback: time.Duration(cfg.Preflight.DuplicateLookback) * 24 * time.Hour,
		Rates: map[string]float64{}}
	for name, pc := range cfg.Providers {
		pol.Rates[name] = pc.RatePerSecond
	}
	for cur, lim := range cfg.Preflight.HoldAbove {
		m, err := money.Parse(lim, cur)
		if err != nil {
			return pol, err
		}
		pol.HoldAbove = append(pol.HoldAbove, m)
	}
	return pol, nil
}
