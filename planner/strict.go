package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// ErrNotStrict is the refusal of a plan file that is not exactly in the form plan writes:
// a key in another case, a key twice, an unknown key, or anything after the plan. Each of
// these is read one way by encoding/json and another by jq or a policy tool, so a reviewer
// could approve one plan and apply run another. `show` and `apply` exit 4 on it.
var ErrNotStrict = errors.New("the plan file is not in the exact form plan writes")

// errSyntax is checkStrict's answer to data that is no JSON: Decode then reports the
// decoder's own error.
var errSyntax = errors.New("plan: not JSON")

// checkStrict walks data's JSON against the Plan type: every object key must be one of its
// struct's json names, in their exact case, once; maps (params, from, to, accounts) take
// any key, once; nothing may follow the plan. The error names the line and column.
//
// It scans the bytes itself, one pass without allocating per value (a plan of 60,000
// steps is some 50 MB; encoding/json's token reader took longer than the decoding), and
// builds the path of a key only to name it in a refusal.
func checkStrict(data []byte) error {
	w := strictScanner{data: data}
	if err := w.value(shapeOf(reflect.TypeFor[Plan]())); err != nil {
		return err
	}
	if w.space(); w.i < len(w.data) {
		return w.refuse(w.i, "data after the plan's closing brace; a plan file holds one plan")
	}
	return nil
}

// shape is what the strict reader expects of one JSON value: an object of fields (a
// struct), an object of any keys whose values have elem's shape (a map), an array of elem
// (a slice), or anything (nil shape, fields and elem nil): a value decoded by its own rules,
// inside which only duplicate keys are looked for.
type shape struct {
	fields map[string]*shape // a struct: its json names
	isMap  bool
	elem   *shape // a map's values, a slice's elements
}

var (
	shapesMu sync.Mutex
	shapes   = map[reflect.Type]*shape{}
)

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// shapeOf is t's shape, built once per type.
func shapeOf(t reflect.Type) *shape {
	shapesMu.Lock()
	defer shapesMu.Unlock()
	return shapeLocked(t)
}

func shapeLocked(t reflect.Type) *shape {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	if s, ok := shapes[t]; ok {
		return s
	}
	s := &shape{}
	shapes[t] = s
	switch t.Kind() {
	case reflect.Struct:
		s.fields = map[string]*shape{}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch name {
			case "-":
				continue
			case "":
				name = f.Name
			}
			s.fields[name] = shapeLocked(f.Type)
		}
	case reflect.Map:
		s.isMap, s.elem = true, shapeLocked(t.Elem())
	case reflect.Slice, reflect.Array:
		s.elem = shapeLocked(t.Elem())
	}
	return s
}

// strictScanner reads data from i; path holds the keys and indexes leading to the value
// being read (an index as -1-i), rendered only for a refusal.
type strictScanner struct {
	data []byte
	i    int
	path []pathPart
}

type pathPart struct {
	key   []byte
	index int // -1: key
}

func (w *strictScanner) refuse(offset int, format string, args ...any) error {
	line, col := position(w.data, int64(offset))
	return fmt.Errorf("%w: line %d, column %d: %s", ErrNotStrict, line, col, fmt.Sprintf(format, args...))
}

// at renders the path as the refusals name it: "steps"[3]."params"."InstanceId".
func (w *strictScanner) at() string {
	var b strings.Builder
	for _, p := range w.path {
		if p.index >= 0 {
			b.WriteString("[" + strconv.Itoa(p.index) + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(strconv.Quote(string(p.key)))
	}
	return b.String()
}

func (w *strictScanner) space() {
	for w.i < len(w.data) {
		switch w.data[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

// value reads one JSON value of shape s.
func (w *strictScanner) value(s *shape) error {
	w.space()
	if w.i >= len(w.data) {
		return errSyntax
	}
	switch w.data[w.i] {
	case '{':
		return w.object(s)
	case '[':
		w.i++
		var elem *shape
		if s != nil && s.fields == nil && !s.isMap {
			elem = s.elem
		}
		for n := 0; ; n++ {
			w.space()
			if w.i < len(w.data) && w.data[w.i] == ']' && n == 0 {
				w.i++
				return nil
			}
			w.path = append(w.path, pathPart{index: n})
			err := w.value(elem)
			w.path = w.path[:len(w.path)-1]
			if err != nil {
				return err
			}
			if done, err := w.next(']'); done || err != nil {
				return err
			}
		}
	case '"':
		_, _, err := w.str()
		return err
	default: // a number or a literal: up to the next delimiter
		start := w.i
	scan:
		for ; w.i < len(w.data); w.i++ {
			switch w.data[w.i] {
			case ',', ']', '}', ' ', '\t', '\r', '\n':
				break scan
			}
		}
		if w.i == start {
			return errSyntax
		}
		return nil
	}
}

// next reads the comma or the closing delimiter after an element: done at the close.
func (w *strictScanner) next(closing byte) (done bool, err error) {
	w.space()
	if w.i >= len(w.data) {
		return false, errSyntax
	}
	switch w.data[w.i] {
	case ',':
		w.i++
		return false, nil
	case closing:
		w.i++
		return true, nil
	}
	return false, errSyntax
}

func (w *strictScanner) object(s *shape) error {
	w.i++
	var fields map[string]*shape
	var elem *shape
	if s != nil {
		fields = s.fields
		if s.isMap {
			elem = s.elem
		}
	}
	// The keys seen so far: a few in a slice on the stack, many in a map.
	var few [16][]byte
	seen, many := few[:0], map[string]bool(nil)
	for n := 0; ; n++ {
		w.space()
		if w.i < len(w.data) && w.data[w.i] == '}' && n == 0 {
			w.i++
			return nil
		}
		if w.i >= len(w.data) || w.data[w.i] != '"' {
			return errSyntax
		}
		key, escaped, err := w.str()
		if err != nil {
			return err
		}
		if escaped {
			var k string
			if json.Unmarshal(w.data[w.i-len(key)-2:w.i], &k) != nil {
				return errSyntax
			}
			key = []byte(k)
		}
		offset := w.i
		w.path = append(w.path, pathPart{key: key, index: -1})
		dup := many[string(key)]
		for _, k := range seen {
			dup = dup || bytes.Equal(k, key)
		}
		if dup {
			return w.refuse(offset, "%s: the key appears twice; a key is written once", w.at())
		}
		if seen = append(seen, key); len(seen) > len(few) {
			if many == nil {
				many = map[string]bool{}
			}
			for _, k := range seen {
				many[string(k)] = true
			}
			seen = seen[:0]
		}
		ft := elem
		if fields != nil {
			f, ok := fields[string(key)]
			if !ok {
				for name := range fields {
					if strings.EqualFold(name, string(key)) {
						return w.refuse(offset, "%s: plan files spell this key %q, in that case", w.at(), name)
					}
				}
				return w.refuse(offset, "%s: not a key of a plan file", w.at())
			}
			ft = f
		}
		if w.space(); w.i >= len(w.data) || w.data[w.i] != ':' {
			return errSyntax
		}
		w.i++
		err = w.value(ft)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
		if done, err := w.next('}'); done || err != nil {
			return err
		}
	}
}

// str reads a string at w.i and returns its raw bytes between the quotes, and whether it
// holds an escape.
func (w *strictScanner) str() (raw []byte, escaped bool, err error) {
	start := w.i + 1
	for i := start; i < len(w.data); i++ {
		switch w.data[i] {
		case '\\':
			escaped = true
			i++
		case '"':
			w.i = i + 1
			return w.data[start:i], escaped, nil
		}
	}
	return nil, false, errSyntax
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}
