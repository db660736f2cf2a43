// Package jsonappend appends JSON values with exactly encoding/json's bytes, without its
// reflection for the common cases: strings that need no escaping, integers, booleans, nil,
// []string and map[string]any with sorted keys. Anything else (floats, nested values, a
// string json.Marshal would escape) is handed to encoding/json, so the bytes never differ.
// It owns no format: the plan encoder (planner/stepjson.go) builds its records from it.
package jsonappend

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Strings appends ss as json.Marshal writes a []string.
func Strings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, s)
	}
	return append(b, ']')
}

// String appends s as json.Marshal does: as it is when every byte is printable
// ASCII that needs no escape (", \, and the HTML characters <, >, & are escaped by
// json.Marshal), else through json.Marshal.
func String(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// Map appends a map[string]any (or provider.Values) as json.Marshal does: null
// when nil, keys sorted.
func Map[M ~map[string]any](b []byte, m M) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = String(b, k)
		b = append(b, ':')
		var err error
		if b, err = Value(b, m[k]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// Value appends v as json.Marshal does: strings, booleans, integers and nil here, anything
// else through json.Marshal.
func Value(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return String(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	}
	q, err := json.Marshal(v)
	return append(b, q...), err
}
