package pan

import (
	"encoding/json"
	"strings"
)

// The lengths of a card number, in digits (ISO/IEC 7812).
const (
	minDigits = 13
	maxDigits = 19
)

// Match is one card number found in a text. It holds the masked number
// only: the clear digits stay in the caller's text.
type Match struct {
	// Start and End are the byte offsets of the number in the text,
	// separators included.
	Start, End int
	// Masked is the number as it may be shown: digits only, at most the
	// first six and the last four kept ("411111******1111").
	Masked string
}

// span is a range of bytes, [start, end) in the text.
type span struct{ start, end int }

// unit is one digit of a card number as the text spells it: an ASCII digit
// (one byte) or a JSON escape of one ("\u0034", six bytes).
type unit struct {
	start, end int
	v          byte // '0' to '9'
}

// Find returns every card number in s, in order.
func Find(s string) []Match {
	if !enoughDigits(s) {
		return nil
	}
	var out []Match
	scan(s, func(us []unit) bool {
		out = append(out, Match{Start: us[0].start, End: us[len(us)-1].end, Masked: masked(us)})
		return true
	})
	return out
}

// Contains reports whether s holds a card number.
func Contains(s string) bool {
	if !enoughDigits(s) {
		return false
	}
	found := false
	scan(s, func([]unit) bool {
		found = true
		return false
	})
	return found
}

// Mask returns a card number as it may be shown: its digits only, with
// the first six and the last four kept when at least six are hidden
// (16 digits or more), else the last four only: "411111******1111",
// "*********0005". Anything with four digits or fewer is all stars.
func Mask(number string) string {
	var d []byte
	for i := 0; i < len(number); i++ {
		if isDigit(number[i]) {
			d = append(d, number[i])
		}
	}
	out := make([]byte, len(d))
	for k := range d {
		if shown(k, len(d)) {
			out[k] = d[k]
		} else {
			out[k] = '*'
		}
	}
	return string(out)
}

// MaskText returns s with every card number in it masked in place: the
// hidden digits become '*', separators and every other character stay,
// so the text keeps its length and shape ("pago 4111 11** **** 1111").
// It returns s itself when s holds no card number.
func MaskText(s string) string {
	if !Contains(s) {
		return s
	}
	return string(scrub([]byte(s), false))
}

// Scrub returns payload with every card number in it masked, keeping its
// length and shape, so that a provider's payload (JSON, a form, plain
// text) can be stored. In JSON, a number inside a string is masked with
// '*' as MaskText does; a bare JSON number that is a card number keeps
// its first six and last four digits and gets zeros (and a one, should the
// zeros pass the Luhn check) in between, so that the payload stays valid
// JSON and holds no card number. Scrub returns payload itself, unchanged,
// when it holds no card number, and a new slice otherwise.
func Scrub(payload []byte) []byte {
	if !containsBytes(payload) {
		return payload
	}
	return scrub(append([]byte(nil), payload...), json.Valid(payload))
}

func containsBytes(b []byte) bool {
	if !enoughDigits(b) {
		return false
	}
	found := false
	scan(b, func([]unit) bool {
		found = true
		return false
	})
	return found
}

// enoughDigits reports whether b has the digits of a card number at all:
// most values (names, amounts, codes) do not, and are not scanned.
func enoughDigits[T ~string | ~[]byte](b T) bool {
	n := 0
	for i := 0; i < len(b); i++ {
		if isDigit(b[i]) {
			if n++; n >= minDigits {
				return true
			}
		}
	}
	return false
}

// scrub masks b in place until no card number is left: masking one number
// can leave digits that, with their neighbours, read as another. Each pass
// hides digits with '*' or leaves a JSON number that fails the Luhn check,
// so the passes end.
func scrub(b []byte, isJSON bool) []byte {
	for {
		var strs []span
		if isJSON {
			strs = jsonStrings(b)
		}
		changed := false
		scan(b, func(us []unit) bool {
			changed = true
			if isJSON && !inside(strs, us[0].start) {
				zeroMask(b, us)
			} else {
				starMask(b, us)
			}
			return true
		})
		if !changed {
			return b
		}
	}
}

