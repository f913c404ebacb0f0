package teemopay

import (
	"github.com/payrun/payrun/providers"
	teemosandbox "github.com/payrun/payrun/providers/teemopay/sandbox"
)

// newSandbox builds the sandbox of the registration, with fresh
// credentials.
func newSandbox(spec providers.SandboxSpec) (providers.Sandbox, error) {
	c, err := teemosandbox.NewCredentials()
	if err != nil {
		return nil, err
	}
	return sandboxWithCredentials{teemosandbox.New(teemosandbox.Options{Seed: spec.Seed, ProcessingDelay: spec.ProcessingDelay, Credentials: c}), c}, nil
}

// sandboxWithCredentials is a sandbox that writes its clients' keys.
type sandboxWithCredentials struct {
	*teemosandbox.Sandbox
	creds teemosandbox.Credentials
}

func (s sandboxWithCredentials) WriteCredentials(dir, baseURL string) (providers.Config, error) {
	return s.creds.WriteFiles(dir, baseURL)
}
