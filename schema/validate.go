package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// Problem is one schema violation.
type Problem struct {
	// Pointer is the JSON pointer of the value at fault ("/targets/1/desired/memSizeMB"),
	// "" for the document.
	Pointer string
	// Key is true when the problem is the property name at Pointer (an unknown field, an
	// invalid key) rather than its value.
	Key bool
	// Message says what is wrong and what to change. It never repeats a value that may be a
	// secret.
	Message string
}

// Validate checks doc, a decoded document made of map[string]any, []any, string, bool,
// json.Number, float64 and nil, and returns every violation. The error is for a schema that
// cannot be compiled or a value of another Go type, never for an invalid document.
func Validate(doc any) (problems []Problem, err error) {
	c, err := compile()
	if err != nil {
		return nil, err
	}
	defer func() {
		// jsonschema panics on Go values that are not JSON; the caller built doc.
		if r := recover(); r != nil {
			problems, err = nil, fmt.Errorf("schema: validate: %v", r)
		}
	}()
	verr := c.schema.Validate(doc)
	if verr == nil {
		return nil, nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(verr, &ve) {
		return nil, fmt.Errorf("schema: validate: %w", verr)
	}
	r := renderer{tree: c.tree, doc: doc}
	r.walk(ve)
	return dedupe(r.problems), nil
}

func dedupe(ps []Problem) []Problem {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		if c := strings.Compare(a.Pointer, b.Pointer); c != 0 {
			return c
		}
		return strings.Compare(a.Message, b.Message)
	})
	return slices.Compact(ps)
}

type renderer struct {
	tree     any
	doc      any
	problems []Problem
}

func (r *renderer) add(ptr string, key bool, format string, args ...any) {
	r.problems = append(r.problems, Problem{Pointer: ptr, Key: key, Message: fmt.Sprintf(format, args...)})
}

