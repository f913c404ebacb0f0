package reconcile

import (
	"github.com/payrun/payrun/providers"
	"github.com/payrun/payrun/providers/monnet"
	monnetsandbox "github.com/payrun/payrun/providers/monnet/sandbox"
)

// monnetClient returns a Monnet client with fresh sandbox credentials
// (written under dir) pointed at baseURL, and the credentials, to sign
// notifications as Monnet would. The sandbox package no longer builds
// clients: it must not depend on the client it checks.
func monnetClient(dir, baseURL string) (providers.Provider, monnetsandbox.Credentials, error) {
	creds, err := monnetsandbox.NewCredentials()
	if err != nil {
		return nil, creds, err
	}
	cfg, err := creds.WriteFiles(dir, baseURL)
	if err != nil {
		return nil, creds, err
	}
	p, err := monnet.New(cfg, providers.Deps{})
	return p, creds, err
}
