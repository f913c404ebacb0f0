// Package all is the one visible list of the providers payrun knows
// (Registrations, Names). A provider is added here, by hand, and nowhere
// else: nothing registers itself from an init function.
//
// It imports providers and each provider's client package (and so its
// sandbox); nothing of batch, the journal or anything above them. batch
// reads the providers' rules from it.
package all
