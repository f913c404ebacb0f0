package drivers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
	"github.com/payrun/payrun/journal/pgjournal"
	"github.com/payrun/payrun/providers"
)

// Options configure Open.
type Options struct {
	// Now is the journal's clock (nil: time.Now).
	Now func() time.Time
	// ReadOnly opens for reading only.
	ReadOnly bool
	// Node says how the process takes part in the cluster of a shared
	// journal (journal.Cluster); an embedded journal ignores it.
	Node journal.NodeOptions
}

// IsPostgres reports whether a location names a PostgreSQL database: a
// postgres:// URL, or a secret reference (env:NAME, file:PATH) holding
// one, decided on what the reference holds as Open reads it, never on the
// reference's own text. A reference that cannot be read is not taken for
// one (Open says why it cannot be opened).
func IsPostgres(location string) bool {
	if loc, err := Resolve(location); err == nil {
		location = loc
	}
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Resolve returns the location a secret reference (env:NAME, file:PATH)
// names, or location itself when it is none.
func Resolve(location string) (string, error) {
	if !providers.IsSecretRef(location) {
		return location, nil
	}
	v, err := providers.Secret(location)
	if err != nil {
		return "", fmt.Errorf("journal location %s: %w", location, err)
	}
	return strings.TrimSpace(string(v)), nil
}

// Open opens the journal at location.
func Open(ctx context.Context, location string, o Options) (journal.Journal, error) {
	if location == "" {
		return nil, fmt.Errorf("no journal location")
	}
	location, err := Resolve(location)
	if err != nil {
		return nil, err
	}
	if IsPostgres(location) {
		return pgjournal.Open(ctx, location, pgjournal.Options{Now: o.Now, ReadOnly: o.ReadOnly, Node: o.Node})
	}
	return boltjournal.Open(location, boltjournal.Options{Now: o.Now, ReadOnly: o.ReadOnly})
}