// shown reports whether the k-th of n digits of a card number may be
// shown.
func shown(k, n int) bool {
	return n > 4 && (k >= n-4 || (n >= 16 && k < 6))
}

func masked(us []unit) string {
	n := len(us)
	var sb strings.Builder
	sb.Grow(n)
	for k, u := range us {
		if shown(k, n) {
			sb.WriteByte(u.v)
		} else {
			sb.WriteByte('*')
		}
	}
	return sb.String()
}

// starMask hides the digits of a card number with '*'; a digit written as
// a JSON escape ("\u0034") becomes the escape of '*' ("\u002a"), so that
// the text keeps its length and only digits change.
func starMask(b []byte, us []unit) {
	n := len(us)
	for k, u := range us {
		if shown(k, n) {
			continue
		}
		if u.end-u.start == 1 {
			b[u.start] = '*'
		} else {
			b[u.end-2], b[u.end-1] = '2', 'a'
		}
	}
}

// zeroMask hides a card number that is a bare JSON number and keeps it a
// valid one: hidden digits become 0, a hidden first digit 9 (no leading
// zero, and no card scheme starts with 9), and the last hidden digit a 1
// should the zeros pass the Luhn check. A bare JSON number is made of
// ASCII digits only.
func zeroMask(b []byte, us []unit) {
	n := len(us)
	last := -1
	var d [maxDigits]byte
	for k, u := range us {
		if !shown(k, n) {
			b[u.start] = '0'
			if k == 0 {
				b[u.start] = '9'
			}
			last = u.start
		}
		d[k] = b[u.start]
	}
	if last >= 0 && luhn(d[:n]) {
		b[last] = '1'
	}
}

// jsonStrings returns the spans of the string literals of a valid JSON
// text, quotes included.
func jsonStrings(b []byte) []span {
	var out []span
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		start := i
		for i++; i < len(b) && b[i] != '"'; i++ {
			if b[i] == '\\' {
				i++
			}
		}
		out = append(out, span{start, i + 1})
	}
	return out
}

