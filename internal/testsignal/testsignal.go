package testsignal

import (
	"testing"
	"time"
)

// Signal carries values of T from a service to a test.
type Signal[T any] struct {
	ch chan T
}

// Init makes the signal deliver; call it before the service starts.
func (s *Signal[T]) Init() { s.ch = make(chan T, 1000) }

// Signal delivers v to a test that called Init, and does nothing
// otherwise. It never blocks: a test that does not keep up loses values
// beyond the buffer, and then fails on the one it waited for.
func (s *Signal[T]) Signal(v T) {
	if s.ch == nil {
		return
	}
	select {
	case s.ch <- v:
	default:
	}
}

// Wait returns the next value, failing t after timeout.
func (s *Signal[T]) Wait(t testing.TB, timeout time.Duration) T {
	t.Helper()
	if s.ch == nil {
		t.Fatal("testsignal: Wait on a signal that was not Init")
	}
	select {
	case v := <-s.ch:
		return v
	case <-time.After(timeout):
		t.Fatalf("testsignal: nothing signalled within %s", timeout)
	}
	var zero T
	return zero
}
