package daemon

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// WarnAggregator is a slog.Handler that keeps a storm of identical
// warnings (a webhook signature failing a thousand times a minute, a
// provider down for every payout) from burying the log: the first warning
// of a kind in each interval is written as it comes, the others are
// counted, and one line per kind says how many there were when the
// interval ends. A kind is the message and, when the record names one, the
// provider. Records below Warn pass through untouched.
type WarnAggregator struct {
	next  slog.Handler
	state *aggState
}

type aggState struct {
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	start time.Time
	kinds map[string]*aggKind
}

type aggKind struct {
	msg, provider string
	level         slog.Level
	handler       slog.Handler // the clone that wrote the first one, with its attributes
	suppressed    int
}

// AggregateWarnings returns a logger writing to log's handler, with
// repeated warnings aggregated per interval every (0: a minute). The
// daemon flushes the counts as intervals end and when it stops.
func AggregateWarnings(log *slog.Logger, every time.Duration) *slog.Logger {
	return slog.New(NewWarnAggregator(log.Handler(), every, nil))
}

// NewWarnAggregator wraps next; now is the clock (nil: time.Now).
func NewWarnAggregator(next slog.Handler, every time.Duration, now func() time.Time) *WarnAggregator {
	if every <= 0 {
		every = time.Minute
	}
	if now == nil {
		now = time.Now
	}
	return &WarnAggregator{next: next, state: &aggState{every: every, now: now, kinds: map[string]*aggKind{}}}
}

// Enabled implements slog.Handler.
func (a *WarnAggregator) Enabled(ctx context.Context, l slog.Level) bool {
	return a.next.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler; the clone shares the counts.
func (a *WarnAggregator) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &WarnAggregator{next: a.next.WithAttrs(attrs), state: a.state}
}

// WithGroup implements slog.Handler; the clone shares the counts.
func (a *WarnAggregator) WithGroup(name string) slog.Handler {
	return &WarnAggregator{next: a.next.WithGroup(name), state: a.state}
}

// eventKey marks a record logged with the event context.
type eventKey struct{}

// event is the context of a warning that is an event of its own (a file
// held, an approval refused, a run stopped): always written, never counted
// with others of its kind, however many come.
var event = context.WithValue(context.Background(), eventKey{}, true)

// Handle implements slog.Handler.
func (a *WarnAggregator) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn || ctx.Value(eventKey{}) != nil {
		return a.next.Handle(ctx, r)
	}
	provider := ""
	r.Attrs(func(at slog.Attr) bool {
		if at.Key == "provider" {
			provider = at.Value.String()
			return false
		}
		return true
	})
	key := r.Message + "\x00" + provider
	s := a.state
	s.mu.Lock()
	due := s.take(false)
	k, seen := s.kinds[key]
	if seen {
		k.suppressed++
	} else {
		s.kinds[key] = &aggKind{msg: r.Message, provider: provider, level: r.Level, handler: a.next}
	}
	s.mu.Unlock()
	s.write(ctx, due)
	if seen {
		return nil
	}
	return a.next.Handle(ctx, r)
}

// Flush writes the counts of an interval that has ended (all of them when
// force) and starts a new one.
func (a *WarnAggregator) Flush(force bool) {
	s := a.state
	s.mu.Lock()
	due := s.take(force)
	s.mu.Unlock()
	s.write(context.Background(), due)
}

// take ends the interval when it is over (or when force), returning the
// kinds that had warnings left out; s.mu held.
func (s *aggState) take(force bool) []*aggKind {
	now := s.now()
	if s.start.IsZero() {
		s.start = now
	}
	if !force && now.Sub(s.start) < s.every {
		return nil
	}
	var out []*aggKind
	for _, k := range s.kinds {
		if k.suppressed > 0 {
			out = append(out, k)
		}
	}
	s.kinds = map[string]*aggKind{}
	s.start = now
	sort.Slice(out, func(x, y int) bool {
		if out[x].msg != out[y].msg {
			return out[x].msg < out[y].msg
		}
		return out[x].provider < out[y].provider
	})
	return out
}

func (s *aggState) write(ctx context.Context, kinds []*aggKind) {
	for _, k := range kinds {
		r := slog.NewRecord(s.now(), k.level, "repeated warning: "+k.msg, 0)
		r.AddAttrs(slog.Int("more", k.suppressed), slog.String("within", s.every.String()))
		if k.provider != "" {
			r.AddAttrs(slog.String("provider", k.provider))
		}
		_ = k.handler.Handle(ctx, r)
	}
}
