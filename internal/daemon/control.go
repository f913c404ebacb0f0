package daemon

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/payrun/payrun/internal/app"
	"github.com/payrun/payrun/internal/config"
)

// The control socket is how one-shot commands reach a running daemon that
// holds an embedded journal (approve, hold, send now, report now, resume,
// status). It is a Unix socket beside the journal file, not a TCP port:
// the status page's listen address may be reachable by the providers (for
// their webhooks), and nothing that moves money may be asked for there.
// Who may connect is decided by the file system (the socket is 0660 in the
// journal's directory, which OpenJournal creates 0700: only the daemon's
// user, unless an administrator opens the directory to a group), and who
// did connect is told by the kernel (the peer's credentials), never by the
// request: that name is what an approval records.

// maxSocketPath is the longest socket path every Unix accepts (sun_path
// is 104 bytes on the BSDs, 108 on Linux, with its terminating NUL).
const maxSocketPath = 103

// SocketPath is where the daemon of cfg's journal listens for commands:
// JOURNAL.sock beside an embedded journal (app.JournalFile), "" for
// PostgreSQL, however the configuration names it (commands work on the
// database itself), or a path too long for a socket.
func SocketPath(cfg *config.Config) string {
	f := app.JournalFile(cfg)
	if f == "" {
		return ""
	}
	p := f + ".sock"
	if len(p) > maxSocketPath {
		return ""
	}
	return p
}

// ControlServer serves a handler on a Unix socket, telling each request
// who connected (Peer).
type ControlServer struct {
	Path    string
	Handler http.Handler
	Log     *slog.Logger

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{}
}

type peerKey struct{}

// Peer is the OS user who sent a request over the control socket ("" when
// the kernel did not say).
func Peer(ctx context.Context) string {
	v, _ := ctx.Value(peerKey{}).(string)
	return v
}

// Start listens on the socket, replacing a stale one a crash left (the
// caller holds the journal, so no other daemon uses it); a file there that
// is not a socket is an error.
func (c *ControlServer) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.srv != nil {
		return errors.New("control socket: already started")
	}
	if fi, err := os.Lstat(c.Path); err == nil {
		if fi.Mode()&fs.ModeSocket == 0 {
			return fmt.Errorf("control socket %s: a file that is not a socket is in the way", c.Path)
		}
		if err := os.Remove(c.Path); err != nil {
			return fmt.Errorf("control socket %s: %w", c.Path, err)
		}
	}
	ln, err := net.Listen("unix", c.Path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(c.Path, 0o660); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	srv := &http.Server{Handler: c.Handler, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext: func(ctx context.Context, conn net.Conn) context.Context {
			if uid, ok := peerUID(conn); ok {
				return context.WithValue(ctx, peerKey{}, app.UserName(uid))
			}
			return ctx
		}}
	c.srv, c.done = srv, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && c.Log != nil {
			c.Log.Error("control socket", "err", err)
		}
	}(c.done)
	return nil
}

// Stop stops taking commands, lets those in progress answer (for at most
// five seconds) and removes the socket.
func (c *ControlServer) Stop() {
	c.mu.Lock()
	srv, done := c.srv, c.done
	c.srv, c.done = nil, nil
	c.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	<-done
	_ = os.Remove(c.Path)
}
