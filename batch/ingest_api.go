package batch

import "github.com/payrun/payrun/providers"

// What the journal's Ingest needs of the file domain: it reads and
// validates a file row by row as ValidateFile does, but finds repeated
// payout_ids in the journal rather than in memory, so that its memory does
// not grow with the file.

// CheckRow validates one row on its own: unlike Check, it neither counts
// the row nor remembers its payout_id.
func (v *Validator) CheckRow(src Source, r Row) (providers.Payout, string, []RowError) {
	return v.check(src, r)
}

// RepeatErrors returns the error of every row carrying a payout_id that a
// file repeats (repeats maps each to all its rows, in file order), as
// Finish reports them.
func RepeatErrors(file, sheet string, repeats map[string][]int) []RowError {
	return repeatErrors(file, sheet, repeats)
}

// HeaderReport is the report on a file whose header cannot be used, as
// ValidateFile makes it.
func HeaderReport(path string, he *HeaderError) *Report { return headerReport(path, he) }

// Add adds errors to the report, keeping at most MaxErrors.
func (rep *Report) Add(errs ...RowError) { rep.add(errs...) }
