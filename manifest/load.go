package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/upgradeplan/upgradeplan/schema"
)

// MaxFileSize is the largest manifest Load and Parse accept.
const MaxFileSize = 10 << 20

// Load reads and parses the manifest at path. A file that cannot be read is reported as a
// Problem too, so a caller prints every error the same way.
func Load(path string) (*Fleet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Problems{{Pos: Pos{File: path}, Message: "cannot read: " + unwrapPathError(err).Error()}}
	}
	defer f.Close()
	// Read one byte past the limit, so a huge file (or /dev/zero) is never read whole.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, Problems{{Pos: Pos{File: path}, Message: "cannot read: " + unwrapPathError(err).Error()}}
	}
	return Parse(path, data)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Parse parses data as the manifest named name (the File of every position). The error is
// always Problems: every problem of the file, sorted by position. Defaults are not filled in:
// a setting the manifest leaves out stays zero.
func Parse(name string, data []byte) (*Fleet, error) {
	start := Pos{File: name, Line: 1, Col: 1}
	if len(data) > MaxFileSize {
		return nil, Problems{{Pos: start, Message: fmt.Sprintf("the file is larger than %d MiB; a manifest must be smaller", MaxFileSize>>20)}}
	}
	if n, line := countValues(data, MaxValues); n > MaxValues {
		return nil, Problems{{Pos: Pos{File: name, Line: line, Col: 1},
			Message: fmt.Sprintf("the file holds more than %d values (counted up to this line); a manifest must hold fewer: select instances by tags rather than listing them", MaxValues)}}
	}
	doc, problems := parseYAML(name, data)
	if doc == nil {
		return nil, problems.Sort()
	}
	tree := newTree(name)
	value, ok := tree.convert(doc)
	problems = append(problems, tree.problems...)
	if !ok {
		return nil, limitProblems(problems.Sort())
	}
	schemaProblems, err := schema.Validate(value)
	if err != nil {
		return nil, append(problems, Problem{Pos: start, Message: err.Error()}).Sort()
	}
	for _, sp := range schemaProblems {
		if !sp.Key && tree.refused(sp.Pointer) {
			continue
		}
		problems = append(problems, tree.problemAt(sp.Pointer, sp.Key, sp.Message))
	}
	sum := sha256.Sum256(data)
	fleet := &Fleet{File: name, SHA256: hex.EncodeToString(sum[:]), Positions: tree.positions()}
	d := decoder{fleet: fleet, tree: tree}
	d.decode(value)
	problems = append(problems, d.problems...)
	problems = append(problems, check(fleet, tree)...)
	if len(problems) > 0 {
		return nil, limitProblems(problems.Sort())
	}
	return fleet, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads the one document of data as a node tree, without expanding aliases.
func parseYAML(name string, data []byte) (doc *yaml.Node, problems Problems) {
	start := Pos{File: name, Line: 1, Col: 1}
	defer func() {
		// yaml.v3 has panicked on malformed input before; a manifest must never crash us.
		if r := recover(); r != nil {
			doc, problems = nil, Problems{{Pos: start, Message: fmt.Sprintf("cannot parse YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var first yaml.Node
	if err := dec.Decode(&first); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Problems{{Pos: start, Message: "the file is empty; a manifest starts with apiVersion: upgradeplan/v1"}}
		}
		return nil, Problems{yamlProblem(name, data, err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		problems = append(problems, Problem{Pos: Pos{File: name, Line: next.Line, Col: next.Column},
			Message: "a second YAML document; a manifest is one document (remove the ---)"})
	case !errors.Is(err, io.EOF):
		problems = append(problems, yamlProblem(name, data, err))
	}
	if first.Kind != yaml.DocumentNode || len(first.Content) != 1 {
		return nil, append(problems, Problem{Pos: start, Message: "the file holds no YAML document"})
	}
	if root := first.Content[0]; root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" && root.Value == "" {
		// Only a --- marker and comments: as empty as a file without them.
		return nil, append(problems, Problem{Pos: start, Message: "the file is empty; a manifest starts with apiVersion: upgradeplan/v1"})
	}
	return first.Content[0], problems
}

// yamlProblem turns "yaml: line 3: mapping values are not allowed" into a positioned problem;
// an error without a line is placed by lineless, and only one it cannot place stays at 1:1.
func yamlProblem(name string, data []byte, err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col := 1
		text := m[2]
		if hint, ok := parserProblems[text]; ok {
			// yaml.v3 reports a parser error (unlike a scanner error) with the 0-based line of
			// the block or flow collection it was reading: count from 1 like every position.
			line++
			text += hint
		}
		tabLine, tabCol, tab := findTab(data, line)
		if tab && (strings.Contains(text, "tab character") ||
			strings.Contains(text, "cannot start any token") && tabLine == line) {
			// yaml.v3 names the line of the enclosing key, or says only that a character
			// "cannot start any token": point at the tab itself and say what to do.
			line, col = tabLine, tabCol
			text = "a tab character in the indentation; indent with spaces only"
		}
		return Problem{Pos: Pos{File: name, Line: line, Col: col}, Message: "invalid YAML: " + text}
	}
	text := trimYAMLPrefix(msg)
	if line, col, located, ok := lineless(data, text); ok {
		return Problem{Pos: Pos{File: name, Line: line, Col: col}, Message: "invalid YAML: " + located}
	}
	return Problem{Pos: Pos{File: name, Line: 1, Col: 1}, Message: "invalid YAML: " + text}
}

// parserProblems are the yaml.v3 parser's messages (as opposed to its scanner's), each with
// what to look at. A block collection's error is almost always an indentation mistake below
// the line named.
var parserProblems = map[string]string{
	"did not find expected ',' or '}'":       " (the { on this line is not closed, or a , is missing)",
	"did not find expected ',' or ']'":       " (the [ on this line is not closed, or a , is missing)",
	"did not find expected key":              "; check the indentation from this line on",
	"did not find expected '-' indicator":    "; check the indentation from this line on",
	"did not find expected node content":     "",
	"did not find expected <document start>": "",
	"found undefined tag handle":             "",
	"found duplicate %YAML directive":        "",
	"found duplicate %TAG directive":         "",
	"found incompatible YAML document":       "",
	"did not find expected <stream-start>":   "",
}

// findTab returns the first tab in a line's indentation at or after line.
func findTab(data []byte, line int) (int, int, bool) {
	for i, text := range strings.Split(string(data), "\n") {
		if i+1 < line {
			continue
		}
		indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
		if j := strings.IndexByte(indent, '\t'); j >= 0 {
			return i + 1, j + 1, true
		}
	}
	return line, 1, false
}

func trimYAMLPrefix(s string) string {
	if len(s) > 6 && s[:6] == "yaml: " {
		return s[6:]
	}
	return s
}
