package manifest

import "fmt"

// Limits on what a manifest may cost before it is parsed. A YAML parser builds a node of
// about 200 bytes for every value, so a 10 MiB file of one-letter items would take gigabytes
// before any rule could refuse it; these bounds refuse such a file from a scan of its bytes.
const (
	// MaxValues bounds the values (scalars, lists, maps, keys) of one manifest, counted
	// before any alias is expanded. A fleet of 2,000 targets uses about 40,000; the bound
	// keeps the worst 10 MiB file under 200 MB and a second.
	MaxValues = 200_000
	// MaxProblems bounds the problems reported for one file; the rest are counted.
	MaxProblems = 100
	// QPSFloor is the lowest settings.qps: one call an hour. A lower rate (1e-300) would make
	// apply wait for a token for ever; below one call a minute, plan warns.
	QPSFloor = 1.0 / 3600
)

// countValues returns an upper bound of the YAML nodes data holds: every token start outside
// comments and quoted scalars, and every ':', ',', '-' and '?' indicator (each may stand for
// an empty value). It stops counting past limit, returning the line where it did.
func countValues(data []byte, limit int) (count, line int) {
	line = 1
	tokenStart := true // at the start of a line or after whitespace or a flow indicator
	var quote byte     // the quote of the quoted scalar being skipped, 0 outside
	comment := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c == '\n' {
			line++
			comment = false
			if quote == 0 {
				tokenStart = true
			}
			continue
		}
		switch {
		case comment:
			continue
		case quote != 0:
			switch {
			case c == '\\' && quote == '"':
				i++ // an escaped character, which may be a quote
			case c == quote && quote == '\'' && i+1 < len(data) && data[i+1] == '\'':
				i++ // '' inside a single-quoted scalar
			case c == quote:
				quote = 0
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r':
			tokenStart = true
			continue
		case '#':
			if tokenStart {
				comment = true
				continue
			}
		case ':', ',', '-', '?', '[', ']', '{', '}':
			count++
			tokenStart = true
			if count > limit {
				return count, line
			}
			continue
		}
		if tokenStart {
			count++
			if c == '"' || c == '\'' {
				quote = c
			}
			if count > limit {
				return count, line
			}
		}
		tokenStart = false
	}
	return count, line
}

// limitProblems keeps the first MaxProblems of sorted problems and counts the rest in a
// last one, positioned where the first left out stands.
func limitProblems(ps Problems) Problems {
	if len(ps) <= MaxProblems {
		return ps
	}
	rest := ps[MaxProblems]
	out := append(ps[:MaxProblems:MaxProblems], Problem{Pos: rest.Pos,
		Message: fmt.Sprintf("and %d more problems from here on, not shown; fix these and validate again", len(ps)-MaxProblems)})
	return out
}