// walk turns the library's error tree into problems with messages of our own: the library's
// messages name schema internals, ours say what to change.
func (r *renderer) walk(ve *jsonschema.ValidationError) {
	loc := schemaPointer(ve.AbsoluteKeywordLocation)
	keyword := lastSegment(ve.KeywordLocation)
	if keyword == "anyOf" {
		r.anyOf(ve, loc)
		return
	}
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			r.walk(c)
		}
		return
	}
	node, _ := lookup(r.tree, loc)
	parent, _ := lookup(r.tree, parentPointer(loc))
	parentMap, _ := parent.(map[string]any)
	value, _ := lookup(r.doc, ve.InstanceLocation)
	inst := ve.InstanceLocation
	onKey := strings.Contains(ve.KeywordLocation, "/propertyNames")
	if onKey {
		keyword = lastSegment(ve.KeywordLocation)
	}
	secret := loc == "/$defs/secretRef/type"
	if b, ok := node.(bool); ok && !b && strings.HasSuffix(parentPointer(loc), "/properties") {
		// A false schema: the field is not allowed in this context.
		r.add(inst, true, "field %q is not allowed%s", unescape(lastSegment(inst)), r.condition(loc))
		return
	}

	switch keyword {
	case "type":
		want := typeNames(node)
		switch {
		case secret:
			r.add(inst, false, "must be {fromEnv: NAME}: a secret is read from the environment when a call is made, never written in the manifest")
		case loc == "/$defs/duration/type":
			// Quoting a bare number would not help: "15" is no duration either.
			r.add(inst, false, "must be a duration with a unit, not %s; write it like 15s, 30m or 1h30m", describe(value))
		case parentMap["enum"] != nil:
			enum, _ := parentMap["enum"].([]any)
			r.add(inst, false, "must be %s, not %s%s", oneOf(enum), describe(value), enumHint(enum, value))
		default:
			r.add(inst, false, "must be %s, not %s%s", want, describe(value), typeHint(node, value))
		}
	case "required":
		names, _ := node.([]any)
		obj, _ := value.(map[string]any)
		props, _ := parentMap["properties"].(map[string]any)
		for _, n := range names {
			name, _ := n.(string)
			if _, ok := obj[name]; ok {
				continue
			}
			msg := fmt.Sprintf("missing required field %q", name)
			if prop, ok := props[name].(map[string]any); ok {
				if enum, ok := prop["enum"].([]any); ok {
					msg += " (" + oneOf(enum) + ")"
				}
			}
			msg += r.condition(loc)
			r.add(inst, false, "%s", msg)
		}
	case "additionalProperties":
		obj, _ := value.(map[string]any)
		props, _ := parentMap["properties"].(map[string]any)
		valid := make([]string, 0, len(props))
		for name, sch := range props {
			if b, ok := sch.(bool); ok && !b {
				continue
			}
			valid = append(valid, name)
		}
		slices.Sort(valid)
		for name := range obj {
			if _, ok := props[name]; ok {
				continue
			}
			r.add(inst+"/"+escape(name), true, "unknown field %q; valid fields: %s", name, strings.Join(valid, ", "))
		}
	case "enum":
		enum, _ := node.([]any)
		if onKey {
			r.add(inst, true, "unknown key %q; valid keys: %s", unescape(lastSegment(inst)), strings.Join(strs(enum), ", "))
			return
		}
		r.add(inst, false, "must be %s, not %s%s", oneOf(enum), describe(value), enumHint(enum, value))
	case "const":
		r.add(inst, false, "must be %s, not %s", quoteJSON(node), describe(value))
	case "minProperties":
		props, _ := parentMap["properties"].(map[string]any)
		names := make([]string, 0, len(props))
		for name := range props {
			names = append(names, name)
		}
		slices.Sort(names)
		if len(names) > 0 {
			r.add(inst, false, "set at least one of: %s", strings.Join(names, ", "))
		} else {
			r.add(inst, false, "must not be empty")
		}
	case "minItems":
		r.add(inst, false, "must list at least %v item(s)", node)
	case "minLength":
		if onKey {
			r.add(inst, true, "a key must not be empty")
			return
		}
		r.add(inst, false, "must not be empty")
	case "uniqueItems":
		list, _ := value.([]any)
		for j := range list {
			for i := range j {
				if equalJSON(list[i], list[j]) {
					r.add(inst+"/"+strconv.Itoa(j), false, "%s is listed twice (items %d and %d); remove one", describe(list[j]), i, j)
					break
				}
			}
		}
	case "minimum":
		r.add(inst, false, "must be at least %v, not %s", node, describe(value))
	case "exclusiveMinimum":
		r.add(inst, false, "must be greater than %v, not %s", node, describe(value))
	case "multipleOf":
		r.add(inst, false, "%s is not a multiple of %v", describe(value), node)
	case "pattern":
		desc, _ := parentMap["description"].(string)
		if onKey {
			r.add(inst, true, "%q is not a valid key; expected %s", unescape(lastSegment(inst)), lowerFirst(desc))
			return
		}
		r.add(inst, false, "%s is not valid; expected %s", describe(value), lowerFirst(desc))
	default:
		r.add(inst, false, "%s", ve.Message)
	}
}

// anyOf reports a value that matches none of the alternatives. A mapping is checked against
// the alternative that accepts mappings, so {fromEnv: 1} says what is wrong inside it.
func (r *renderer) anyOf(ve *jsonschema.ValidationError, loc string) {
	value, _ := lookup(r.doc, ve.InstanceLocation)
	node, _ := lookup(r.tree, loc)
	alts, _ := node.([]any)
	if _, isMap := value.(map[string]any); isMap {
		for i, alt := range alts {
			if refersToSecret(alt) && i < len(ve.Causes) {
				r.walk(ve.Causes[i])
				return
			}
		}
	}
	var kinds []string
	for _, alt := range alts {
		if refersToSecret(alt) {
			kinds = append(kinds, "{fromEnv: NAME}")
			continue
		}
		kinds = append(kinds, typeList(alt)...)
	}
	r.add(ve.InstanceLocation, false, "must be %s, not %s", orList(kinds), describe(value))
}

func refersToSecret(alt any) bool {
	m, _ := alt.(map[string]any)
	ref, _ := m["$ref"].(string)
	return ref == "#/$defs/secretRef"
}

// condition explains a rule that applies only in a context: " when cloud is alibaba" for a
// keyword under an if/then whose if tests one const.
func (r *renderer) condition(loc string) string {
	i := strings.LastIndex(loc, "/then/")
	if i < 0 {
		if !strings.HasSuffix(loc, "/then") {
			return ""
		}
		i = len(loc) - len("/then")
	}
	cond, _ := lookup(r.tree, loc[:i]+"/if/properties")
	props, _ := cond.(map[string]any)
	for name, sch := range props {
		if m, ok := sch.(map[string]any); ok {
			if c, ok := m["const"]; ok {
				return fmt.Sprintf(" when %s is %v", name, c)
			}
		}
	}
	return ""
}

