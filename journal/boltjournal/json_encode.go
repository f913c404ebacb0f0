package boltjournal

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// appendOptional appends a member left out when empty (omitempty).
func appendOptional(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	return appendJSONString(append(dst, name...), v)
}

// appendJSONString appends s as encoding/json writes a string: valid UTF-8
// as it is, except '"', '\\', control characters, '<', '>', '&' and
// U+2028/U+2029, which it escapes. Strings holding any of those, or invalid
// UTF-8, are left to encoding/json itself.
func appendJSONString(dst []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			continue
		}
		if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return appendMarshalled(dst, s)
		}
	}
	if !ascii && (!utf8.ValidString(s) || strings.Contains(s, "\u2028") || strings.Contains(s, "\u2029")) {
		return appendMarshalled(dst, s)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

func appendMarshalled(dst []byte, s string) []byte {
	raw, _ := json.Marshal(s) // a string always encodes
	return append(dst, raw...)
}
