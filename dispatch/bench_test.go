package dispatch_test

import (
	"context"
	"testing"

	"github.com/payrun/payrun/internal/bench"
)

// BenchmarkDispatch is the dispatcher with its journal sending
// PAYRUN_BENCH_PAYOUTS payouts (default 2,000) to an unthrottled
// in-process TeemoPay sandbox, bench.Concurrency in flight. Each iteration
// starts a sandbox and journals the batch untimed; payouts/s is the
// dispatch alone.
func BenchmarkDispatch(b *testing.B) {
	n := benchSize(b, "PAYRUN_BENCH_PAYOUTS", 2_000)
	runSides(b, "payouts", func(dir string) (bench.Side, error) { return bench.DispatchOurs(context.Background(), dir, n) })
}

// BenchmarkBareLoop sends the same signed requests with the TeemoPay
// client from bench.Concurrency goroutines, no journal.
func BenchmarkBareLoop(b *testing.B) {
	n := benchSize(b, "PAYRUN_BENCH_PAYOUTS", 2_000)
	runSides(b, "payouts", func(dir string) (bench.Side, error) { return bench.DispatchBaseline(context.Background(), dir, n) })
}
