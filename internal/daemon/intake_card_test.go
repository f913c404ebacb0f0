package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntakeCardNumberInAFileName: a file whose name holds a card number
// goes by that name with the number masked from the moment it is taken:
// Handle (and so the journal and the reports) sees the masked name, and
// what is left in processing/, archive/ and rejected/, the report beside
// a rejected file included, never holds the number.
func TestIntakeCardNumberInAFileName(t *testing.T) {
	for _, result := range []Result{Accepted, Rejected} {
		in, b := setupIntake(t)
		in.StableFor = 0
		b.outcome = func(string) (Outcome, error) {
			return Outcome{Result: result, BatchID: "B1", Done: true, Reason: "1 invalid row"}, nil
		}
		writeFile(t, filepath.Join(in.Inbox, "payouts 4111 1111 1111 1111.csv"), "x")
		if n := runOnce(t, in); n != 1 {
			t.Fatalf("%s: taken %d", result, n)
		}
		clean := func(what, s string) {
			if strings.Contains(strings.ReplaceAll(s, " ", ""), "4111111111111111") {
				t.Errorf("%s: %s holds the card number: %q", result, what, s)
			}
		}
		for _, p := range b.calls() {
			clean("the path handled", p)
		}
		files := listFiles(t, b.root)
		if len(files) == 0 {
			t.Fatalf("%s: no file left", result)
		}
		for _, f := range files {
			clean("a file's name", f)
			raw, err := os.ReadFile(filepath.Join(b.root, f))
			if err != nil {
				t.Fatal(err)
			}
			clean(f, string(raw))
		}
	}
}