// typeNames renders a schema's type keyword for people: "an integer", "a string or a number".
func typeNames(t any) string { return orList(typeList(t)) }

func typeList(t any) []string {
	var names []string
	switch x := t.(type) {
	case string:
		names = []string{x}
	case []any:
		names = strs(x)
	case map[string]any:
		return typeList(x["type"])
	}
	for i, n := range names {
		names[i] = typeArticle(n)
	}
	return names
}

// orList joins alternatives: "a", "a or b", "a, b or c".
func orList(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

func lowerFirst(s string) string {
	if s == "" {
		return "another form"
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func typeArticle(t string) string {
	switch t {
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "string":
		return "a string"
	case "boolean":
		return "a boolean (true or false)"
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "null":
		return "empty"
	}
	return t
}

// typeHint suggests quoting a YAML number or boolean where a string is wanted, and dropping
// quotes where a number is wanted.
func typeHint(t any, value any) string {
	want := typeNames(t)
	switch v := value.(type) {
	case json.Number, float64, bool:
		if strings.Contains(want, "a string") || strings.Contains(want, "\"") {
			return fmt.Sprintf("; quote it: \"%v\"", v)
		}
	case string:
		if _, err := strconv.ParseFloat(v, 64); err == nil && (strings.Contains(want, "integer") || strings.Contains(want, "number")) {
			return "; remove the quotes"
		}
	}
	return ""
}

// enumHint says what to write instead of a value outside enum: the quoted form when YAML read
// a listed string as a number or a boolean, or the one listed value the text begins (2.2 for
// "2.2.0"). Telling someone to quote 2.2 would only earn them the next error.
func enumHint(enum []any, value any) string {
	var text string
	switch v := value.(type) {
	case string:
		text = v
	case json.Number, bool:
		text = fmt.Sprint(v)
	default:
		return ""
	}
	_, isString := value.(string)
	var prefixed []string
	for _, e := range enum {
		s, ok := e.(string)
		if !ok {
			continue
		}
		if s == text && !isString {
			return fmt.Sprintf("; quote it: %q", s)
		}
		if text != "" && strings.HasPrefix(s, text) && s != text {
			prefixed = append(prefixed, s)
		}
	}
	if len(prefixed) != 1 {
		return ""
	}
	if isString {
		return fmt.Sprintf("; did you mean %q?", prefixed[0])
	}
	return fmt.Sprintf("; write %q, in quotes", prefixed[0])
}

// describe renders a document value for a message. Strings are quoted; mappings and lists
// are named, not printed.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "empty"
	case string:
		return strconv.Quote(x)
	case bool, json.Number:
		return fmt.Sprint(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Sprint(x)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case map[string]any:
		return "a mapping"
	case []any:
		return "a list"
	}
	return fmt.Sprintf("%v", v)
}

func oneOf(enum []any) string {
	qs := make([]string, len(enum))
	for i, e := range enum {
		qs[i] = quoteJSON(e)
	}
	if len(qs) == 1 {
		return qs[0]
	}
	return "one of " + strings.Join(qs, ", ")
}

func quoteJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func strs(xs []any) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprint(x)
	}
	return out
}

func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// schemaPointer returns the fragment of an absolute keyword location, unescaped from URL
// encoding: "https://…#/$defs/name/pattern" → "/$defs/name/pattern".
func schemaPointer(abs string) string {
	_, frag, _ := strings.Cut(abs, "#")
	if u, err := url.PathUnescape(frag); err == nil {
		return u
	}
	return frag
}

func lastSegment(ptr string) string {
	i := strings.LastIndexByte(ptr, '/')
	return ptr[i+1:]
}

func parentPointer(ptr string) string {
	i := strings.LastIndexByte(ptr, '/')
	if i < 0 {
		return ""
	}
	return ptr[:i]
}

// escape encodes a property name as a JSON pointer token.
func escape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func unescape(s string) string {
	return strings.NewReplacer("~1", "/", "~0", "~").Replace(s)
}

// lookup follows a JSON pointer into a decoded JSON value.
func lookup(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = unescape(tok)
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}
