package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// HTTPServer serves a handler on an address under the service lifecycle.
type HTTPServer struct {
	Addr    string
	Handler http.Handler
	Log     *slog.Logger
	// Listener, when set, is served instead of listening on Addr (a
	// caller that needs the address before it builds the handler).
	Listener net.Listener

	mu   sync.Mutex
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// Start listens and serves on its own goroutine; it returns once the
// address is bound (an address in use fails here, not later).
func (h *HTTPServer) Start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.srv != nil {
		return errors.New("http server: already started")
	}
	ln := h.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", h.Addr); err != nil {
			return fmt.Errorf("listen %s: %w", h.Addr, err)
		}
	}
	srv := &http.Server{Handler: h.Handler, ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) }}
	h.ln, h.srv, h.done = ln, srv, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) && h.Log != nil {
			h.Log.Error("http server", "err", err)
		}
	}(h.done)
	return nil
}

// BoundAddr is the address listened on (with the port the system chose
// for ":0"); nil before Start.
func (h *HTTPServer) BoundAddr() net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ln == nil {
		return nil
	}
	return h.ln.Addr()
}

// Stop stops taking connections and lets requests in flight finish, for
// at most five seconds.
func (h *HTTPServer) Stop() {
	h.mu.Lock()
	srv, done := h.srv, h.done
	h.srv, h.ln, h.done = nil, nil, nil
	h.mu.Unlock()
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		_ = srv.Close()
	}
	<-done
}
