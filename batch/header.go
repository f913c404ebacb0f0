package batch

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/payrun/payrun/internal/pan"
)

// HeaderError says why a file's header row cannot be read as the canonical
// schema. It lists every problem at once.
type HeaderError struct {
	File, Sheet string
	Row         int
	Missing     []string // canonical columns required but absent
	Duplicate   []string // canonical columns matched by more than one header cell
	// Misspelt lists the header cells that match no column but are close
	// to one the header lacks: most likely a typing mistake, which would
	// otherwise drop the column's values without a word.
	Misspelt []HeaderHint
	Problems []string // anything else (no payout rows, a bad alias)
}

// HeaderHint is a header cell that matches no column, and the column (or
// configured alias) it most likely meant.
type HeaderHint struct {
	Name   string // the header cell as written
	Column string // the canonical column meant
	Meant  string // the canonical name or alias closest to Name
}

func (h HeaderHint) String() string {
	if h.Meant != h.Column {
		return fmt.Sprintf("`%s`: did you mean `%s` (an alias of %s)?", h.Name, h.Meant, h.Column)
	}
	return fmt.Sprintf("`%s`: did you mean `%s`?", h.Name, h.Meant)
}

func (e *HeaderError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, "missing required column(s): "+strings.Join(e.Missing, ", "))
	}
	if len(e.Duplicate) > 0 {
		parts = append(parts, "column(s) given more than once: "+strings.Join(e.Duplicate, "; "))
	}
	for _, h := range e.Misspelt {
		parts = append(parts, "unknown column "+h.String())
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
	for _, h := range e.Misspelt {
		out = append(out, RowError{File: e.File, Sheet: e.Sheet, Row: e.Row, Column: h.Column, Value: h.Name,
			Reason: "unknown column " + h.String()})
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
	out := s
	if !ascii(s) {
		// Accents removed; a transformer chain is costly to build, and
		// most headers are plain ASCII.
		t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
		if o, _, err := transform.String(t, s); err == nil {
			out = o
		}
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

func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// headerMatcher maps folded header names to canonical columns, and
// keeps each name as configured, to suggest it.
type headerMatcher struct {
	canon map[string]string // folded name -> canonical column
	shown map[string]string // folded name -> the name as configured
}

// newHeaderMatcher builds the matcher from the canonical names and the
// configured aliases (canonical -> names a team uses). An alias for an
// unknown column, or one name claimed by two columns, is a configuration
// mistake and is reported.
func newHeaderMatcher(aliases map[string][]string) (headerMatcher, error) {
	hm := headerMatcher{canon: map[string]string{}, shown: map[string]string{}}
	m := hm.canon
	for _, c := range CanonicalColumns {
		m[foldHeader(c)] = c
		hm.shown[foldHeader(c)] = c
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
			if _, ok := hm.shown[f]; !ok {
				hm.shown[f] = strings.TrimSpace(a)
			}
		}
	}
	if len(problems) > 0 {
		return headerMatcher{}, fmt.Errorf("%w: input aliases: %s", ErrInput, strings.Join(problems, "; "))
	}
	return hm, nil
}

// match fills the source's column map from a header row and reports every
// problem: required columns missing, a canonical column twice, a header
// cell that looks like a misspelt column.
func (hm headerMatcher) match(src *Source, header []string, row int) error {
	src.Header = make([]string, len(header))
	for i, h := range header {
		// A header is a value from the file like any other: no card
		// number in it may reach a report.
		src.Header[i] = pan.MaskText(h)
	}
	header = src.Header
	src.HeaderRow = row
	src.Columns = map[string]int{}
	src.Extra, src.ExtraIndex = nil, nil
	seen := map[string][]string{}
	for i, h := range header {
		name := strings.TrimSpace(h)
		if name == "" {
			continue // trailing empty columns of a spreadsheet export
		}
		canon, ok := hm.canon[foldHeader(name)]
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
	for _, name := range src.Extra {
		if h, ok := hm.closest(name, src.Columns); ok {
			he.Misspelt = append(he.Misspelt, h)
		}
	}
	if len(he.Missing) > 0 || len(he.Duplicate) > 0 || len(he.Misspelt) > 0 {
		return he
	}
	return nil
}

// closest finds the column a header cell most likely meant: the canonical
// name or alias at the smallest edit distance, if that distance is small
// for the name's length and the file lacks the column. A cell close to a
// column the file has is an extra column of the team's own ("email 2").
func (hm headerMatcher) closest(name string, have map[string]int) (HeaderHint, bool) {
	f := []rune(foldHeader(name))
	best, bestD := "", -1
	for k := range hm.canon {
		kr := []rune(k)
		d := editDistance(f, kr)
		if d > closeEnough(len(kr)) {
			continue
		}
		if bestD < 0 || d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if bestD < 0 {
		return HeaderHint{}, false
	}
	col := hm.canon[best]
	if _, ok := have[col]; ok {
		return HeaderHint{}, false
	}
	return HeaderHint{Name: name, Column: col, Meant: hm.shown[best]}, true
}

// closeEnough is the edit distance under which a header is taken for a
// misspelling of a name of n letters: one slip in a short name, up to
// three in a long one.
func closeEnough(n int) int {
	return max(1, min(3, n/5))
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of neighbours
// ("emial") each count one.
func editDistance(a, b []rune) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
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
