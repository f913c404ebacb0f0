package all

import (
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/bank131"
	"github.com/payrun/payrun/providers/monnet"
	"github.com/payrun/payrun/providers/teemopay"
)

// Registrations returns every provider payrun can talk to, each with its
// rules on a payout file's rows.
func Registrations() []providers.Registration {
	return []providers.Registration{
		withRules(monnet.Registration(), monnet.Rules()),
		withRules(teemopay.Registration(), teemopay.Rules()),
		withRules(bank131.Bank131Registration(), bank131.Bank131Rules()),
		withRules(bank131.SmartGlocalRegistration(), bank131.SmartGlocalRules()),
	}
}

// withRules gives a registration its provider's rules (each provider's
// rules.go), where its Registration function does not set them itself.
func withRules(r providers.Registration, rules providers.Rules) providers.Registration {
	if r.Rules.Methods == nil {
		r.Rules = rules
	}
	return r
}

// Names returns the names of every registration, in list order.
func Names() []string {
	regs := Registrations()
	out := make([]string, len(regs))
	for i, r := range regs {
		out[i] = r.Name
	}
	return out
}
