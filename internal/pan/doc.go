// Package pan finds card numbers (primary account numbers, PANs) in text
// and masks them, so that none is ever stored, logged or written into an
// output. PCI DSS forbids keeping cardholder data at rest; payrun only
// ever needs a provider's card token, so a card number anywhere is a
// mistake to refuse (a payout file) or to mask (a provider's payload).
//
// A card number is 13 to 19 digits, optionally grouped ("4111 1111 1111
// 1111", "4111-1111-1111-1111"), that passes the Luhn check and starts
// with a known issuer range (Visa, Mastercard, American Express, Discover,
// JCB, Diners, UnionPay, Maestro, Mir). Groups may be joined by up to
// three spaces or dashes of any kind: the no-break and narrow no-break
// spaces spreadsheets group digits with, tabs, line breaks inside a cell,
// en dashes; dots and slashes join groups of four digits or more
// ("4111.1111.1111.1111") but not amounts ("450.00 / 520.00"). JSON
// escapes are read as what they stand for ("\u00a0", "\u0034"). It
// must stand as a word of its own: digits glued to letters
// ("ref4111…", a hexadecimal token) are not read as a card, so that
// provider identifiers and card tokens are left alone.
//
// The package imports nothing of payrun's, so that every layer (the file
// reader, the journal, the webhook receiver) can use it.
//
// Example:
//
//	if ms := pan.Find(description); len(ms) > 0 {
//		return fmt.Errorf("description holds a card number (%s)", ms[0].Masked)
//	}
//	stored := pan.Scrub(webhookBody) // same length, card digits masked
package pan
