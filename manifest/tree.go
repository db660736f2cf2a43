package manifest

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Limits that keep a hostile manifest from costing time or memory.
const (
	// maxAliasValues bounds how many values aliases may expand to in one file: enough to
	// share a desired block among many targets, far too few for a "billion laughs".
	maxAliasValues = 10_000
	// maxDepth bounds nesting; a manifest needs about six levels.
	maxDepth = 64
)

// loc is where one value of the document stands.
type loc struct {
	path   string // manifest path: targets[1].desired.memSizeMB
	value  Pos    // the value
	key    Pos    // its key in the enclosing mapping (the value's position for list items)
	quoted bool   // a quoted scalar
	// refused: the scalar itself could not be read (and was reported); the schema sees it as
	// null, and its complaint about that would only repeat the problem.
	refused bool
}

// tree converts a YAML node tree into plain JSON-like values (map[string]any, []any,
// string, bool, json.Number, nil) for the schema, and remembers where each value stood,
// by JSON pointer.
type tree struct {
	file     string
	locs     map[string]loc
	problems Problems
	expanded int  // values reached through aliases
	aborted  bool // a limit was hit: stop converting
	// expanding holds the anchors being expanded, to catch an alias inside its own anchor.
	expanding map[*yaml.Node]bool
	// outerAlias is the alias, outside any other alias, being expanded: where a problem
	// found inside an expansion is reported.
	outerAlias *yaml.Node
}

func newTree(file string) *tree {
	return &tree{file: file, locs: make(map[string]loc), expanding: make(map[*yaml.Node]bool)}
}

func (t *tree) pos(n *yaml.Node) Pos { return Pos{File: t.file, Line: n.Line, Col: n.Column} }

func (t *tree) problem(n *yaml.Node, path, format string, args ...any) {
	t.problems = append(t.problems, Problem{Pos: t.pos(n), Path: path, Message: fmt.Sprintf(format, args...)})
}

// convert returns the document as plain values; false when a limit stopped it.
func (t *tree) convert(root *yaml.Node) (any, bool) {
	v := t.value(root, "", "", t.pos(root), 0, false)
	return v, !t.aborted
}

// positions returns every value's position by manifest path.
func (t *tree) positions() map[string]Pos {
	out := make(map[string]Pos, len(t.locs))
	for _, l := range t.locs {
		if l.path != "" {
			out[l.path] = l.value
		}
	}
	return out
}

// at returns the location of the value at ptr, or of the nearest enclosing value.
func (t *tree) at(ptr string) loc {
	for p := ptr; ; {
		if l, ok := t.locs[p]; ok {
			return l
		}
		if p == "" {
			return loc{value: Pos{File: t.file, Line: 1, Col: 1}, key: Pos{File: t.file, Line: 1, Col: 1}}
		}
		p = p[:strings.LastIndexByte(p, '/')]
	}
}

// refused reports whether the scalar at ptr could not be read and was reported already.
func (t *tree) refused(ptr string) bool { return t.locs[ptr].refused }

// problemAt positions a problem found at a JSON pointer: at the key when onKey.
func (t *tree) problemAt(ptr string, onKey bool, msg string) Problem {
	l := t.at(ptr)
	pos := l.value
	if onKey {
		pos = l.key
	}
	return Problem{Pos: pos, Path: l.path, Message: msg}
}

func (t *tree) value(n *yaml.Node, ptr, path string, key Pos, depth int, viaAlias bool) any {
	if t.aborted {
		return nil
	}
	if viaAlias {
		t.expanded++
		if t.expanded > maxAliasValues {
			t.problem(t.outerAlias, section(path), "YAML aliases expand to more than %d values; write the values out or use fewer aliases", maxAliasValues)
			t.aborted = true
			return nil
		}
	}
	if depth > maxDepth {
		t.problem(n, section(path), "nested more than %d levels deep", maxDepth)
		t.aborted = true
		return nil
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			t.problem(n, path, "unknown YAML alias *%s", n.Value)
			return nil
		}
		if t.expanding[n.Alias] {
			t.problem(n, section(path), "alias *%s is used inside its own anchor &%s", n.Value, n.Value)
			t.aborted = true
			return nil
		}
		// The alias itself is where the value is used; what it expands to keeps the
		// anchor's positions.
		if !viaAlias {
			t.outerAlias = n
		}
		t.expanding[n.Alias] = true
		v := t.value(n.Alias, ptr, path, key, depth+1, true)
		delete(t.expanding, n.Alias)
		if l, ok := t.locs[ptr]; ok {
			l.value = t.pos(n)
			t.locs[ptr] = l
		}
		return v
	}
	t.locs[ptr] = loc{path: path, value: t.pos(n), key: key, quoted: n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0}
	switch n.Kind {
	case yaml.MappingNode:
		return t.mapping(n, ptr, path, depth, viaAlias)
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for i, item := range n.Content {
			list = append(list, t.value(item, ptr+"/"+strconv.Itoa(i), fmt.Sprintf("%s[%d]", path, i), t.pos(item), depth+1, viaAlias))
		}
		return list
	case yaml.ScalarNode:
		before := len(t.problems)
		v := t.scalar(n, path)
		if len(t.problems) > before {
			l := t.locs[ptr]
			l.refused = true
			t.locs[ptr] = l
		}
		return v
	case yaml.DocumentNode:
		t.problem(n, path, "unexpected YAML document")
		return nil
	}
	t.problem(n, path, "unexpected YAML node")
	return nil
}

