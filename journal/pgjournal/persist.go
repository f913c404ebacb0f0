package pgjournal

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/payrun/payrun/journal"
)

// The group commit of Persist. A webhook is acknowledged once its events
// are committed, and a commit waits for the server's sync of its WAL: a
// transaction per delivery spends a round trip, a commit record and a
// share of a sync on each, and with a hundred deliveries in flight the
// server's CPU (two cores, shared with payrun) goes to transactions, not
// events. So each of a few persisters takes every receipt waiting, sends
// them in one statement (payrun_persist) and answers each with its own
// result; the receipts that arrive meanwhile form the next group, taken by
// the next persister. A lone delivery is sent at once: no persister waits
// for company.

// persistWorkers is how many groups may be in flight at once: while one
// waits for its commit, the next is gathered and sent.
const persistWorkers = 4

// maxPersistGroup bounds the receipts of one statement.
const maxPersistGroup = 256

// persistTimeout bounds one group's statement: a database that stopped
// answering fails the deliveries (the provider delivers them again)
// rather than holding them open.
const persistTimeout = 30 * time.Second

// persistEvent is one event as payrun_persist takes it.
type persistEvent struct {
	provider, id, payout, typ, fact string
	body                            []byte
}

// persistReq is one receipt waiting for its group.
type persistReq struct {
	key    string
	events []persistEvent
	done   chan persistResult
}

type persistResult struct {
	replay bool
	fresh  int
	err    error
}

type persister struct {
	pool    *pgxpool.Pool
	reqs    chan *persistReq
	closing chan struct{}
	wg      sync.WaitGroup
}

func newPersister(pool *pgxpool.Pool) *persister {
	p := &persister{pool: pool, reqs: make(chan *persistReq), closing: make(chan struct{})}
	for range persistWorkers {
		p.wg.Go(p.loop)
	}
	return p
}

// close stops taking receipts once the groups in flight are answered.
func (p *persister) close() {
	close(p.closing)
	p.wg.Wait()
}

// do sends req in the next group and waits for its result. A receipt
// handed to a persister is answered whatever ctx does meanwhile: its
// group may already be committing.
func (p *persister) do(ctx context.Context, req *persistReq) (persistResult, error) {
	select {
	case p.reqs <- req:
	case <-p.closing:
		return persistResult{}, journal.ErrClosed
	case <-ctx.Done():
		return persistResult{}, ctx.Err()
	}
	res := <-req.done
	return res, res.err
}

func (p *persister) loop() {
	group := make([]*persistReq, 0, maxPersistGroup)
	for {
		select {
		case <-p.closing:
			return
		case r := <-p.reqs:
			group = append(group[:0], r)
		}
	more:
		for len(group) < maxPersistGroup {
			select {
			case r := <-p.reqs:
				group = append(group, r)
			default:
				break more
			}
		}
		p.run(group)
	}
}

// run persists group and answers each receipt. A group the server refuses
// for another reason than a deadlock runs again one receipt at a time, so
// that one bad receipt fails alone.
func (p *persister) run(group []*persistReq) {
	res, err := p.send(group)
	if err != nil && len(group) > 1 {
		for _, r := range group {
			p.run([]*persistReq{r})
		}
		return
	}
	for i, r := range group {
		if err != nil {
			r.done <- persistResult{err: err}
			continue
		}
		r.done <- res[i]
	}
}

// send runs payrun_persist over group, again when the server broke a
// deadlock by aborting it (two groups holding the same events in another
// order).
func (p *persister) send(group []*persistReq) ([]persistResult, error) {
	keys := make([]string, len(group))
	var receipts []int32
	var provs, ids, payouts, types, facts []string
	var bodies [][]byte
	for i, r := range group {
		keys[i] = r.key
		for _, ev := range r.events {
			receipts = append(receipts, int32(i+1))
			provs, ids, payouts, types = append(provs, ev.provider), append(ids, ev.id), append(payouts, ev.payout), append(types, ev.typ)
			facts, bodies = append(facts, ev.fact), append(bodies, ev.body)
		}
	}
	// The group's statement is not the caller's to cancel: receipts of
	// other deliveries ride in it.
	ctx, cancel := context.WithTimeout(context.Background(), persistTimeout)
	defer cancel()
	for try := 0; ; try++ {
		rows, err := p.pool.Query(ctx, `SELECT replay, fresh FROM payrun_persist($1, $2, $3, $4, $5, $6, $7::json[], $8)`,
			keys, receipts, provs, ids, payouts, types, facts, bodies)
		var out []persistResult
		if err == nil {
			out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (persistResult, error) {
				var r persistResult
				return r, row.Scan(&r.replay, &r.fresh)
			})
		}
		if try < maxRetries && retryable(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(out) != len(group) {
			return nil, fmt.Errorf("persist: %d results for %d receipts", len(out), len(group))
		}
		return out, nil
	}
}
