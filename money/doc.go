// Package money holds exact amounts: integer minor units plus an ISO 4217
// currency whose exponent says where the decimal point sits.
//
// It is a leaf package (it imports nothing of payrun's) so that the
// provider contract and clients (package providers), the payout file
// domain (package batch) and everything above them speak in the same exact
// amounts. There are no floats anywhere in it.
//
//	m, err := money.Parse("1500.50", "PEN") // Money{Minor: 150050, Currency: "PEN"}
//	s := m.String()                          // "1500.50 PEN"
package money
