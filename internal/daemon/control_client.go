package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"

	"github.com/payrun/payrun/dispatch"
	"github.com/payrun/payrun/journal"
)

// ErrNoDaemon says no daemon answers on the control socket: the command
// works on the journal itself.
var ErrNoDaemon = errors.New("no payrun daemon answers on the control socket")

// Control is a command's connection to a running daemon's control socket.
type Control struct {
	socket string
	hc     *http.Client
}

// DialControl connects to the daemon listening on socket. ErrNoDaemon
// (wrapped) means there is none: no socket, or one a crash left that no
// one listens on. Any other error is a daemon that cannot be reached (the
// socket's permissions): the command must not work around it.
func DialControl(ctx context.Context, socket string) (*Control, error) {
	if socket == "" {
		return nil, fmt.Errorf("%w (the journal has no control socket)", ErrNoDaemon)
	}
	var dialer net.Dialer
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, "unix", socket)
	}
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := dial(dctx, "", "")
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ENOENT):
		return nil, fmt.Errorf("%w (%s)", ErrNoDaemon, socket)
	case err != nil:
		return nil, fmt.Errorf("the daemon's control socket %s: %w", socket, err)
	}
	conn.Close()
	return &Control{socket: socket, hc: &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}}, nil
}

// Socket is the socket the connection goes to.
func (c *Control) Socket() string { return c.socket }

// ControlError is a refusal from the daemon: Status is the HTTP status
// (404 an unknown batch, 409 a state that does not allow it, 403 an
// unknown caller), Message the daemon's words.
type ControlError struct {
	Status  int
	Message string
}

func (e *ControlError) Error() string { return e.Message }

// Unwrap makes an unknown batch journal.ErrNotFound.
func (e *ControlError) Unwrap() error {
	if e.Status == http.StatusNotFound {
		return journal.ErrNotFound
	}
	return nil
}

func (c *Control) do(ctx context.Context, method, path string, body, out any, timeout time.Duration) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://payrun"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("the daemon on %s: %w", c.socket, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("the daemon on %s: %w", c.socket, err)
	}
	if resp.StatusCode >= 300 {
		var ae apiError
		if json.Unmarshal(data, &ae) != nil || ae.Error == "" {
			ae.Error = fmt.Sprintf("the daemon answered %s", resp.Status)
		}
		return &ControlError{Status: resp.StatusCode, Message: ae.Error}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the daemon's answer: %w", err)
	}
	return nil
}

// Timeouts of the calls: reading and deciding is quick; a report is
// written and queued while the command waits.
const (
	quickCall  = 30 * time.Second
	reportCall = 30 * time.Minute
)

// Batches returns the newest batches first (limit 0: the daemon's page
// size).
func (c *Control) Batches(ctx context.Context, limit int) ([]BatchStatus, error) {
	path := "/api/batches"
	if limit > 0 {
		path += fmt.Sprintf("?limit=%d", limit)
	}
	var l BatchList
	err := c.do(ctx, http.MethodGet, path, nil, &l, quickCall)
	return l.Batches, err
}

// Batch returns one batch and its open items.
func (c *Control) Batch(ctx context.Context, id string) (BatchDetail, error) {
	var d BatchDetail
	err := c.do(ctx, http.MethodGet, "/api/batches/"+url.PathEscape(id), nil, &d, quickCall)
	return d, err
}

// Approve approves a held batch, sending back what the approver was shown.
func (c *Control) Approve(ctx context.Context, id string, seen dispatch.Seen) (ActionResult, error) {
	var r ActionResult
	err := c.do(ctx, http.MethodPost, "/api/batches/"+url.PathEscape(id)+"/approve", ApproveRequest{Seen: &seen}, &r, quickCall)
	return r, err
}

// Hold holds a batch that has not started sending.
func (c *Control) Hold(ctx context.Context, id, reason string) (ActionResult, error) {
	var r ActionResult
	err := c.do(ctx, http.MethodPost, "/api/batches/"+url.PathEscape(id)+"/hold", HoldRequest{Reason: reason}, &r, quickCall)
	return r, err
}

// Send sends a batch now instead of at the cut-off.
func (c *Control) Send(ctx context.Context, id string) (ActionResult, error) {
	var r ActionResult
	err := c.do(ctx, http.MethodPost, "/api/batches/"+url.PathEscape(id)+"/send", struct{}{}, &r, quickCall)
	return r, err
}

// Report writes and emails the report of a day ("": yesterday) now.
func (c *Control) Report(ctx context.Context, day string) (ActionResult, error) {
	var r ActionResult
	err := c.do(ctx, http.MethodPost, "/api/report", ReportRequest{Date: day}, &r, reportCall)
	return r, err
}

// Resume sends every unfinished batch that is not held, now.
func (c *Control) Resume(ctx context.Context) (ActionResult, error) {
	var r ActionResult
	err := c.do(ctx, http.MethodPost, "/api/resume", struct{}{}, &r, quickCall)
	return r, err
}

// WhoAmI is who the daemon sees at this end of the socket.
func (c *Control) WhoAmI(ctx context.Context) (string, error) {
	var r ActionResult
	err := c.do(ctx, http.MethodGet, "/api/whoami", nil, &r, quickCall)
	return r.By, err
}
