package manifest

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// yaml.v3 reports a few errors without a line: an alias whose anchor is not defined (the
// composer fails after the scanner's position is gone) and the reader's encoding errors (they
// carry a byte offset that the error text drops). lineless finds where such an error happened
// in data, so the problem points at the alias or the bad byte rather than at 1:1.

var unknownAnchor = regexp.MustCompile(`^unknown anchor '([0-9A-Za-z_-]+)' referenced$`)

// readerProblems are the yaml.v3 reader's messages, each with what to do about it.
var readerProblems = map[string]string{
	"invalid leading UTF-8 octet":        "; a manifest must be UTF-8 text",
	"incomplete UTF-8 octet sequence":    "; a manifest must be UTF-8 text",
	"invalid trailing UTF-8 octet":       "; a manifest must be UTF-8 text",
	"invalid length of a UTF-8 sequence": "; a manifest must be UTF-8 text",
	"invalid Unicode character":          "; a manifest must be UTF-8 text",
	"control characters are not allowed": "",
}

// lineless returns the position in data of the line-less yaml.v3 error text (its "yaml: "
// prefix removed) and the message to show, or ok false when text is no such error or its
// place cannot be found.
func lineless(data []byte, text string) (line, col int, msg string, ok bool) {
	if m := unknownAnchor.FindStringSubmatch(text); m != nil {
		off, found := unknownAlias(data, m[1])
		if !found {
			return 0, 0, "", false
		}
		line, col = offsetPos(data, off)
		return line, col, fmt.Sprintf("%s; define &%s before this alias, or remove the *", text, m[1]), true
	}
	hint, isReader := readerProblems[text]
	if !isReader || bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		// A UTF-16 file: its offsets are not those of a UTF-8 scan.
		return 0, 0, "", false
	}
	off, r, found := firstUnreadable(data)
	if !found {
		return 0, 0, "", false
	}
	line, col = offsetPos(data, off)
	if r >= 0 {
		hint = fmt.Sprintf(" (U+%04X); remove it", r)
	}
	return line, col, text + hint, true
}

// unknownAlias returns the offset of the alias *name that yaml.v3 refused as unknown. The
// text *name may also stand in a comment, a quoted string or a block scalar, so each place
// is tried: with every occurrence from i on turned into plain text, the error goes away
// exactly when i is at or before the alias yaml.v3 stopped at (the first real one), and a
// binary search finds it in a few parses.
func unknownAlias(data []byte, name string) (int, bool) {
	token := []byte("*" + name)
	var at []int
	for i := 0; ; {
		j := bytes.Index(data[i:], token)
		if j < 0 {
			break
		}
		end := i + j + len(token)
		if end == len(data) || !isAnchorByte(data[end]) {
			at = append(at, i+j)
		}
		i += j + 1
	}
	want := "yaml: unknown anchor '" + name + "' referenced"
	fails := func(i int) bool {
		edited := bytes.Clone(data)
		for _, off := range at[i:] {
			edited[off] = 'x'
		}
		err := decodeDocuments(edited)
		return err != nil && err.Error() == want
	}
	// The smallest i whose edit still fails is one past the alias.
	i := sort.Search(len(at), fails)
	if i == 0 {
		return 0, false
	}
	return at[i-1], true
}

// isAnchorByte is yaml.v3's set of characters in an anchor or alias name.
func isAnchorByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b == '_' || b == '-'
}

// decodeDocuments decodes the first two documents of data as parseYAML does and returns the
// first error (nil at the end of the input).
func decodeDocuments(data []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for range 2 {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			return err
		}
	}
	return nil
}

// firstUnreadable returns the offset of the first byte the yaml.v3 reader refuses: one that
// is not valid UTF-8 (r -1), or a character YAML does not allow, with the character.
func firstUnreadable(data []byte) (off int, r rune, ok bool) {
	for off < len(data) {
		c, size := utf8.DecodeRune(data[off:])
		if c == utf8.RuneError && size <= 1 {
			return off, -1, true
		}
		if !yamlPrintable(c) {
			return off, c, true
		}
		off += size
	}
	return 0, 0, false
}

// yamlPrintable is the set of characters YAML 1.1 allows in a stream.
func yamlPrintable(r rune) bool {
	switch {
	case r == 0x09, r == 0x0A, r == 0x0D, r >= 0x20 && r <= 0x7E, r == 0x85:
		return true
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// offsetPos turns a byte offset into a 1-based line and a column counted in characters, as
// yaml.v3 counts them (a leading byte order mark is not a character of the first line).
func offsetPos(data []byte, off int) (line, col int) {
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	if start == 0 && bytes.HasPrefix(before, []byte("\xEF\xBB\xBF")) {
		start = 3
	}
	return line, utf8.RuneCount(data[start:off]) + 1
}
