// Package all is the one visible list of the providers payrun knows. A
// provider is added here, by hand, and nowhere else: nothing registers
// itself from an init function.
package all
