package app

import (
	"errors"
	"testing"
)

// TestParseApprovalTotals: an approvals file names amounts per currency,
// as the pre-flight message shows them, or nothing; anything else is
// refused, not guessed.
func TestParseApprovalTotals(t *testing.T) {
	seen, err := ParseApprovalTotals([]byte("# approved by the treasurer\nPEN 12,500.00\n\nusd 10.5\n"))
	if err != nil || len(seen.Totals) != 2 || seen.Totals[0].Currency != "PEN" || seen.Totals[0].Amount != 1_250_000 ||
		seen.Totals[1].Currency != "USD" || seen.Totals[1].Amount != 1050 {
		t.Fatalf("totals: %+v %v", seen, err)
	}
	if seen, err := ParseApprovalTotals([]byte("\n# nothing\n")); err != nil || seen != nil {
		t.Fatalf("an empty file: %+v %v", seen, err)
	}
	for _, bad := range []string{"PEN", "PEN 1.005", "XXX 1.00", "PEN 1.00\nPEN 2.00", "PEN 1.00 3 payouts"} {
		if _, err := ParseApprovalTotals([]byte(bad)); !errors.Is(err, errBadApprovalFile) {
			t.Errorf("%q: %v, want refused", bad, err)
		}
	}
}
