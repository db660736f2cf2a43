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
	doc, problems := parseYAML(name, data)
	if doc == nil {
		return nil, problems.Sort()
	}
	tree := newTree(name)
	value, ok := tree.convert(doc)
	problems = append(problems, tree.problems...)
	if !ok {
		return nil, problems.Sort()
	}
	schemaProblems, err := schema.Validate(value)
	if err != nil {
		return nil, append(problems, Problem{Pos: start, Message: err.Error()}).Sort()
	}
	for _, sp := range schemaProblems {
		problems = append(problems, tree.problemAt(sp.Pointer, sp.Key, sp.Message))
	}
	sum := sha256.Sum256(data)
	fleet := &Fleet{File: name, SHA256: hex.EncodeToString(sum[:]), Positions: tree.positions()}
	d := decoder{fleet: fleet, tree: tree}
	d.decode(value)
	problems = append(problems, d.problems...)
	problems = append(problems, check(fleet, tree)...)
	if len(problems) > 0 {
		return nil, problems.Sort()
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
	return first.Content[0], problems
}

// yamlProblem turns "yaml: line 3: mapping values are not allowed" into a positioned problem.
func yamlProblem(name string, data []byte, err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		col := 1
		if strings.Contains(m[2], "tab character") {
			// yaml.v3 names the line of the enclosing key; point at the tab itself.
			line, col = findTab(data, line)
		}
		return Problem{Pos: Pos{File: name, Line: line, Col: col}, Message: "invalid YAML: " + m[2]}
	}
	return Problem{Pos: Pos{File: name, Line: 1, Col: 1}, Message: "invalid YAML: " + trimYAMLPrefix(msg)}
}

// findTab returns the first tab in a line's indentation at or after line, or line itself.
func findTab(data []byte, line int) (int, int) {
	for i, text := range strings.Split(string(data), "\n") {
		if i+1 < line {
			continue
		}
		indent := text[:len(text)-len(strings.TrimLeft(text, " \t"))]
		if j := strings.IndexByte(indent, '\t'); j >= 0 {
			return i + 1, j + 1
		}
	}
	return line, 1
}

func trimYAMLPrefix(s string) string {
	if len(s) > 6 && s[:6] == "yaml: " {
		return s[6:]
	}
	return s
}
