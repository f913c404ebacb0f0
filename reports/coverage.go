package reports

import (
	"fmt"
	"strings"

	"github.com/payrun/payrun/reconcile"
)

// coverage is what a report covers, as its title block and its email
// subject say it: the period, the batches and their files, and the open
// items carried forward from before.
type coverage struct {
	// Period is short, for the subject: "2026-11-21", "batch B…",
	// "open items at 2026-11-21 07:00".
	Period string
	// PeriodText says what the period holds, for the title block.
	PeriodText string
	// Batches and Files list the batches of the period and their input
	// files (at most maxListed of each, then "and N more").
	Batches, Files string
	// Carried says which open items come from before ("" when none and
	// the scope carries nothing).
	Carried string
	// Subject is the part of the subject after "Reconciliation ".
	Subject string
}

// maxListed bounds the batches and files named in a title block; the
// Details sheet has every one.
const maxListed = 20

// maxSubjectFiles bounds the files named in a subject.
const maxSubjectFiles = 3

func coverageOf(meta Meta, res *reconcile.Result) coverage {
	s := meta.Scope
	if s == (reconcile.Scope{}) && len(meta.BatchIDs) == 1 {
		s.BatchID = meta.BatchIDs[0] // a Meta made without its scope: a one-batch report
	}
	names := meta.Files
	if len(names) == 0 && meta.File != "" {
		names = []string{meta.File}
	}
	files := make([]string, len(names))
	for i, f := range names {
		files[i] = MaskCards(f)
	}
	n := len(meta.BatchIDs)
	var c coverage
	switch {
	case s.BatchID != "":
		c.Period = "batch " + s.BatchID
		c.PeriodText = c.Period
	case s.Date != "":
		c.Period = s.Date
		c.PeriodText = s.Date + ": the batches received that day"
		if s.Open {
			c.PeriodText += ", and every item still open from before"
		}
	case s.Open:
		c.Period = "open items at " + meta.RunAt.In(meta.loc()).Format("2006-01-02 15:04")
		c.PeriodText = "every item still open at " + meta.RunAt.In(meta.loc()).Format("2006-01-02 15:04")
	default:
		c.Period = "of every batch"
		c.PeriodText = "every batch"
	}
	c.Batches = listed(meta.BatchIDs, maxListed)
	if n == 0 {
		c.Batches = "none"
		if s.Date != "" {
			c.Batches = "none received that day"
		}
	}
	c.Files = listed(files, maxListed)
	if res.Carried > 0 {
		from := "before"
		if s.Date == "" {
			from = "any day"
		}
		c.Carried = fmt.Sprintf("%s from %s received %s: %s", count(res.Carried, "open item"),
			count(len(res.CarriedBatches), "batch"), from, listed(res.CarriedBatches, maxListed))
	} else if s.Open {
		c.Carried = "none: nothing was open from before"
	}

	var parts []string
	switch {
	case s.BatchID != "" && len(files) == 1:
		parts = append(parts, files[0])
	case n > 0:
		parts = append(parts, count(n, "batch")+": "+listed(files, maxSubjectFiles))
	case s.Date != "":
		parts = append(parts, "no batch received")
	}
	if res.Carried > 0 {
		what := count(res.Carried, "open item")
		if s.Date != "" || n > 0 {
			what += " from before"
		}
		parts = append(parts, what)
	}
	c.Subject = c.Period
	if len(parts) > 0 {
		c.Subject += " (" + strings.Join(parts, "; ") + ")"
	}
	return c
}

// listed joins at most max names, then says how many more there are.
func listed(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

// count is a number with its noun in the number it takes: "1 batch",
// "2 batches", "1 exception".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	switch {
	case strings.HasSuffix(noun, "ch"), strings.HasSuffix(noun, "s"), strings.HasSuffix(noun, "x"):
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
