package reports

import (
	"strings"
	"testing"
)

// TestBeneficiaryTemplateCardNumber: a beneficiary email template (body or
// subject) holding a card number is refused, without quoting it: every
// beneficiary email would carry it.
func TestBeneficiaryTemplateCardNumber(t *testing.T) {
	for _, tc := range []struct{ subject, body string }{
		{"Pago 6011-1111-1111-1117 {{.PayoutID}}", ""},
		{"", "Hola {{.Beneficiary}}, tarjeta 4111 1111 1111 1111: {{.URL}}"},
	} {
		_, err := ParseBeneficiaryTemplates(tc.subject, tc.body)
		if err == nil || !strings.Contains(err.Error(), "card number") {
			t.Errorf("%q / %q: %v", tc.subject, tc.body, err)
			continue
		}
		if strings.Contains(strings.NewReplacer(" ", "", "-", "").Replace(err.Error()), "1111111111") {
			t.Errorf("the error quotes the number: %v", err)
		}
	}
	if _, err := ParseBeneficiaryTemplates("", ""); err != nil {
		t.Fatalf("the built-in templates: %v", err)
	}
}