func (t *tree) mapping(n *yaml.Node, ptr, path string, depth int, viaAlias bool) map[string]any {
	out := make(map[string]any, len(n.Content)/2)
	firstAt := make(map[string]Pos, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			t.problem(k, path, "a key must be a plain word, not a %s", kindName(k))
			continue
		}
		name := k.Value
		childPath := joinPath(path, name)
		if at, dup := firstAt[name]; dup {
			t.problem(k, childPath, "duplicate key %q (first at line %d); remove one", name, at.Line)
			continue
		}
		firstAt[name] = t.pos(k)
		out[name] = t.value(v, ptr+"/"+escapePointer(name), childPath, t.pos(k), depth+1, viaAlias)
	}
	// Merge keys (<<: *base) add the keys this mapping does not set itself.
	for _, m := range merges {
		var sources []*yaml.Node
		switch {
		case m.Kind == yaml.AliasNode || m.Kind == yaml.MappingNode:
			sources = []*yaml.Node{m}
		case m.Kind == yaml.SequenceNode:
			sources = m.Content
		}
		for _, src := range sources {
			alias := src.Kind == yaml.AliasNode
			target := src
			if alias {
				target = src.Alias
			}
			if target == nil || target.Kind != yaml.MappingNode {
				t.problem(src, path, "<< must merge a mapping or a list of mappings")
				continue
			}
			for i := 0; i+1 < len(target.Content); i += 2 {
				k, v := target.Content[i], target.Content[i+1]
				if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
					continue
				}
				if _, set := out[k.Value]; set {
					continue
				}
				if _, set := firstAt[k.Value]; set {
					continue
				}
				firstAt[k.Value] = t.pos(k)
				out[k.Value] = t.value(v, ptr+"/"+escapePointer(k.Value), joinPath(path, k.Value), t.pos(k), depth+1, viaAlias || alias)
			}
		}
	}
	return out
}

func (t *tree) scalar(n *yaml.Node, path string) any {
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			t.problem(n, path, "%q is not true or false", n.Value)
			return nil
		}
		return b
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			t.problem(n, path, "%s is not an integer that fits in 64 bits", n.Value)
			return nil
		}
		return json.Number(strconv.FormatInt(i, 10))
	case "!!float":
		if integerLiteral.MatchString(n.Value) {
			// yaml.v3 reads an integer beyond 64 bits as a float; as a count or a size it would
			// silently lose digits (or be dropped), so say what it is.
			t.problem(n, path, "%s is not an integer that fits in 64 bits", n.Value)
			return nil
		}
		var f float64
		if err := n.Decode(&f); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			t.problem(n, path, "%s is not a finite number", n.Value)
			return nil
		}
		if jsonNumber.MatchString(n.Value) {
			return json.Number(n.Value) // keeps "2.20" as written, for messages
		}
		return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
	case "!!str", "!!timestamp", "!!binary":
		return n.Value
	default:
		t.problem(n, path, "unsupported YAML tag %s; remove it", tag)
		return nil
	}
}

// integerLiteral is a YAML integer written in decimal (a float tag on one means it overflowed).
var integerLiteral = regexp.MustCompile(`^[-+]?[0-9][0-9_]*$`)

var jsonNumber = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// joinPath appends a key to a manifest path: "a.b", or a["x.y/z"] for keys that are not
// plain words (qps keys, tag keys).
func joinPath(path, key string) string {
	if plainKey.MatchString(key) {
		if path == "" {
			return key
		}
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// section shortens a path to its top-level key, for problems found deep in a hostile file.
func section(path string) string {
	if i := strings.IndexAny(path, ".["); i > 0 {
		return path[:i]
	}
	return path
}

func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
