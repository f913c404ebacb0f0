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
		monnet.Registration(),
		teemopay.Registration(),
		bank131.Bank131Registration(),
		bank131.SmartGlocalRegistration(),
	}
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
