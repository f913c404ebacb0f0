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

// span is a run of digits, [start, end) in the text.
type span struct{ start, end int }

// Find returns every card number in s, in order.
func Find(s string) []Match {
	if !enoughDigits(s) {
		return nil
	}
	var out []Match
	scan(s, func(gs []span) bool {
		out = append(out, Match{Start: gs[0].start, End: gs[len(gs)-1].end, Masked: masked(s, gs)})
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
	scan(s, func([]span) bool {
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
	scan(b, func([]span) bool {
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
		scan(b, func(gs []span) bool {
			changed = true
			if isJSON && !inside(strs, gs[0].start) {
				zeroMask(b, gs)
			} else {
				starMask(b, gs)
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

func masked[T ~string | ~[]byte](b T, gs []span) string {
	n := 0
	for _, g := range gs {
		n += g.end - g.start
	}
	var sb strings.Builder
	sb.Grow(n)
	k := 0
	for _, g := range gs {
		for i := g.start; i < g.end; i++ {
			if shown(k, n) {
				sb.WriteByte(b[i])
			} else {
				sb.WriteByte('*')
			}
			k++
		}
	}
	return sb.String()
}

func starMask(b []byte, gs []span) {
	n := digitCount(gs)
	k := 0
	for _, g := range gs {
		for i := g.start; i < g.end; i++ {
			if !shown(k, n) {
				b[i] = '*'
			}
			k++
		}
	}
}

// zeroMask hides a card number that is a bare JSON number and keeps it a
// valid one: hidden digits become 0, a hidden first digit 9 (no leading
// zero, and no card scheme starts with 9), and the last hidden digit a 1
// should the zeros pass the Luhn check.
func zeroMask(b []byte, gs []span) {
	n := digitCount(gs)
	k, last := 0, -1
	for _, g := range gs {
		for i := g.start; i < g.end; i++ {
			if !shown(k, n) {
				b[i] = '0'
				if k == 0 {
					b[i] = '9'
				}
				last = i
			}
			k++
		}
	}
	var d [maxDigits]byte
	if last >= 0 && luhn(digitsOf(b, gs, &d)) {
		b[last] = '1'
	}
}

func digitCount(gs []span) int {
	n := 0
	for _, g := range gs {
		n += g.end - g.start
	}
	return n
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

// scan calls fn with the digit groups of each card number in b, in order,
// until fn returns false.
//
// A chunk is a run of digit groups joined by single spaces or dashes. Any
// consecutive groups of a chunk may be a card number ("ref 12 4111 1111
// 1111 1111" holds one), provided it stands as a word of its own: neither
// end may touch a letter or a digit. The longest card number starting at a
// group is taken, and the search goes on after it.
func scan[T ~string | ~[]byte](b T, fn func([]span) bool) {
	var gs []span
	var d [maxDigits]byte
	for i := 0; i < len(b); {
		if !isDigit(b[i]) {
			i++
			continue
		}
		gs = gs[:0]
		j := i
		for {
			s := j
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			gs = append(gs, span{s, j})
			if j+1 < len(b) && (b[j] == ' ' || b[j] == '-') && isDigit(b[j+1]) {
				j++
				continue
			}
			break
		}
		leftOK := boundaryBefore(b, i)
		rightOK := j == len(b) || !isWord(b[j])
		for gi := 0; gi < len(gs); {
			best := -1
			if gi > 0 || leftOK {
				n := 0
				for gj := gi; gj < len(gs); gj++ {
					n += gs[gj].end - gs[gj].start
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
			if !fn(gs[gi : best+1]) {
				return
			}
			gi = best + 1
		}
		i = j
	}
}

// boundaryBefore reports whether a number starting at i stands apart from
// what precedes it: nothing, a character that is not a letter or a digit,
// or an escape such as the "\n" of a JSON string.
func boundaryBefore[T ~string | ~[]byte](b T, i int) bool {
	if i == 0 || !isWord(b[i-1]) {
		return true
	}
	if i >= 2 && b[i-2] == '\\' {
		switch b[i-1] {
		case 'n', 'r', 't', 'b', 'f':
			return true
		}
	}
	return false
}

// digitsOf copies the digits of gs into d (at most maxDigits of them).
func digitsOf[T ~string | ~[]byte](b T, gs []span, d *[maxDigits]byte) []byte {
	n := 0
	for _, g := range gs {
		for i := g.start; i < g.end && n < maxDigits; i++ {
			d[n] = b[i]
			n++
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
