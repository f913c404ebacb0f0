package config

import (
	"strings"
	"testing"
)

// TestCardNumbersInEmailText: text payrun writes into every email (the
// subject prefix, the payer's name, the beneficiary subject, the
// addresses) is refused when it holds a card number, and no problem
// quotes the number.
func TestCardNumbersInEmailText(t *testing.T) {
	c := Default()
	c.Reports.SubjectPrefix = "[payrun 5555 5555 5555 4444]"
	c.Reports.Payer = "ACME 378282246310005"
	c.Reports.BeneficiarySubject = "Pago 6011-1111-1111-1117 {{.PayoutID}}"
	c.Reports.From = "4111111111111111@example.com"
	c.Reports.To = []string{"ok@example.com", "4111 1111 1111 1111"}
	c.Reports.Operators = []string{"ops+4000056655665556@example.com"}
	probs := c.Problems()
	all := strings.Join(probs, "\n")
	for _, key := range []string{"reports.subject_prefix", "reports.payer", "reports.beneficiary_subject", "reports.from", "reports.to[1]", "reports.operators[0]"} {
		if !strings.Contains(all, key+": holds a card number") {
			t.Errorf("no problem for %s:\n%s", key, all)
		}
	}
	flat := strings.NewReplacer(" ", "", "-", "").Replace(all)
	for _, n := range []string{"5555555555554444", "378282246310005", "6011111111111117", "4111111111111111", "4000056655665556"} {
		if strings.Contains(flat, n) {
			t.Errorf("a problem quotes %s:\n%s", n, all)
		}
	}
	if strings.Contains(strings.Join(Default().Problems(), "\n"), "card number") {
		t.Error("the defaults hold a card number")
	}
}
