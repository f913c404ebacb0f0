-- payrun journal, schema 2: several payrun processes (nodes) on one
-- database. Leases are kept by the server's clock (clock_timestamp()), so
-- that nodes whose clocks differ agree on when one has lapsed.

-- An item in flight (sending, confirming) is held by the node that moved
-- it there; '' for none (or an item written before this schema).
ALTER TABLE payrun_items ADD COLUMN holder text NOT NULL DEFAULT '';
-- What a node holds, found by holder (takeover, the nodes' status).
CREATE INDEX payrun_items_in_flight ON payrun_items (holder) WHERE state IN ('sending', 'confirming');
-- The queue a node claims from, in the order of the rows of each batch.
CREATE INDEX payrun_items_queued ON payrun_items (provider, batch_id, "row") WHERE state = 'queued';

-- The nodes: one row per run of a payrun process, renewed while it lives.
-- A lapsed node's items are taken over once lease_until + grace (the
-- longest a request it started may still be out) has passed.
CREATE TABLE payrun_nodes (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    host        text NOT NULL,
    -- host_key tells machines apart (the host name, the boot and the
    -- process-id namespace): a pid means something on its own machine only.
    host_key    text NOT NULL,
    pid         integer NOT NULL,
    role        text NOT NULL,
    addr        text NOT NULL DEFAULT '',
    version     text NOT NULL DEFAULT '',
    started     timestamptz NOT NULL,
    renewed     timestamptz NOT NULL,
    lease_until timestamptz NOT NULL,
    grace       interval NOT NULL
);

-- Who leads each role (the schedules and the intake of a shared inbox),
-- until when.
CREATE TABLE payrun_leaders (
    role  text PRIMARY KEY,
    node  text NOT NULL,
    until timestamptz NOT NULL
);

-- Each provider's rate budget, shared by the nodes: a token bucket the
-- dispatcher changes in one short transaction (journal.Budget, as JSON).
CREATE TABLE payrun_budgets (
    provider text PRIMARY KEY,
    budget   json NOT NULL
);

-- Wake-ups: a node listening on payrun_events applies webhook events
-- another node acknowledged; one listening on payrun_work claims payouts
-- queued by another. A notification is delivered when its transaction
-- commits, once per transaction and channel.
CREATE FUNCTION payrun_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END
$$;
CREATE TRIGGER payrun_event_queue_notify AFTER INSERT ON payrun_event_queue
    FOR EACH STATEMENT EXECUTE FUNCTION payrun_notify('payrun_events');
CREATE TRIGGER payrun_items_queued_notify AFTER UPDATE OF state ON payrun_items
    FOR EACH ROW WHEN (NEW.state = 'queued' AND OLD.state <> 'queued') EXECUTE FUNCTION payrun_notify('payrun_work');
