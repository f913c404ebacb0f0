package pgjournal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/providers"
)

// Persist keeps a verified notification before it is acknowledged, in
// the driver's group commit (persist.go): the receipts of concurrent
// deliveries go to the server together, in one statement, and the
// acknowledgement waits for that statement's commit. (provider, event id)
// is the events' primary key: a duplicate delivery racing its original on
// another node waits for it and then stores nothing.
func (j *Journal) Persist(ctx context.Context, r journal.Receipt) (replay bool, fresh int, err error) {
	if len(r.Facts) != len(r.Events) {
		return false, 0, fmt.Errorf("receipt of %d events with %d facts", len(r.Events), len(r.Facts))
	}
	if len(r.Events) == 0 {
		return false, 0, nil
	}
	if err := j.writable(); err != nil {
		return false, 0, err
	}
	if err := ctx.Err(); err != nil {
		return false, 0, err
	}
	r = r.Scrubbed()
	req := &persistReq{key: r.ReplayKey, done: make(chan persistResult, 1)}
	for i, ev := range r.Events {
		f := r.Facts[i]
		f.Provider, f.EventID, f.Received, f.Applied, f.Note = ev.Provider, ev.ID, ev.Received, false, ""
		raw, err := encodeFact(f)
		if err != nil {
			return false, 0, err
		}
		body := ev.Body
		if body == nil {
			body = []byte{}
		}
		req.events = append(req.events, persistEvent{ev.Provider, ev.ID, ev.PayoutID, ev.Type, string(raw), body})
	}
	res, err := j.persist.do(ctx, req)
	return res.replay, res.fresh, err
}

// queuedEvent is one row of the event queue, with its event's fact.
type queuedEvent struct {
	seq    int64
	fact   journal.EventFact
	judged bool // MarkEventFact recorded it after an earlier call left it
	payout string
}

// ApplyQueued applies up to max queued events, oldest first, in one
// transaction. Its first statement takes a transaction-scoped advisory
// lock, so that one applier at a time, on any node, reads the head of the
// queue: two appliers never judge the same event, and events leave the
// queue in order. The items the events name are locked (FOR UPDATE)
// before they are judged, so a dispatcher or poller on another node
// changing one waits, or is waited for.
func (j *Journal) ApplyQueued(ctx context.Context, max int, judge journal.Judge) (n int, later *journal.EventFact, err error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, err
	}
	err = j.write(ctx, func(tx pgx.Tx) error {
		n, later = 0, nil
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockApplier); err != nil {
			return err
		}
		queue, err := readQueue(ctx, tx, max)
		if err != nil {
			return err
		}
		// What the rules will read, read at once: the provider references
		// the events carry, and the items they name, locked.
		w := newWriteTx(ctx, tx)
		var ids []string
		var refs [][2]string
		for _, q := range queue {
			if !q.judged {
				r := q.fact.Status.Refs
				ids = append(ids, q.payout, r.PayoutID)
				refs = append(refs, [2]string{q.fact.Provider, r.ProviderID}, [2]string{q.fact.Provider, r.SessionID})
			}
		}
		if err := w.readRefs(refs); err != nil {
			return err
		}
		for _, k := range refs {
			if p := w.seen[k]; p != "" {
				ids = append(ids, p)
			}
		}
		if err := w.lockItems(ids); err != nil {
			return err
		}
		etx := &eventTx{w: w, now: j.Now().UTC()}
		var done []int64
		var provs, evIDs, facts []string
		for _, q := range queue {
			if q.judged {
				done, n = append(done, q.seq), n+1
				continue
			}
			jd, err := judge(etx, q.fact)
			if err != nil {
				return err
			}
			if jd.Later {
				f := q.fact
				later = &f
				break
			}
			f := q.fact
			f.Applied, f.Note = jd.Applied, jd.Note
			raw, err := encodeFact(f)
			if err != nil {
				return err
			}
			provs, evIDs, facts = append(provs, f.Provider), append(evIDs, f.EventID), append(facts, string(raw))
			done, n = append(done, q.seq), n+1
		}
		if len(done) == 0 {
			return errNothingApplied
		}
		w.batch.Queue(`INSERT INTO payrun_event_facts (provider, event_id, fact)
			SELECT * FROM unnest($1::text[], $2::text[], $3::json[])
			ON CONFLICT (provider, event_id) DO UPDATE SET fact = EXCLUDED.fact`, provs, evIDs, facts)
		w.batch.Queue(`DELETE FROM payrun_event_queue WHERE seq = ANY($1)`, done)
		return w.flush()
	})
	if errors.Is(err, errNothingApplied) {
		return 0, later, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return n, later, nil
}

