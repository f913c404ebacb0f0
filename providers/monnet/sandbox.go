package monnet

import (
	"github.com/payrun/payrun/providers"
	monnetsandbox "github.com/payrun/payrun/providers/monnet/sandbox"
)

// newSandbox builds the sandbox of the registration, with fresh
// credentials.
func newSandbox(spec providers.SandboxSpec) (providers.Sandbox, error) {
	c, err := monnetsandbox.NewCredentials()
	if err != nil {
		return nil, err
	}
	return sandboxWithCredentials{monnetsandbox.New(monnetsandbox.Options{Seed: spec.Seed, ProcessingDelay: spec.ProcessingDelay, Credentials: c}), c}, nil
}

// sandboxWithCredentials is a sandbox that writes its clients' keys.
type sandboxWithCredentials struct {
	*monnetsandbox.Sandbox
	creds monnetsandbox.Credentials
}

func (s sandboxWithCredentials) WriteCredentials(dir, baseURL string) (providers.Config, error) {
	return s.creds.WriteFiles(dir, baseURL)
}
