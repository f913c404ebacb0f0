package batch_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/payrun/payrun/batch"
)

// Reading a payout file row by row, as the journal's ingest does, and
// checking each row against its provider's rules.
func ExampleOpenFile() {
	rd, err := batch.OpenFile("testdata/clean.csv", batch.ReadOptions{})
	if err != nil {
		fmt.Println(err) // not a payout file at all: missing, too large, no usable header
		return
	}
	defer rd.Close()
	v := batch.NewValidator(batch.ValidateOptions{})
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var re *batch.RowError
		if errors.As(err, &re) {
			continue // an unreadable line: reported, the rest goes on
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		payout, provider, errs := v.Check(rd.Source(), row)
		if len(errs) == 0 && payout.ID == "PR-0001" {
			fmt.Println(payout.ID, provider, payout.Amount)
		}
	}
	rows, ok := v.Counts()
	fmt.Printf("%d rows, %d valid, %d repeated payout_ids\n", rows, ok, len(v.Finish()))
	// Output:
	// PR-0001 monnet 1500.50 PEN
	// 4 rows, 4 valid, 0 repeated payout_ids
}

// Every problem of a file, row by row, as `payrun validate` prints them.
func ExampleValidateFile() {
	rep, err := batch.ValidateFile("testdata/errors.csv", batch.ReadOptions{}, batch.ValidateOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := rep.Errors[0]
	fmt.Printf("%d rows, %d valid; first problem on row %d, column %s\n", rep.Rows, rep.ValidRows, e.Row, e.Column)
	// Output: 30 rows, 1 valid; first problem on row 2, column amount
}
