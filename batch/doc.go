// Package batch is payrun's payout file domain: it turns a finance team's
// payout file into validated payouts. Keeping them until each is paid
// exactly once is package journal's part.
//
// OpenFile reads a CSV (UTF-8 with or without a byte order mark, or
// Windows-1252 as Excel in Latin America saves it; ',', ';' or tab
// separated) or an XLSX sheet, row by row in constant memory, and matches
// its header to the canonical schema (CanonicalColumns) ignoring case,
// accents and the difference between spaces, hyphens and underscores, with
// the aliases a deployment configures.
// Values stay the text that was in the file: leading zeros of account and
// document numbers survive, and an amount is never read as a float.
//
// A Validator checks each Row against the schema and against the rules of
// its provider and method, declared as data in the provider's registration
// (providers.Rules, from providers/all: reference lengths, currencies,
// limits, required columns, document and account rules); a card number in
// any value is masked as the row is read and the row refused; Peru's
// identifiers are checked as Peru defines them (CCI and RUC by their check
// digits; DNI, CE, passport and phone by their shape). Every problem of a
// file is reported as a RowError with its row, column, value and reason,
// never only the first. ValidateFile does all of it for a whole file;
// journal.Ingest uses OpenFile and a Validator directly so that it reads
// the file once (with CheckRow and RepeatErrors: repeated payout_ids are
// found in the store, not in memory).
//
// It imports money, internal/pan and the providers' registrations
// (providers, providers/all); nothing of the journal or anything above it.
//
// Example:
//
//	rep, err := batch.ValidateFile("payouts.xlsx", batch.ReadOptions{MaxRows: 2_000_000}, batch.ValidateOptions{})
//	if err != nil {
//		return err // not a payout file at all: missing, too large, no such sheet
//	}
//	for _, e := range rep.Errors {
//		fmt.Println(e.Error()) // payouts.xlsx sheet Pagos row 7, column amount ("1.005"): amount has more decimals ...
//	}
//
// Reading row by row:
//
//	rd, err := batch.OpenFile(path, batch.ReadOptions{})
//	if err != nil {
//		return err
//	}
//	defer rd.Close()
//	v := batch.NewValidator(batch.ValidateOptions{})
//	for {
//		row, err := rd.Next()
//		if err == io.EOF {
//			break
//		}
//		// a *RowError is one bad line: note it and go on
//		payout, provider, errs := v.Check(rd.Source(), row)
//		...
//	}
//	dupErrs := v.Finish() // payout ids repeated in the file, on every row carrying them
package batch
