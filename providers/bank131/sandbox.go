package bank131

import (
	"github.com/payrun/payrun/providers"
	b131sandbox "github.com/payrun/payrun/providers/bank131/sandbox"
)

// newSandbox builds the sandbox of the registration (Bank 131 or Smart
// Glocal), with fresh credentials.
func newSandbox(spec providers.SandboxSpec) (providers.Sandbox, error) {
	c, err := b131sandbox.NewCredentials()
	if err != nil {
		return nil, err
	}
	sb := b131sandbox.New(b131sandbox.Options{Name: spec.Name, Seed: spec.Seed, ProcessingDelay: spec.ProcessingDelay, Credentials: c})
	return sandboxWithCredentials{sb, c}, nil
}

// sandboxWithCredentials is a sandbox that writes its clients' keys.
type sandboxWithCredentials struct {
	*b131sandbox.Sandbox
	creds b131sandbox.Credentials
}

func (s sandboxWithCredentials) WriteCredentials(dir, baseURL string) (providers.Config, error) {
	return s.creds.WriteFiles(dir, baseURL)
}
