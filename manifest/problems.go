package manifest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/upgradeplan/upgradeplan/internal/runecut"
)

// Problem is one thing wrong in a manifest, where it stands, and what to change.
type Problem struct {
	Pos
	Path    string // "targets[1].desired.memSizeMB"; "" for the document as a whole
	Message string
}

func (p Problem) String() string {
	msg := CutMessage(p.Message)
	if p.Line == 0 {
		// The file as a whole (it cannot be read): no position to give.
		return fmt.Sprintf("%s: %s", p.File, msg)
	}
	if p.Path == "" {
		return fmt.Sprintf("%s: %s", p.Pos, msg)
	}
	return fmt.Sprintf("%s: %s: %s", p.Pos, CutMessage(p.Path), msg)
}

// MaxMessageLength bounds the message of one printed problem: a hostile manifest (a list of
// a million ids, a megabyte key) must not print a megabyte line. What is cut is counted.
const MaxMessageLength = 1000

// CutMessage shortens s to about MaxMessageLength bytes (at a rune boundary), saying how
// many characters were left out.
func CutMessage(s string) string {
	if len(s) <= MaxMessageLength {
		return s
	}
	kept := runecut.Prefix(s, MaxMessageLength)
	return fmt.Sprintf("%s… (%d more characters)", kept, utf8.RuneCountInString(s[len(kept):]))
}

// Problems is the error Load and Parse return: every problem of a file, sorted by position.
// Its Error renders one problem per line as FILE:LINE:COL: PATH: MESSAGE.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Sort orders problems by file, line, column, path and message, and drops exact repeats.
func (ps Problems) Sort() Problems {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(ps)
}
