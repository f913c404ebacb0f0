-- payrun journal, schema 1. Columns hold what is queried; the rest of a
-- batch, an item, a rejected row or a fact is JSON (the json type keeps the
-- text as written, so a copy to and from bbolt is exact; operators read it
-- with -> and ->>). Times in columns are microseconds, as the driver's
-- clock keeps them.

CREATE TABLE payrun_batches (
    id      text PRIMARY KEY,
    sha256  text NOT NULL DEFAULT '',
    state   text NOT NULL,
    batch   json NOT NULL
);
-- A file's content is journaled once: two payrun processes staging the
-- same file at once collide here.
CREATE UNIQUE INDEX payrun_batches_sha256 ON payrun_batches (sha256) WHERE sha256 <> '';
CREATE INDEX payrun_batches_ingesting ON payrun_batches (id) WHERE state = 'ingesting';

-- An item's payout_id is its key forever, across batches. batch_id has no
-- foreign key: a million rows COPY'd in would each fire its check
-- (journal check counts orphans instead).
CREATE TABLE payrun_items (
    payout_id text PRIMARY KEY,
    batch_id  text NOT NULL,
    "row"     integer NOT NULL,
    provider  text NOT NULL,
    state     text NOT NULL CHECK (state IN ('accepted', 'queued', 'sending', 'submitted', 'in_doubt',
        'awaiting_confirmation', 'confirming', 'awaiting_beneficiary', 'succeeded', 'amount_mismatch', 'failed',
        'expired', 'reversed', 'invalid', 'duplicate', 'held', 'cancelled')),
    item      json NOT NULL
);
CREATE UNIQUE INDEX payrun_items_batch_row ON payrun_items (batch_id, "row");
-- The open index: items not final (State.Final), with their state, read by
-- recovery without the items. The predicate is written once more in
-- pgjournal (openPredicate); a test holds the two to State.Final.
CREATE INDEX payrun_items_open ON payrun_items (payout_id) INCLUDE (state)
    WHERE state NOT IN ('succeeded', 'amount_mismatch', 'failed', 'expired', 'reversed', 'invalid', 'duplicate', 'cancelled');

CREATE TABLE payrun_refs (
    provider  text NOT NULL,
    ref       text NOT NULL,
    payout_id text NOT NULL REFERENCES payrun_items,
    PRIMARY KEY (provider, ref)
);

CREATE TABLE payrun_transitions (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payout_id  text NOT NULL REFERENCES payrun_items,
    at         timestamptz NOT NULL,
    from_state text NOT NULL,
    to_state   text NOT NULL,
    actor      text NOT NULL,
    reason     text NOT NULL,
    payload    json
);
CREATE INDEX payrun_transitions_payout ON payrun_transitions (payout_id);

CREATE TABLE payrun_rejected (
    batch_id text NOT NULL,
    "row"    integer NOT NULL,
    body     json NOT NULL,
    PRIMARY KEY (batch_id, "row")
);

-- A provider event is stored once, under the provider's own id; its fact
-- (what the receiver read of it) is kept with it.
CREATE TABLE payrun_events (
    provider    text NOT NULL,
    event_id    text NOT NULL,
    payout_id   text NOT NULL,
    type        text NOT NULL,
    replay_keys text[] NOT NULL,
    fact        json NOT NULL,
    body        bytea NOT NULL,
    PRIMARY KEY (provider, event_id)
);

-- Persisted events waiting for ApplyQueued, in the order persisted.
CREATE TABLE payrun_event_queue (
    seq      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider text NOT NULL,
    event_id text NOT NULL,
    FOREIGN KEY (provider, event_id) REFERENCES payrun_events
);

-- What became of an event: its fact once applied or judged.
CREATE TABLE payrun_event_facts (
    provider text NOT NULL,
    event_id text NOT NULL,
    fact     json NOT NULL,
    PRIMARY KEY (provider, event_id),
    FOREIGN KEY (provider, event_id) REFERENCES payrun_events
);

CREATE TABLE payrun_mail (
    id       text PRIMARY KEY,
    queued   timestamptz NOT NULL,
    sent     timestamptz,
    tries    integer NOT NULL DEFAULT 0,
    last_err text NOT NULL DEFAULT '',
    eml      bytea NOT NULL
);

CREATE TABLE payrun_marks (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- Persist of a group of receipts in one statement, and so one implicit
-- transaction, one round trip and one commit (the driver's group commit,
-- persist.go). receipts[i] is the receipt of event i (1-based, events of a
-- receipt together, in order); one row per receipt comes back, in order.
-- Each new event is stored and queued; a duplicate delivery keeps its new
-- replay key; a receipt whose first event already holds its replay key is
-- a replay and keeps nothing (its first event is judged before any of it
-- is written). Every statement of a plpgsql function takes a new snapshot
-- under READ COMMITTED, so a delivery racing another of the same event on
-- another node sees it once its INSERT ... ON CONFLICT has waited for the
-- other's commit.
CREATE FUNCTION payrun_persist(replay_keys text[], receipts integer[], providers text[], ids text[], payouts text[],
                               types text[], facts json[], bodies bytea[])
RETURNS TABLE (replay boolean, fresh integer)
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    r integer;
    first boolean;
    key text;
    replays boolean[] := array_fill(false, ARRAY[coalesce(array_length(replay_keys, 1), 0)]);
    counts integer[] := array_fill(0, ARRAY[coalesce(array_length(replay_keys, 1), 0)]);
BEGIN
    FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP
        r := receipts[i];
        CONTINUE WHEN replays[r];
        first := i = 1 OR receipts[i - 1] <> r;
        key := CASE WHEN first THEN replay_keys[r] ELSE '' END;
        INSERT INTO payrun_events (provider, event_id, payout_id, type, replay_keys, fact, body)
        VALUES (providers[i], ids[i], payouts[i], types[i],
                CASE WHEN key <> '' THEN ARRAY[key] ELSE '{}'::text[] END, facts[i], bodies[i])
        ON CONFLICT (provider, event_id) DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 1 THEN
            INSERT INTO payrun_event_queue (provider, event_id) VALUES (providers[i], ids[i]);
            counts[r] := counts[r] + 1;
        ELSIF key <> '' THEN
            UPDATE payrun_events SET replay_keys = payrun_events.replay_keys || key
             WHERE provider = providers[i] AND event_id = ids[i] AND NOT (key = ANY (payrun_events.replay_keys));
            GET DIAGNOSTICS n = ROW_COUNT;
            IF n = 0 THEN
                replays[r] := true;
                counts[r] := 0;
            END IF;
        END IF;
    END LOOP;
    RETURN QUERY SELECT u.r, u.c FROM unnest(replays, counts) WITH ORDINALITY AS u(r, c, o) ORDER BY u.o;
END
$$;
