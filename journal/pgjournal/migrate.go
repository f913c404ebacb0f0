package pgjournal

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/payrun/payrun/journal"
)

// The schema is payrun's: migrations/NNN_name.sql, applied in order by
// Open, each recorded in payrun_schema. A migration is never edited once
// released; a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one file of migrations/.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the migrations this payrun carries, in order.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: the name must start with its version (001_...)", base)
		}
		raw, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(raw)})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].version < out[b].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema this payrun writes: its last migration.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

const createSchemaTable = `CREATE TABLE IF NOT EXISTS payrun_schema (
	version integer PRIMARY KEY,
	name    text NOT NULL,
	applied timestamptz NOT NULL DEFAULT now()
)`

// Migrate brings the database at dsn to this payrun's schema, as Open
// does, and closes its connection (tests prepare template databases so).
func Migrate(ctx context.Context, dsn string) error {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer pool.Close()
	return migrate(ctx, pool, journal.Redact(dsn))
}

// migrate applies the migrations the database lacks in one transaction,
// under an advisory lock so that payrun processes starting together
// migrate once: the second waits, then finds nothing to do. A database
// whose schema is newer than this payrun's is refused.
func migrate(ctx context.Context, pool *pgxpool.Pool, location string) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockMigrate); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createSchemaTable); err != nil {
			return err
		}
		have, err := appliedVersion(ctx, tx)
		if err != nil {
			return err
		}
		if have > len(ms) {
			return newer(location, have, len(ms))
		}
		for _, m := range ms[have:] {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %s (nothing changed): %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO payrun_schema (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return err
			}
		}
		return nil
	})
}

// appliedVersion is the last migration recorded in the database.
func appliedVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM payrun_schema`).Scan(&v)
	return v, err
}

// newer is the error for a database a newer payrun migrated.
func newer(location string, have, want int) error {
	return fmt.Errorf("%w: %s is at schema %d, this payrun knows up to %d; run the payrun that migrated it (or a newer one), never an older one", journal.ErrSchema, location, have, want)
}

// checkSchema, for a read-only journal, requires the schema this payrun
// writes: it migrates nothing.
func (j *Journal) checkSchema(ctx context.Context) error {
	var exists bool
	if err := j.pool.QueryRow(ctx, `SELECT to_regclass('payrun_schema') IS NOT NULL`).Scan(&exists); err != nil {
		return err
	}
	want := SchemaVersion()
	have := 0
	if exists {
		var err error
		if have, err = appliedVersion(ctx, j.pool); err != nil {
			return err
		}
	}
	switch {
	case have > want:
		return newer(j.location, have, want)
	case have < want:
		return fmt.Errorf("%w: %s is at schema %d, this payrun reads %d; open it once for writing (any payrun command, or the daemon), which migrates it", journal.ErrSchema, j.location, have, want)
	}
	return nil
}
