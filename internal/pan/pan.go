// Package pan finds and masks card numbers (PANs) in free text. Placeholder
// until the input-side implementation lands; the journal uses Scrub and
// ScrubString.
package pan

// Scrub returns b with every card number masked.
func Scrub(b []byte) []byte {
	if b == nil {
		return nil
	}
	return []byte(ScrubString(string(b)))
}

// ScrubString returns s with every card number masked.
func ScrubString(s string) string {
	out := []byte(s)
	for i := 0; i < len(out); {
		if !isDigit(out[i]) {
			i++
			continue
		}
		j := i
		var pos []int
		for j < len(out) && (isDigit(out[j]) || ((out[j] == ' ' || out[j] == '-') && j+1 < len(out) && isDigit(out[j+1]))) {
			if isDigit(out[j]) {
				pos = append(pos, j)
			}
			j++
		}
		if len(pos) >= 13 && len(pos) <= 19 && luhn(out, pos) {
			for _, p := range pos[:len(pos)-4] {
				out[p] = '*'
			}
		}
		i = j
	}
	return string(out)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func luhn(b []byte, pos []int) bool {
	sum, double := 0, false
	for k := len(pos) - 1; k >= 0; k-- {
		d := int(b[pos[k]] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
