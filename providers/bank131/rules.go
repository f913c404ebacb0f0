package bank131

import "github.com/payrun/payrun/providers"

// Bank131Rules and SmartGlocalRules are what the two providers accept in a
// payout file: card_token rows only, naming the recipient (name or last
// name), with either the card's token (the 64-character hash their widget
// issues) or the beneficiary's email: a row without a token is a card
// collection, whose beneficiary gives the card on payrun's page through
// the provider's widget (collect.go). No country, since a card names its
// own.
func Bank131Rules() providers.Rules {
	return cardRules("Bank 131", []string{"RUB", "USD", "EUR"})
}

// SmartGlocalRules: see Bank131Rules.
func SmartGlocalRules() providers.Rules {
	return cardRules("Smart Glocal", []string{"USD", "EUR", "RUB"})
}

func cardRules(label string, currencies []string) providers.Rules {
	return providers.Rules{
		Label: label,
		Methods: map[providers.Method]providers.MethodRules{
			providers.CardToken: {Required: [][]string{
				{providers.ColumnBeneficiaryName, providers.ColumnBeneficiaryLastName},
				{providers.ColumnCardToken, providers.ColumnEmail},
			}},
		},
		Currencies: currencies,
		CardToken:  providers.TokenHex64,
	}
}

// rulesOf is the rules of the registration named name.
func rulesOf(name string) providers.Rules {
	if name == NameSmartGlocal {
		return SmartGlocalRules()
	}
	return Bank131Rules()
}
