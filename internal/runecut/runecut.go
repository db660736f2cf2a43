// Package runecut owns cutting text short without splitting a character: the messages,
// report lines and cloud answers the tool shortens stay valid UTF-8.
package runecut

import "unicode/utf8"

// Prefix returns the longest prefix of s of at most max bytes that ends on a character
// boundary (s itself when it is no longer than max).
func Prefix(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
