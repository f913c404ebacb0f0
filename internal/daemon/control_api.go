package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/internal/pan"
	"github.com/payrun/payrun/journal"
)

// The control socket's API (ControlHandler): the status API, whole, and
// what changes the daemon's work. Every change names its author from the
// socket's peer credentials.
//
//	GET  /api/batches, /api/batches/{id}   as on the HTTP server, links unmasked
//	POST /api/batches/{id}/approve         {"seen": {"sha256", "totals"}}: approve what was shown
//	POST /api/batches/{id}/hold            {"reason"}: hold a batch not sent yet
//	POST /api/batches/{id}/send            send the batch now, not at the cut-off
//	POST /api/report                       {"date": "YYYY-MM-DD"}: the morning report now
//	POST /api/resume                       send every unfinished batch now and ask about what is open
//	GET  /api/whoami                       who the daemon sees at the other end

// ApproveRequest is the body of an approval: what the approver was shown.
type ApproveRequest struct {
	Seen *dispatch.Seen `json:"seen"`
}

// HoldRequest is the body of a hold.
type HoldRequest struct {
	Reason string `json:"reason"`
}

// ReportRequest is the body of a report: the day whose batches it covers
// ("" for yesterday, as the morning report).
type ReportRequest struct {
	Date string `json:"date,omitempty"`
}

// ActionResult is the answer to a change: what was done, in a sentence,
// and the batch as it stands after it.
type ActionResult struct {
	Message string       `json:"message"`
	By      string       `json:"by,omitempty"`
	Batch   *BatchStatus `json:"batch,omitempty"`
	Report  *ReportFiles `json:"report,omitempty"`
}

// ReportFiles is what a report run wrote.
type ReportFiles struct {
	Day         string   `json:"day"`
	Workbook    string   `json:"workbook"`
	SummaryCSV  string   `json:"summary_csv"`
	DetailsCSV  string   `json:"details_csv"`
	Annotated   []string `json:"annotated,omitempty"`
	EML         string   `json:"eml,omitempty"`
	Balanced    bool     `json:"balanced"`
	ReviewCount int      `json:"review_count"`
}

// maxControlBody bounds a command's body.
const maxControlBody = 64 << 10

// ControlHandler is the handler of the control socket.
func (d *Daemon) ControlHandler() http.Handler {
	read := NewServer(ServerOptions{Status: d.controlStatus, Location: d.cfg.Location(), Log: d.log, Now: d.App.Journal.Now})
	mux := http.NewServeMux()
	mux.Handle("GET /api/batches", read)
	mux.Handle("GET /api/batches/{id}", read)
	mux.HandleFunc("GET /api/whoami", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, ActionResult{Message: "the daemon sees you as " + orUnknown(Peer(r.Context())), By: Peer(r.Context())})
	})
	mux.HandleFunc("POST /api/batches/{id}/approve", d.named(d.apiApprove))
	mux.HandleFunc("POST /api/batches/{id}/hold", d.named(d.apiHold))
	mux.HandleFunc("POST /api/batches/{id}/send", d.named(d.apiSend))
	mux.HandleFunc("POST /api/report", d.named(d.apiReport))
	mux.HandleFunc("POST /api/resume", d.named(d.apiResume))
	return mux
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// named refuses a change whose author the kernel did not name.
func (d *Daemon) named(h func(w http.ResponseWriter, r *http.Request, by string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		by := Peer(r.Context())
		if by == "" {
			writeJSON(w, http.StatusForbidden, apiError{Error: "the control socket cannot tell who you are on this system; nothing was changed"})
			return
		}
		h(w, r, by)
	}
}

func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "request not understood: " + err.Error()})
		return false
	}
	return true
}

// refuse answers a refused change: 404 for an unknown batch, 409 for a
// batch that is not in a state for it (the message says why), 503 when the
// daemon is stopping, 500 for the journal failing (logged).
func (d *Daemon) refuse(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, journal.ErrNotFound):
		writeJSON(w, http.StatusNotFound, apiError{Error: "no batch " + r.PathValue("id")})
	case errors.Is(err, errStopping):
		writeJSON(w, http.StatusServiceUnavailable, apiError{Error: err.Error()})
	case errors.Is(err, errRefused), errors.Is(err, dispatch.ErrNotHeld), errors.Is(err, dispatch.ErrTotalsChanged),
		errors.Is(err, dispatch.ErrSameApprover), errors.Is(err, dispatch.ErrApproverUnknown), errors.Is(err, dispatch.ErrNotHoldable):
		writeJSON(w, http.StatusConflict, apiError{Error: err.Error()})
	default:
		d.log.Error("control socket", "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, apiError{Error: "the daemon could not do it; see its log"})
	}
}

// errRefused is a change the batch's state does not allow.
var errRefused = errors.New("refused")

func (d *Daemon) batchStatus(r *http.Request, id string) *BatchStatus {
	b, err := d.controlStatus.Batch(r.Context(), id)
	if err != nil {
		return nil
	}
	return &b
}

func (d *Daemon) apiApprove(w http.ResponseWriter, r *http.Request, by string) {
	id := r.PathValue("id")
	var req ApproveRequest
	if !readBody(w, r, &req) {
		return
	}
	if req.Seen == nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: "an approval sends back the totals the approver was shown (seen)"})
		return
	}
	msg, err := d.approve(r.Context(), id, by, "control socket", req.Seen)
	if err != nil {
		d.log.WarnContext(event, "approval refused", "batch", id, "by", by, "err", err)
		d.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ActionResult{Message: msg, By: by, Batch: d.batchStatus(r, id)})
}

