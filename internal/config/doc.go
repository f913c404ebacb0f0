// Package config loads payrun's YAML configuration, fills defaults and
// checks it, listing every problem at once (Error). Secrets are never
// values in the file: every secret field is a reference, "env:NAME" or
// "file:PATH", resolved by providers.Secret when a client is built.
//
// It imports the providers' contract (providers.Config, secret references)
// and money; nothing of batch, the journal or anything above it.
//
//	cfg, err := config.Load("payrun.yaml") // or config.Default() with no file
package config
