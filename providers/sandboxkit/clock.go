package sandboxkit

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is the sandbox's time: real time plus an offset that tests move
// forward with Advance, and a scheduler that runs work when its time comes
// (payout state changes, webhook retries).
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
	tasks  taskHeap
	seq    int
	wake   chan struct{}
	done   chan struct{}
	wg     sync.WaitGroup
}

// NewClock starts a clock and its scheduler goroutine.
func NewClock() *Clock {
	c := &Clock{wake: make(chan struct{}, 1), done: make(chan struct{})}
	c.wg.Add(1)
	go c.run()
	return c
}

// Now returns sandbox time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves sandbox time forward; work that falls due runs at once.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
	c.poke()
}

// At runs f at sandbox time t (at once if t has passed), on the scheduler
// goroutine. f must not block for long.
func (c *Clock) At(t time.Time, f func()) {
	c.mu.Lock()
	c.seq++
	heap.Push(&c.tasks, task{at: t, seq: c.seq, f: f})
	c.mu.Unlock()
	c.poke()
}

// After runs f after d of sandbox time.
func (c *Clock) After(d time.Duration, f func()) { c.At(c.Now().Add(d), f) }

func (c *Clock) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Clock) close() {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	c.wg.Wait()
}

func (c *Clock) run() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.mu.Lock()
		now := time.Now().Add(c.offset)
		var due []func()
		for len(c.tasks) > 0 && !c.tasks[0].at.After(now) {
			due = append(due, heap.Pop(&c.tasks).(task).f)
		}
		wait := time.Hour
		if len(c.tasks) > 0 {
			wait = c.tasks[0].at.Sub(now)
		}
		c.mu.Unlock()
		for _, f := range due {
			f()
		}
		if len(due) > 0 {
			continue
		}
		timer.Reset(wait)
		select {
		case <-c.done:
			return
		case <-c.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

type task struct {
	at  time.Time
	seq int
	f   func()
}

type taskHeap []task

func (h taskHeap) Len() int { return len(h) }
func (h taskHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h taskHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)   { *h = append(*h, x.(task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}
