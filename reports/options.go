package reports

import (
	"time"

	"github.com/payrun/payrun/reconcile"
)

// Meta is the title block of every report: which batches, which file, when
// the reconciliation ran and in which time zone times are shown.
type Meta struct {
	// Scope is what was reconciled: its period heads the report.
	Scope    reconcile.Scope
	BatchIDs []string
	// Files are the input files of BatchIDs, in the same order; File is
	// the one file of a one-batch report (used when Files is empty).
	Files []string
	File  string
	RunAt time.Time
	// Location is the time zone of every time in the reports (the
	// deployment's, e.g. America/Lima); nil means UTC.
	Location *time.Location
}

func (m Meta) loc() *time.Location {
	if m.Location == nil {
		return time.UTC
	}
	return m.Location
}

// zoneName is the time zone as the title block shows it.
func (m Meta) zoneName() string { return m.loc().String() }

// runAt is the run time in the report's zone, "2006-01-02 15:04:05 -07:00".
func (m Meta) runAt() string {
	if m.RunAt.IsZero() {
		return ""
	}
	return m.RunAt.In(m.loc()).Format("2006-01-02 15:04:05 -07:00")
}

// formatTime shows a line's time in the report's zone; zero is empty.
func (m Meta) formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(m.loc()).Format("2006-01-02 15:04:05")
}

// Options change what the reports show. The zero value is the safe default.
type Options struct {
	// Unmasked shows account and document numbers, and beneficiaries'
	// links, in full. The default (false) masks the numbers to their last
	// four characters and cuts the links' tokens (MaskLink), as
	// config.Reports.Mask=true asks: pass Unmasked: !cfg.Reports.Mask.
	// Card numbers are masked regardless.
	Unmasked bool
}
