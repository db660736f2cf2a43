package runecut

import (
	"testing"
	"unicode/utf8"
)

// A cut never splits a character, and never cuts what fits.
func TestPrefixEndsOnACharacterBoundary(t *testing.T) {
	s := "ab€cd" // € is three bytes, at 2..4
	for max, want := range map[int]string{0: "", 2: "ab", 3: "ab", 4: "ab", 5: "ab€", 7: "ab€cd", 9: "ab€cd"} {
		if got := Prefix(s, max); got != want || !utf8.ValidString(got) {
			t.Errorf("Prefix(%q, %d) = %q, want %q", s, max, got, want)
		}
	}
}