func inside(spans []span, pos int) bool {
	lo, hi := 0, len(spans)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case pos < spans[m].start:
			hi = m
		case pos >= spans[m].end:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// maxGap is the most separators between two groups of digits of a card
// number: "4111 - 1111", "4111\r\n1111".
const maxGap = 3

// The kinds of separator between groups of digits. Spaces (any Unicode
// space, tabs, line breaks, as text or as JSON escapes) and dashes (any
// Unicode dash or minus) join any groups. A dot or a slash joins only
// groups of four digits or more ("4111.1111.1111.1111", "3782.822463.10005"),
// so that amounts ("450.00 / 520.00"), dates and versions stay apart.
const (
	notSep = iota
	freeSep
	dotSep
)

// scan calls fn with the digits of each card number in b, in order, until
// fn returns false.
//
// A chunk is a run of groups of digits joined by gaps of one to maxGap
// separators (sepAt). Any consecutive groups of a chunk may be a card
// number ("ref 12 4111 1111 1111 1111" holds one), provided it stands as a
// word of its own: neither end may touch a letter or a digit. The longest
// card number starting at a group is taken, and the search goes on after
// it. JSON escapes are read as what they stand for ("\u00a0" is a space,
// "\u0034" the digit 4), and the hexadecimal digits of an escape are never
// digits of the text.
func scan[T ~string | ~[]byte](b T, fn func([]unit) bool) {
	var gbuf [8]group
	gs := gbuf[:0]
	var d [maxDigits]byte
	wordBefore := false
	for i := 0; i < len(b); {
		if c := b[i]; !isDigit(c) {
			n := 1
			if c == '\\' {
				if _, ok := digitAt(b, i); ok {
					goto chunk
				}
				n = max(escapeLen(b, i), 1)
				wordBefore = false
			} else {
				wordBefore = isWord(c)
			}
			i += n
			continue
		}
	chunk:
		gs = gs[:0]
		j := i
		for {
			g := group{start: j}
			for {
				u, ok := digitAt(b, j)
				if !ok {
					break
				}
				g.n++
				j = u.end
			}
			g.end = j
			gs = append(gs, g)
			k, units, kind := j, 0, freeSep
			for units < maxGap && k < len(b) {
				n, c := sepAt(b, k)
				if n == 0 {
					break
				}
				if c == dotSep {
					kind = dotSep
				}
				k += n
				units++
			}
			if units == 0 || k >= len(b) {
				break
			}
			if _, ok := digitAt(b, k); !ok {
				break
			}
			if kind == dotSep && (g.n < 4 || digitRun(b, k) < 4) {
				break
			}
			j = k
		}
		leftOK := !wordBefore
		rightOK := j == len(b) || !wordAt(b, j)
		for gi := 0; gi < len(gs); {
			best := -1
			if gi > 0 || leftOK {
				n := 0
				for gj := gi; gj < len(gs); gj++ {
					n += gs[gj].n
					if n > maxDigits {
						break
					}
					if n >= minDigits && (gj < len(gs)-1 || rightOK) && isCard(digitsOf(b, gs[gi:gj+1], &d)) {
						best = gj
					}
				}
			}
			if best < 0 {
				gi++
				continue
			}
			if !fn(unitsOf(b, gs[gi:best+1])) {
				return
			}
			gi = best + 1
		}
		wordBefore = true
		i = j
	}
}

// group is a run of digits of a chunk: n digits in b[start:end].
type group struct{ start, end, n int }

// unitsOf returns the digits of groups gs (of at most maxDigits digits in
// all).
func unitsOf[T ~string | ~[]byte](b T, gs []group) []unit {
	us := make([]unit, 0, maxDigits)
	for _, g := range gs {
		for k := g.start; k < g.end; {
			u, _ := digitAt(b, k)
			us = append(us, u)
			k = u.end
		}
	}
	return us
}

// digitAt returns the digit at i: an ASCII digit, or a JSON escape of one.
func digitAt[T ~string | ~[]byte](b T, i int) (unit, bool) {
	if i >= len(b) {
		return unit{}, false
	}
	if isDigit(b[i]) {
		return unit{i, i + 1, b[i]}, true
	}
	if b[i] == '\\' && i+5 < len(b) && b[i+1] == 'u' && b[i+2] == '0' && b[i+3] == '0' && b[i+4] == '3' && isDigit(b[i+5]) {
		return unit{i, i + 6, b[i+5]}, true
	}
	return unit{}, false
}

// digitRun returns how many digits follow one another from i.
func digitRun[T ~string | ~[]byte](b T, i int) int {
	n := 0
	for i < len(b) {
		u, ok := digitAt(b, i)
		if !ok {
			break
		}
		n, i = n+1, u.end
	}
	return n
}

// wordAt reports whether a number ending just before i touches what is at
// i: a letter or a digit, not a JSON escape.
func wordAt[T ~string | ~[]byte](b T, i int) bool {
	return escapeLen(b, i) == 0 && isWord(b[i])
}

// escapeLen returns the length of the JSON escape at i ("\n", "\u00a0"),
// or 0.
func escapeLen[T ~string | ~[]byte](b T, i int) int {
	if b[i] != '\\' || i+1 >= len(b) {
		return 0
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2
	case 'u':
		if _, ok := hex4(b, i+2); ok {
			return 6
		}
	}
	return 0
}

// hex4 reads four hexadecimal digits at i.
func hex4[T ~string | ~[]byte](b T, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for k := i; k < i+4; k++ {
		c := b[k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// sepAt returns the length and kind of the separator at i, or 0: an ASCII
// space, dash, dot or slash, a Unicode space or dash in UTF-8, or a JSON
// escape of one.
func sepAt[T ~string | ~[]byte](b T, i int) (int, int) {
	switch c := b[i]; {
	case c == '\\':
		switch n := escapeLen(b, i); n {
		case 2:
			switch b[i+1] {
			case 'n', 'r', 't':
				return 2, freeSep
			case '/':
				return 2, dotSep
			}
		case 6:
			r, _ := hex4(b, i+2)
			if k := sepKind(r); k != notSep {
				return 6, k
			}
		}
	case c < 0x80:
		if k := sepKind(rune(c)); k != notSep {
			return 1, k
		}
	case c == 0xC2:
		if i+1 < len(b) && b[i+1] == 0xA0 { // U+00A0, the no-break space
			return 2, freeSep
		}
	case c == 0xE2 || c == 0xE3:
		if i+2 < len(b) && b[i+1]&0xC0 == 0x80 && b[i+2]&0xC0 == 0x80 {
			r := rune(c&0x0F)<<12 | rune(b[i+1]&0x3F)<<6 | rune(b[i+2]&0x3F)
			if k := sepKind(r); k != notSep {
				return 3, k
			}
		}
	}
	return 0, notSep
}

// sepKind says how the character r may join groups of digits.
func sepKind(r rune) int {
	switch {
	case r == ' ', r == '\t', r == '\n', r == '\r', r == '-':
		return freeSep
	case r == '.', r == '/':
		return dotSep
	case r == 0xA0, r >= 0x2000 && r <= 0x200A, r == 0x202F, r == 0x205F, r == 0x3000: // spaces
		return freeSep
	case r >= 0x2010 && r <= 0x2015, r == 0x2212: // hyphens, dashes, minus
		return freeSep
	}
	return notSep
}

// digitsOf copies the digits of groups gs (of at most maxDigits digits in
// all) into d.
func digitsOf[T ~string | ~[]byte](b T, gs []group, d *[maxDigits]byte) []byte {
	n := 0
	for _, g := range gs {
		for k := g.start; k < g.end; {
			u, _ := digitAt(b, k)
			d[n] = u.v
			n++
			k = u.end
		}
	}
	return d[:n]
}

// isCard reports whether d, 13 to 19 digits, is a card number: a known
// issuer range and the Luhn check.
func isCard(d []byte) bool {
	return len(d) >= minDigits && len(d) <= maxDigits && knownIssuer(d) && luhn(d)
}

// knownIssuer reports whether d starts with an issuer identification
// number of a card scheme payrun may meet: Visa 4; Mastercard 51-55 and
// 2221-2720; American Express 34, 37; Discover 6011, 644-649, 65; JCB
// 3528-3589; Diners Club 300-305, 36, 38-39; UnionPay 62; Maestro 50,
// 56-69; Mir 2200-2204. (Maestro's 56-69 covers Discover and UnionPay.)
func knownIssuer(d []byte) bool {
	p := func(n int) int {
		v := 0
		for _, c := range d[:n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	switch d[0] {
	case '4', '5', '6':
		return true
	case '3':
		p2, p3, p4 := p(2), p(3), p(4)
		return p2 == 34 || p2 == 36 || p2 == 37 || p2 == 38 || p2 == 39 ||
			(p3 >= 300 && p3 <= 305) || (p4 >= 3528 && p4 <= 3589)
	case '2':
		p4 := p(4)
		return (p4 >= 2200 && p4 <= 2204) || (p4 >= 2221 && p4 <= 2720)
	}
	return false
}

// luhn reports whether the digits d pass the Luhn (mod 10) check.
func luhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWord reports whether c is an ASCII letter or digit: what a card
// number must not touch.
func isWord(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
