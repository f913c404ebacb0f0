package pgjournal

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/journal"
)

// The journal.Restorer of the PostgreSQL driver: `payrun journal copy`
// reads a database whole through it, and writes into one, through COPY.
// Times PostgreSQL keeps in columns (transitions, mail) are kept to the
// microsecond; those in JSON (items, batches, events) exactly.

var _ journal.Restorer = (*Journal)(nil)

// Refs calls fn for every provider reference, by provider and id.
func (j *Journal) Refs(ctx context.Context, fn func(journal.Ref) bool) error {
	rows, err := j.pool.Query(ctx, `SELECT provider, ref, payout_id FROM payrun_refs ORDER BY provider, ref`)
	if err != nil {
		return err
	}
	var r journal.Ref
	_, err = pgx.ForEachRow(rows, []any{&r.Provider, &r.ID, &r.PayoutID}, func() error {
		if !fn(r) {
			return errStop
		}
		return nil
	})
	return stopped(err)
}

// StoredEvents calls fn for every stored event: those applied or judged
// first, by provider and id, then those queued, in queue order.
func (j *Journal) StoredEvents(ctx context.Context, fn func(journal.StoredEvent) bool) error {
	rows, err := j.pool.Query(ctx, `SELECT e.provider, e.event_id, e.payout_id, e.type, e.replay_keys, e.fact, e.body, f.fact,
			q.seq IS NOT NULL
		FROM payrun_events e
		LEFT JOIN payrun_event_facts f ON f.provider = e.provider AND f.event_id = e.event_id
		LEFT JOIN payrun_event_queue q ON q.provider = e.provider AND q.event_id = e.event_id
		ORDER BY q.seq NULLS FIRST, e.provider, e.event_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var queued bool
		ev, f, jf, err := scanEvent(queuedRow{rows, &queued})
		if err != nil {
			return err
		}
		if !fn(journal.StoredEvent{Event: ev, Fact: f, Judged: jf, Queued: queued}) {
			return nil
		}
	}
	return rows.Err()
}

// queuedRow is a row of an event with one more column, whether it is
// queued, for scanEvent.
type queuedRow struct {
	pgx.Row
	queued *bool
}

func (r queuedRow) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.queued)...) }

// AllMail returns every message, sent or not, oldest first.
func (j *Journal) AllMail(ctx context.Context) ([]journal.QueuedMail, error) {
	return j.mail(ctx, mailColumns+` ORDER BY queued, id`)
}

// RestoreBatch journals b as given.
func (j *Journal) RestoreBatch(ctx context.Context, b journal.Batch) error {
	return j.write(ctx, func(tx pgx.Tx) error { return createBatch(ctx, tx, &b) })
}

// RestoreItems journals items as given through COPY; the primary key
// refuses a payout_id journaled.
func (j *Journal) RestoreItems(ctx context.Context, items []journal.Item) error {
	return j.write(ctx, func(tx pgx.Tx) error { return copyItems(ctx, tx, items) })
}

// RestoreRefs maps provider references to payouts, refusing one that
// names another payout.
func (j *Journal) RestoreRefs(ctx context.Context, refs []journal.Ref) error {
	if len(refs) == 0 {
		return nil
	}
	return j.write(ctx, func(tx pgx.Tx) error {
		w := newWriteTx(ctx, tx)
		for _, r := range refs {
			if err := w.PutRef(r.Provider, r.ID, r.PayoutID); err != nil {
				return err
			}
		}
		return w.flush()
	})
}

// RestoreTransitions appends ts to the log in the order given, through
// COPY: the identity column numbers them in that order.
func (j *Journal) RestoreTransitions(ctx context.Context, ts []journal.Transition) error {
	if len(ts) == 0 {
		return nil
	}
	return j.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"payrun_transitions"},
			[]string{"payout_id", "at", "from_state", "to_state", "actor", "reason", "payload"},
			pgx.CopyFromSlice(len(ts), func(i int) ([]any, error) {
				t := &ts[i]
				var payload []byte
				if len(t.Payload) > 0 {
					payload = t.Payload
				}
				return []any{t.PayoutID, t.At, string(t.From), string(t.To), t.Actor, t.Reason, payload}, nil
			}))
		return err
	})
}

// RestoreEvents stores events as given through COPY, queueing those
// queued in the order given.
func (j *Journal) RestoreEvents(ctx context.Context, evs []journal.StoredEvent) error {
	if len(evs) == 0 {
		return nil
	}
	type row = []any
	var events, facts, queue []row
	for i := range evs {
		se := &evs[i]
		ev := se.Event
		f := se.Fact
		f.Provider, f.EventID, f.Received, f.Applied, f.Note = ev.Provider, ev.ID, ev.Received, false, ""
		raw, err := encodeFact(f)
		if err != nil {
			return err
		}
		keys, body := ev.ReplayKeys, ev.Body
		if keys == nil {
			keys = []string{}
		}
		if body == nil {
			body = []byte{}
		}
		events = append(events, row{ev.Provider, ev.ID, ev.PayoutID, ev.Type, keys, raw, body})
		if se.Judged != nil {
			raw, err := encodeFact(*se.Judged)
			if err != nil {
				return err
			}
			facts = append(facts, row{ev.Provider, ev.ID, raw})
		}
		if se.Queued {
			queue = append(queue, row{ev.Provider, ev.ID})
		}
	}
	return j.write(ctx, func(tx pgx.Tx) error {
		for _, c := range []struct {
			table string
			cols  []string
			rows  []row
		}{
			{"payrun_events", []string{"provider", "event_id", "payout_id", "type", "replay_keys", "fact", "body"}, events},
			{"payrun_event_facts", []string{"provider", "event_id", "fact"}, facts},
			{"payrun_event_queue", []string{"provider", "event_id"}, queue},
		} {
			if len(c.rows) == 0 {
				continue
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
				if pe, ok := isUnique(err, ""); ok {
					return fmt.Errorf("an event is already stored (%s)", pe.Detail)
				}
				return err
			}
		}
		return nil
	})
}

// RestoreMail stores messages as given through COPY.
func (j *Journal) RestoreMail(ctx context.Context, ms []journal.QueuedMail) error {
	if len(ms) == 0 {
		return nil
	}
	return j.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"payrun_mail"}, []string{"id", "queued", "sent", "tries", "last_err", "eml"},
			pgx.CopyFromSlice(len(ms), func(i int) ([]any, error) {
				m := &ms[i]
				var sent *time.Time
				if !m.Sent.IsZero() {
					sent = &m.Sent
				}
				eml := m.EML
				if eml == nil {
					eml = []byte{}
				}
				return []any{m.ID, m.Queued, sent, m.Tries, m.LastErr, eml}, nil
			}))
		return err
	})
}
