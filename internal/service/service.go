package service

import (
	"context"
	"errors"
	"sync"
)

// Service is a long-running part of payrun.
type Service interface {
	Start(ctx context.Context) error
	Stop()
}

// ErrStarted is returned by Start on a service already started.
var ErrStarted = errors.New("already started")

// Loop runs one goroutine under the lifecycle: a service embeds it and
// calls Run from its Start and Halt from its Stop.
type Loop struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Run starts fn on its own goroutine with a context that ends when ctx
// does or Halt is called. A loop runs once at a time: Run on a running
// loop is ErrStarted.
func (l *Loop) Run(ctx context.Context, fn func(ctx context.Context)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done != nil {
		return ErrStarted
	}
	ctx, cancel := context.WithCancel(ctx)
	l.cancel, l.done = cancel, make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		fn(ctx)
	}(l.done)
	return nil
}

// Halt ends the loop's context and waits for fn to return; the loop may
// then Run again. Halting a loop that does not run does nothing.
func (l *Loop) Halt() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done == nil {
		return
	}
	l.cancel()
	<-l.done
	l.cancel, l.done = nil, nil
}

// Running reports whether the loop's goroutine has not returned yet.
func (l *Loop) Running() bool {
	l.mu.Lock()
	done := l.done
	l.mu.Unlock()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}
