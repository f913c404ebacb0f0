package all_test

import (
	"fmt"

	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/all"
)

// Everything payrun knows about a provider is in its registration: its
// name, its rules on a payout file's rows (per method), how to build a
// client from configuration, and its sandbox. Adding a provider is a
// package with a Registration() and one line in all.Registrations.
func ExampleRegistrations() {
	for _, reg := range all.Registrations() {
		var methods []providers.Method
		for _, m := range providers.Methods {
			if _, ok := reg.Rules.Methods[m]; ok {
				methods = append(methods, m)
			}
		}
		fmt.Println(reg.Name, methods, reg.Rules.Currencies)
	}
	// Output:
	// monnet [bank_transfer wallet card_push payment_link] [PEN USD]
	// teemopay [bank_transfer wallet] [PEN]
	// bank131 [card_token] [RUB USD EUR]
	// smartglocal [card_token] [USD EUR RUB]
}
