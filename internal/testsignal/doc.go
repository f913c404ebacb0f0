// Package testsignal lets tests wait for something a service did, instead
// of sleeping: a service calls Signal at the moment that matters, which
// costs nothing unless a test called Init first, and the test waits for
// it. (The idea is river's internal/testsignal.)
//
// It imports nothing of payrun's.
package testsignal
