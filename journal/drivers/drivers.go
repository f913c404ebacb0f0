package drivers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/payrun/payrun/journal"
	"github.com/payrun/payrun/journal/boltjournal"
)

// Options configure Open.
type Options struct {
	// Now is the journal's clock (nil: time.Now).
	Now func() time.Time
	// ReadOnly opens for reading only.
	ReadOnly bool
}

// IsPostgres reports whether a location names a PostgreSQL database.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// Open opens the journal at location.
func Open(ctx context.Context, location string, o Options) (journal.Journal, error) {
	if location == "" {
		return nil, fmt.Errorf("no journal location")
	}
	if IsPostgres(location) {
		return nil, fmt.Errorf("journal %s: the PostgreSQL driver is not built into this payrun", journal.Redact(location))
	}
	return boltjournal.Open(location, boltjournal.Options{Now: o.Now, ReadOnly: o.ReadOnly})
}
