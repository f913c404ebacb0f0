// Package layering holds the test that keeps the direction of payrun's
// imports: each package may import only the floors below it
// (docs/ARCHITECTURE.md draws them). It has no code of its own.
package layering
