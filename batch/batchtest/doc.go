// Package batchtest helps tests that need a journal: a fresh one in
// t.TempDir(), checked with bbolt's consistency check when the test ends,
// and small builders of batches and items.
package batchtest