func (d *Daemon) apiHold(w http.ResponseWriter, r *http.Request, by string) {
	id := r.PathValue("id")
	var req HoldRequest
	if !readBody(w, r, &req) {
		return
	}
	// No hold in the middle of a dispatch run: a run that has read the
	// batch as accepted sends it (the hold is then refused), so the hold
	// waits for the run to end, for a while.
	if !d.lockDispatch(r.Context(), holdWait) {
		d.refuse(w, r, fmt.Errorf("%w: a dispatch run is in progress; nothing was held; try again when it ends (the daemon's log says when)", errRefused))
		return
	}
	err := dispatch.Hold(r.Context(), d.App.Journal, id, by, strings.TrimSpace(req.Reason))
	d.dispatchMu.Unlock()
	if err != nil {
		d.refuse(w, r, err)
		return
	}
	d.log.WarnContext(event, "batch held by an operator", "batch", id, "by", by, "why", pan.MaskText(req.Reason), "release", d.App.HowToApprove(id))
	writeJSON(w, http.StatusOK, ActionResult{Message: fmt.Sprintf("Batch %s is held: nothing of it is sent until it is approved (%s).",
		id, d.App.HowToApprove(id)), By: by, Batch: d.batchStatus(r, id)})
}

func (d *Daemon) apiSend(w http.ResponseWriter, r *http.Request, by string) {
	id := r.PathValue("id")
	b, err := d.App.Journal.Batch(r.Context(), id)
	if err != nil {
		d.refuse(w, r, err)
		return
	}
	switch b.State {
	case journal.BatchHeld:
		d.refuse(w, r, fmt.Errorf("%w: batch %s is held (%s); %s first", errRefused, id, b.Note, d.App.HowToApprove(id)))
		return
	case journal.BatchDone:
		d.refuse(w, r, fmt.Errorf("%w: batch %s is done: every payout is final, nothing is left to send", errRefused, id))
		return
	case journal.BatchIngesting:
		d.refuse(w, r, fmt.Errorf("%w: batch %s is still being read", errRefused, id))
		return
	}
	// A batch that never passed the pre-flight gets it now (the run would
	// too, and leave it out): one it holds is refused as a held one is,
	// not announced as being sent.
	g, err := d.App.Gate(r.Context(), id)
	if err != nil {
		d.refuse(w, r, err)
		return
	}
	if g.Held {
		d.log.WarnContext(event, "batch held for approval by its pre-flight: nothing of it is sent until it is approved",
			"batch", id, "why", g.Reason, "release", g.Approve)
		d.refuse(w, r, fmt.Errorf("%w: batch %s is held (%s); %s first", errRefused, id, g.Reason, g.Approve))
		return
	}
	trigger := "send now by " + by
	if err := d.goJob(func() { d.logDispatch(d.dispatch(d.root, []string{id}, trigger)) }); err != nil {
		d.refuse(w, r, err)
		return
	}
	d.log.Info("send now", "batch", id, "by", by)
	writeJSON(w, http.StatusAccepted, ActionResult{Message: fmt.Sprintf("Sending batch %s now; the daemon's log says when the run ends, and 'payrun status --batch %s' shows its progress.", id, id),
		By: by, Batch: d.batchStatus(r, id)})
}

func (d *Daemon) apiReport(w http.ResponseWriter, r *http.Request, by string) {
	var req ReportRequest
	if !readBody(w, r, &req) {
		return
	}
	day := req.Date
	if day == "" {
		day = d.yesterday()
	} else if _, err := time.Parse("2006-01-02", day); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("date %q: want YYYY-MM-DD", day)})
		return
	}
	type result struct {
		files ReportFiles
		err   error
	}
	done := make(chan result, 1)
	err := d.goJob(func() {
		f, err := d.ReportDay(d.root, day)
		done <- result{f, err}
	})
	if err != nil {
		d.refuse(w, r, err)
		return
	}
	d.log.Info("report now", "day", day, "by", by)
	select {
	case res := <-done:
		if res.err != nil {
			d.refuse(w, r, res.err)
			return
		}
		writeJSON(w, http.StatusOK, ActionResult{Message: "The report of " + day + " is written and its email queued.", By: by, Report: &res.files})
	case <-r.Context().Done():
	}
}

func (d *Daemon) apiResume(w http.ResponseWriter, r *http.Request, by string) {
	err := d.goJob(func() {
		if err := d.resume(d.root, "resume by "+by); err != nil && !errors.Is(err, errStopping) {
			d.logDispatch(err)
		}
	})
	if err != nil {
		d.refuse(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, ActionResult{Message: "Sending every unfinished batch that is not held, and asking the providers about every open payout; the daemon's log says what each run did.", By: by})
}

// holdWait is how long a hold waits for a dispatch run to end: less than
// the command's own patience (quickCall).
const holdWait = 20 * time.Second

// lockDispatch takes the dispatch lock, waiting at most wait (or until
// ctx ends); it reports whether it has it.
func (d *Daemon) lockDispatch(ctx context.Context, wait time.Duration) bool {
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !d.dispatchMu.TryLock() {
		select {
		case <-ctx.Done():
			return false
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}
