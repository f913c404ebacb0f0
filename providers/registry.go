package providers

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/payrun/payrun/providers/sandboxkit"
)

// Deps are what a client needs from its host process.
type Deps struct {
	// HTTP is the client used for requests; its timeout bounds every call.
	HTTP *http.Client
	// Now is the clock (nil means time.Now); signatures and timestamps use it.
	Now func() time.Time
}

// Registration describes one provider: its name, what it can do, what it
// accepts in a payout file and how to build a client from configuration.
// The list of registrations is explicit (see package providers/all);
// nothing registers itself.
type Registration struct {
	Name        string
	Description string
	// Rules are the provider's rules on a payout file's rows, per method.
	Rules Rules
	New   func(cfg Config, deps Deps) (Provider, error)
	// Sandbox builds the provider's stand-in server (for the demo, `payrun
	// sandbox` and tests), with fresh credentials.
	Sandbox func(SandboxSpec) (Sandbox, error)
}

// SandboxSpec is what every sandbox is built with.
type SandboxSpec struct {
	// Name is the registration's (one sandbox package may serve two).
	Name string
	// Seed makes faults repeatable.
	Seed uint64
	// ProcessingDelay is how long payouts stay in progress (sandbox time).
	ProcessingDelay time.Duration
}

// Sandbox is a provider's stand-in server.
type Sandbox interface {
	http.Handler
	// Kit is its ledger, clock and fault knobs.
	Kit() *sandboxkit.Kit
	// SetWebhookURL is where it sends notifications.
	SetWebhookURL(string)
	// WriteCredentials writes the keys a client needs under dir and
	// returns the client configuration pointing at baseURL, its secrets
	// as absolute file: references (a relative one is read from the
	// working directory, and the configuration must work from any).
	WriteCredentials(dir, baseURL string) (Config, error)
	Close()
}

// Lookup finds a registration by name.
func Lookup(regs []Registration, name string) (Registration, error) {
	for _, r := range regs {
		if r.Name == name {
			return r, nil
		}
	}
	names := make([]string, 0, len(regs))
	for _, r := range regs {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	return Registration{}, fmt.Errorf("unknown provider %q (known: %s)", name, strings.Join(names, ", "))
}
