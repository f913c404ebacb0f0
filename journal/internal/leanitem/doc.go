// Package leanitem is the stored shape of a journal item's payout,
// references and last status, shared by the drivers: the same JSON
// without what the item repeats (the payout's id when it is the
// payout_id, the references' payout_id and method when they are the
// item's, the last status's references when they are the item's). A paid
// item is a quarter smaller, and a million of them are read end to end by
// the matcher.
//
// It owns only that shape. It imports journal and providers, nothing
// else of payrun.
package leanitem
