package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// ErrNotStrict is the refusal of a plan file that is not exactly in the form plan writes:
// a key in another case, a key twice, an unknown key, or anything after the plan. Each of
// these is read one way by encoding/json and another by jq or a policy tool, so a reviewer
// could approve one plan and apply run another. `show` and `apply` exit 4 on it.
var ErrNotStrict = errors.New("the plan file is not in the exact form plan writes")

// checkStrict walks data's JSON tokens against the Plan type: every object key must be one
// of its struct's json names, in their exact case, once; maps (params, from, to, accounts)
// take any key, once; nothing may follow the plan. The error names the line and column.
func checkStrict(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := strictWalker{dec: dec, data: data}
	if err := w.value(reflect.TypeFor[Plan](), ""); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return w.refuse("data after the plan's closing brace; a plan file holds one plan")
	}
	return nil
}

type strictWalker struct {
	dec  *json.Decoder
	data []byte
}

func (w *strictWalker) refuse(format string, args ...any) error {
	line, col := position(w.data, w.dec.InputOffset())
	return fmt.Errorf("%w: line %d, column %d: %s", ErrNotStrict, line, col, fmt.Sprintf(format, args...))
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// value reads one JSON value expected to be of type t (nil: any JSON).
func (w *strictWalker) value(t reflect.Type, path string) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t.Kind() == reflect.Interface || reflect.PointerTo(t).Implements(unmarshaler)) {
		t = nil // decoded by its own rules; only duplicate keys are looked for inside
	}
	tok, err := w.dec.Token()
	if err != nil {
		return err // a syntax error: the decoder that follows says it with its own words
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch delim {
	case '[':
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; w.dec.More(); i++ {
			if err := w.value(elem, path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case '{':
		fields := jsonFields(t)
		seen := map[string]bool{}
		for w.dec.More() {
			tok, err := w.dec.Token()
			if err != nil {
				return err
			}
			key, _ := tok.(string)
			at := joinKey(path, key)
			if seen[key] {
				return w.refuse("%s: the key appears twice; a key is written once", at)
			}
			seen[key] = true
			var ft reflect.Type
			switch {
			case fields != nil:
				f, ok := fields[key]
				if !ok {
					for name := range fields {
						if strings.EqualFold(name, key) {
							return w.refuse("%s: plan files spell this key %q, in that case", at, name)
						}
					}
					return w.refuse("%s: not a key of a plan file", at)
				}
				ft = f
			case t != nil && t.Kind() == reflect.Map:
				ft = t.Elem()
			}
			if err := w.value(ft, at); err != nil {
				return err
			}
		}
	}
	_, err = w.dec.Token() // the closing delimiter
	return err
}

// jsonFields maps a struct's json names to their types; nil for anything but a struct.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	out := map[string]reflect.Type{}
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
		out[name] = f.Type
	}
	return out
}

func joinKey(path, key string) string {
	if path == "" {
		return strconv.Quote(key)
	}
	return path + "." + strconv.Quote(key)
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
