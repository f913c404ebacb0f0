package main

import (
	"fmt"
	"io"

	"github.com/payrun/payrun/money"
	"github.com/payrun/payrun/reconcile"
)

// printReconciliation prints the categories and the tie-out per currency
// and provider, amounts exact.
func printReconciliation(w io.Writer, res *reconcile.Result) {
	fmt.Fprintf(w, "Reconciliation of %s (%s)\n", res.Scope, plural(res.LineCount, "row"))
	fmt.Fprintf(w, "  %-8s %-12s %-30s %6s %18s %12s\n", "currency", "provider", "category", "count", "amount", "fees")
	for _, t := range res.Totals {
		fmt.Fprintf(w, "  %-8s %-12s %-30s %6d %18s %12s\n", t.Currency, t.Provider, t.Category.Label(), t.Count,
			amount(t.Amount, t.Currency), amount(t.Fees, t.Currency))
	}
	fmt.Fprintf(w, "  Tie-out:\n  %-8s %-12s %18s %18s %14s\n", "currency", "provider", "input total", "sum of categories", "difference")
	for _, t := range res.TieOut {
		if t.CountsOnly {
			// Rows never sent tie by count (reconcile.TieOut).
			fmt.Fprintf(w, "  %-8s %-12s %18s %18s %14d\n", "", t.Provider, plural(t.InputCount, "row"),
				plural(t.CategoriesCount, "row"), t.InputCount-t.CategoriesCount)
			continue
		}
		fmt.Fprintf(w, "  %-8s %-12s %18s %18s %14s\n", t.Currency, t.Provider, amount(t.InputAmount, t.Currency),
			amount(t.CategoriesAmount, t.Currency), amount(t.Difference, t.Currency))
	}
	if res.Balanced() {
		fmt.Fprintln(w, "  Every currency and provider ties out: difference 0.")
	} else {
		fmt.Fprintln(w, "  DOES NOT TIE OUT: see the differences above.")
	}
}

func amount(minor int64, currency string) string {
	cur, _ := money.Lookup(currency)
	return money.FormatMinor(minor, cur.Exponent)
}
