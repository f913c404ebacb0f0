package main

import (
	"github.com/payrun/payrun/batch"
	"github.com/payrun/payrun/reconcile"
	"github.com/payrun/payrun/reports"
)

// annotate writes the batch's input file back in its own format with the
// status columns appended.
func annotate(dst, src, batchID string, res *reconcile.Result, ro batch.ReadOptions, o reports.Options) error {
	var lines []reconcile.Line
	for _, l := range res.Lines {
		if l.BatchID == batchID && l.Row > 0 {
			lines = append(lines, l)
		}
	}
	return reports.WriteAnnotated(dst, src, ro, reports.LinesByRow(lines, ""), o)
}
