package providers

import (
	"context"
	"fmt"
)

// A pacer is how the host paces each request a client sends within one
// call: a payout whose submission is two requests (Bank 131's session,
// then its start) books its tokens before the first leaves, but the
// second leaves only when the first is answered, and the provider counts
// it then. The host's window must count it then too.
type pacerKey struct{}

// WithPacer returns ctx carrying pace, which each client calls right
// before a request leaves (Pace): it returns once the request may leave.
func WithPacer(ctx context.Context, pace func(context.Context) error) context.Context {
	return context.WithValue(ctx, pacerKey{}, pace)
}

// Pace waits until the host lets the next request of ctx leave (at once
// when ctx carries no pacer). A client calls it right before it hands a
// request to the transport, after building and signing it; an error means
// the request never left, and is retryable. One Pace is one request at
// the provider's door: a client keeps its transport from sending a request
// again by itself (Go's transport resends a GET without a body, or with
// GetBody, when a reused connection closes before the answer; Monnet's
// lookups are the case, see its client's do).
func Pace(ctx context.Context) error {
	pace, _ := ctx.Value(pacerKey{}).(func(context.Context) error)
	if pace == nil {
		return nil
	}
	if err := pace(ctx); err != nil {
		return fmt.Errorf("%w: waiting for its turn at the provider, the request did not leave: %v", ErrUnavailable, err)
	}
	return nil
}
