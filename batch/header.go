package batch

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// HeaderError says why a file's header row cannot be read as the canonical
// schema. It lists every problem at once.
type HeaderError struct {
	File, Sheet string
	Row         int
	Missing     []string // canonical columns required but absent
	Duplicate   []string // canonical columns matched by more than one header cell
	Problems    []string // anything else (an empty file, a bad alias)
}

func (e *HeaderError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing required column(s): "+strings.Join(e.Missing, ", "))
	}
	if len(e.Duplicate) > 0 {
		parts = append(parts, "column(s) given more than once: "+strings.Join(e.Duplicate, "; "))
	}
	parts = append(parts, e.Problems...)
	return fmt.Sprintf("%s: header row %d: %s", where(e.File, e.Sheet), e.Row, strings.Join(parts, "; "))
}

// Unwrap makes every header problem an ErrInput.
func (e *HeaderError) Unwrap() error { return ErrInput }

// RowErrors returns the problems as row errors on the header row, so that
// a report shows them like any other error.
func (e *HeaderError) RowErrors() []RowError {
	var out []RowError
	for _, c := range e.Missing {
		out = append(out, RowError{File: e.File, Sheet: e.Sheet, Row: e.Row, Column: c,
			Reason: "required column is missing from the header"})
	}
	for _, d := range e.Duplicate {
		col, _, _ := strings.Cut(d, " ")
		out = append(out, RowError{File: e.File, Sheet: e.Sheet, Row: e.Row, Column: col,
			Reason: "column appears more than once in the header: " + d})
	}
	for _, p := range e.Problems {
		out = append(out, RowError{File: e.File, Sheet: e.Sheet, Row: e.Row, Reason: p})
	}
	return out
}

// foldHeader reduces a header name to what matching compares: no accents,
// lower case, and spaces, hyphens, underscores and dots all one "_".
// "Número de cuenta", "numero-de-cuenta" and "NUMERO_DE_CUENTA" are equal.
func foldHeader(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		out = s
	}
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(out) {
		switch {
		case r == ' ' || r == '-' || r == '_' || r == '.' || unicode.IsSpace(r):
			sep = b.Len() > 0
		case r == '\ufeff' || r == '\u200b':
			// byte order marks and zero-width spaces pasted into headers
		default:
			if sep {
				b.WriteByte('_')
				sep = false
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// headerMatcher maps folded header names to canonical columns.
type headerMatcher map[string]string

// newHeaderMatcher builds the matcher from the canonical names and the
// configured aliases (canonical -> names a team uses). An alias for an
// unknown column, or one name claimed by two columns, is a configuration
// mistake and is reported.
func newHeaderMatcher(aliases map[string][]string) (headerMatcher, error) {
	m := headerMatcher{}
	for _, c := range CanonicalColumns {
		m[foldHeader(c)] = c
	}
	var problems []string
	keys := make([]string, 0, len(aliases))
	for k := range aliases {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		canon, ok := m[foldHeader(k)]
		if !ok || canon != foldHeader(k) {
			problems = append(problems, fmt.Sprintf("alias for unknown column %q (columns: %s)", k, strings.Join(CanonicalColumns, ", ")))
			continue
		}
		for _, a := range aliases[k] {
			f := foldHeader(a)
			if f == "" {
				continue
			}
			if prev, ok := m[f]; ok && prev != canon {
				problems = append(problems, fmt.Sprintf("alias %q names both %s and %s", a, prev, canon))
				continue
			}
			m[f] = canon
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: input aliases: %s", ErrInput, strings.Join(problems, "; "))
	}
	return m, nil
}

// match fills the source's column map from a header row and reports every
// problem: required columns missing, a canonical column twice.
func (m headerMatcher) match(src *Source, header []string, row int) error {
	src.Header = append([]string(nil), header...)
	src.Columns = map[string]int{}
	src.Extra, src.ExtraIndex = nil, nil
	seen := map[string][]string{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		if name == "" {
			continue // trailing empty columns of a spreadsheet export
		}
		canon, ok := m[foldHeader(name)]
		if !ok {
			src.Extra = append(src.Extra, name)
			src.ExtraIndex = append(src.ExtraIndex, i)
			continue
		}
		seen[canon] = append(seen[canon], fmt.Sprintf("%q (column %s)", name, columnLetter(src.Kind, i)))
		if _, dup := src.Columns[canon]; !dup {
			src.Columns[canon] = i
		}
	}
	he := &HeaderError{File: src.Name, Sheet: src.Sheet, Row: row}
	for _, c := range RequiredColumns {
		if _, ok := src.Columns[c]; !ok {
			he.Missing = append(he.Missing, c)
		}
	}
	for _, c := range CanonicalColumns {
		if len(seen[c]) > 1 {
			he.Duplicate = append(he.Duplicate, c+" as "+strings.Join(seen[c], " and "))
		}
	}
	if len(he.Missing) > 0 || len(he.Duplicate) > 0 {
		return he
	}
	return nil
}

// columnLetter names a column the way the user's program does: letters in
// a spreadsheet, a 1-based position in a CSV file.
func columnLetter(kind string, i int) string {
	if kind != KindXLSX {
		return fmt.Sprintf("%d", i+1)
	}
	s := ""
	for n := i + 1; n > 0; n = (n - 1) / 26 {
		s = string(rune('A'+(n-1)%26)) + s
	}
	return s
}
