package pgjournal

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// MarkNewer records a migration this payrun does not know, as a newer
// payrun would.
func MarkNewer(ctx context.Context, j *Journal) error {
	_, err := j.pool.Exec(ctx, `INSERT INTO payrun_schema (version, name) VALUES ($1, 'from_the_future')`, SchemaVersion()+1)
	return err
}

// OpenPredicate is openPredicate, for the test that holds it to the graph.
const OpenPredicate = openPredicate

// Conn is a connection of the journal's pool, for tests that look at the
// database itself.
func (j *Journal) Conn(ctx context.Context) (*pgxpool.Conn, error) { return j.pool.Acquire(ctx) }
