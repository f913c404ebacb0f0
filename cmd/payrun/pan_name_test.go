package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCardNumberInFileNameValidate: validate refuses a file whose name
// holds a card number, and neither its table nor its --json answer shows
// the number.
func TestCardNumberInFileNameValidate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "payouts-4111111111111111.csv")
	if err := os.WriteFile(p, []byte("payout_id,provider,method,country,currency,amount\nP-1,monnet,bank_transfer,PE,PEN,10.00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"validate", p}, {"validate", "--json", p}} {
		code, out, errOut := runCLI(t, args...)
		if code != exitInvalid || !strings.Contains(out, "holds a card number") {
			t.Errorf("%q: exit %d\n%s%s", args, code, out, errOut)
		}
		if strings.Contains(out+errOut, "4111111111111111") {
			t.Errorf("%q shows the card number:\n%s%s", args, out, errOut)
		}
	}
}