// errNothingApplied rolls back an ApplyQueued transaction that took
// nothing off the queue: it writes nothing.
var errNothingApplied = errors.New("nothing applied")

// readQueue reads the head of the queue with each event's fact.
func readQueue(ctx context.Context, tx pgx.Tx, max int) ([]queuedEvent, error) {
	rows, err := tx.Query(ctx, `SELECT q.seq, q.provider, q.event_id, e.payout_id, e.fact, f.provider IS NOT NULL
		FROM payrun_event_queue q
		JOIN payrun_events e ON e.provider = q.provider AND e.event_id = q.event_id
		LEFT JOIN payrun_event_facts f ON f.provider = q.provider AND f.event_id = q.event_id
		ORDER BY q.seq LIMIT $1`, max)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []queuedEvent
	for rows.Next() {
		var q queuedEvent
		var prov, id string
		var raw []byte
		if err := rows.Scan(&q.seq, &prov, &id, &q.payout, &raw, &q.judged); err != nil {
			return nil, err
		}
		if q.fact, err = decodeFact(prov, id, raw); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// eventTx is ApplyQueued's transaction as journal.EventTx.
type eventTx struct {
	w   *writeTx
	now time.Time
}

func (e *eventTx) Item(payoutID string) (journal.Item, error) { return e.w.item(payoutID) }

func (e *eventTx) PayoutByRef(provider, id string) (string, bool, error) {
	return e.w.PayoutByRef(provider, id)
}

func (e *eventTx) ApplyStatus(payoutID, actor string, st providers.Status) (bool, error) {
	it, err := e.w.item(payoutID)
	if err != nil {
		return false, err
	}
	c, ok := journal.StatusChange(it, actor, st)
	if !ok {
		return false, nil
	}
	return true, journal.ApplyTo(e.w, &it, c, e.now)
}

func (e *eventTx) Update(payoutID string, fn func(*journal.Item)) error {
	return e.w.update(payoutID, fn)
}

// MarkEventFact records what became of an event ApplyQueued left for
// later; the next ApplyQueued, under its lock, sees the fact and takes
// the event off the queue. The fact is one row under the event's key: a
// second node recording the same event waits for the first's row and
// replaces it, as a second write of bbolt's does.
func (j *Journal) MarkEventFact(ctx context.Context, applied bool, note string, f journal.EventFact) error {
	return j.write(ctx, func(tx pgx.Tx) error {
		var raw []byte
		err := tx.QueryRow(ctx, `SELECT fact FROM payrun_events WHERE provider = $1 AND event_id = $2`, f.Provider, f.EventID).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("event %s %s: %w", f.Provider, f.EventID, journal.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if f.Received.IsZero() {
			stored, err := decodeFact(f.Provider, f.EventID, raw)
			if err != nil {
				return err
			}
			f.Received = stored.Received
		}
		f.Applied, f.Note = applied, note
		out, err := encodeFact(f)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO payrun_event_facts (provider, event_id, fact) VALUES ($1, $2, $3)
			ON CONFLICT (provider, event_id) DO UPDATE SET fact = EXCLUDED.fact`, f.Provider, f.EventID, out)
		return err
	})
}

// Queued returns how many persisted events wait to be applied.
func (j *Journal) Queued(ctx context.Context) (int, error) {
	var n int
	err := j.pool.QueryRow(ctx, `SELECT count(*) FROM payrun_event_queue`).Scan(&n)
	return n, err
}

// eventColumns are what an event is read from (scanEvent).
const eventColumns = `SELECT e.provider, e.event_id, e.payout_id, e.type, e.replay_keys, e.fact, e.body, f.fact
	FROM payrun_events e LEFT JOIN payrun_event_facts f ON f.provider = e.provider AND f.event_id = e.event_id`

// scanEvent reads an event, with what became of it from its fact, and the
// fact it was received with.
func scanEvent(r pgx.Row) (journal.Event, journal.EventFact, *journal.EventFact, error) {
	var ev journal.Event
	var raw, judged []byte
	if err := r.Scan(&ev.Provider, &ev.ID, &ev.PayoutID, &ev.Type, &ev.ReplayKeys, &raw, &ev.Body, &judged); err != nil {
		return ev, journal.EventFact{}, nil, err
	}
	if len(ev.ReplayKeys) == 0 {
		ev.ReplayKeys = nil
	}
	if len(ev.Body) == 0 {
		ev.Body = nil
	}
	f, err := decodeFact(ev.Provider, ev.ID, raw)
	if err != nil {
		return ev, f, nil, err
	}
	ev.Received = f.Received
	var jf *journal.EventFact
	if judged != nil {
		x, err := decodeFact(ev.Provider, ev.ID, judged)
		if err != nil {
			return ev, f, nil, err
		}
		ev.Applied, ev.Note, jf = x.Applied, x.Note, &x
	}
	return ev, f, jf, nil
}

// Event returns one stored event.
func (j *Journal) Event(ctx context.Context, provider, id string) (journal.Event, bool, error) {
	ev, _, _, err := scanEvent(j.pool.QueryRow(ctx, eventColumns+` WHERE e.provider = $1 AND e.event_id = $2`, provider, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return journal.Event{}, false, nil
	}
	return ev, err == nil, err
}

// ListEvents calls fn for every stored event, by provider and id.
func (j *Journal) ListEvents(ctx context.Context, fn func(journal.Event) bool) error {
	rows, err := j.pool.Query(ctx, eventColumns+` ORDER BY e.provider, e.event_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		ev, _, _, err := scanEvent(rows)
		if err != nil {
			return err
		}
		if !fn(ev) {
			return nil
		}
	}
	return rows.Err()
}

// EventFacts calls fn for every event applied or judged.
func (j *Journal) EventFacts(ctx context.Context, fn func(journal.EventFact) bool) error {
	rows, err := j.pool.Query(ctx, `SELECT provider, event_id, fact FROM payrun_event_facts ORDER BY provider, event_id`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var prov, id string
		var raw []byte
		if err := rows.Scan(&prov, &id, &raw); err != nil {
			return err
		}
		f, err := decodeFact(prov, id, raw)
		if err != nil {
			return err
		}
		if !fn(f) {
			return nil
		}
	}
	return rows.Err()
}

// EnqueueMail stores a message until MarkMailSent; an id enqueued before
// keeps its first message (the primary key decides between two nodes).
func (j *Journal) EnqueueMail(ctx context.Context, id string, eml []byte) error {
	if eml == nil {
		eml = []byte{}
	}
	return j.write(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO payrun_mail (id, queued, eml) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
			id, j.Now().UTC(), eml)
		return err
	})
}

const mailColumns = `SELECT id, queued, sent, tries, last_err, eml FROM payrun_mail`

func scanMail(r pgx.Row) (journal.QueuedMail, error) {
	var m journal.QueuedMail
	var sent *time.Time
	if err := r.Scan(&m.ID, &m.Queued, &sent, &m.Tries, &m.LastErr, &m.EML); err != nil {
		return m, err
	}
	m.Queued = m.Queued.UTC()
	if sent != nil {
		m.Sent = sent.UTC()
	}
	return m, nil
}

func (j *Journal) mail(ctx context.Context, sql string) ([]journal.QueuedMail, error) {
	rows, err := j.pool.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (journal.QueuedMail, error) { return scanMail(r) })
}

// PendingMail returns the messages not sent yet, oldest first.
func (j *Journal) PendingMail(ctx context.Context) ([]journal.QueuedMail, error) {
	return j.mail(ctx, mailColumns+` WHERE sent IS NULL ORDER BY queued, id`)
}

// MarkMailSent records a delivery (idempotent); a non-nil sendErr records
// a failed try instead. One UPDATE under the row's lock: a second node
// marking the same message waits, then finds it sent and counts nothing.
func (j *Journal) MarkMailSent(ctx context.Context, id string, sendErr error) error {
	return j.write(ctx, func(tx pgx.Tx) error {
		var err error
		if sendErr != nil {
			_, err = tx.Exec(ctx, `UPDATE payrun_mail SET tries = tries + 1, last_err = $2 WHERE id = $1 AND sent IS NULL`, id, sendErr.Error())
		} else {
			_, err = tx.Exec(ctx, `UPDATE payrun_mail SET tries = tries + 1, sent = $2 WHERE id = $1 AND sent IS NULL`, id, j.Now().UTC())
		}
		return err
	})
}
