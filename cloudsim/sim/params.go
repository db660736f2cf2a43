package sim

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// RequestModel is implemented by a TC3 product that knows its actions' request
// parameters as the vendor's current API model lists them: dotted names with "[]" for a
// list's elements ("InstanceTags", "InstanceTags[].TagKey"), each with its model type
// ("string", "integer", "number", "boolean", "object", "array<string>",
// "array<integer>", "array<object>"). With it the server refuses parameters the model
// lacks (UnknownParameter, as Tencent does) and types the parameters of GET and
// signature v1 requests, which arrive flattened as strings ("InstanceIds.0=crs-1"),
// before the action sees them as a JSON body. Without it, flattened parameters become
// JSON strings and lists, and no name is refused.
type RequestModel interface {
	// RequestParams returns the action's parameters, nil when the model is unknown.
	RequestParams(action string) map[string]string
}

func requestModel(p Product, action string) map[string]string {
	if m, ok := p.(RequestModel); ok {
		return m.RequestParams(action)
	}
	return nil
}

// unknownParameter returns the first name in a JSON body the model lacks, "" for none
// (a body that is not JSON is the action's to refuse).
func unknownParameter(body []byte, model map[string]string) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return unknownIn(v, "", model)
}

func unknownIn(v any, path string, model map[string]string) string {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if _, ok := model[p]; !ok {
				return p
			}
			if u := unknownIn(x[k], p, model); u != "" {
				return u
			}
		}
	case []any:
		for _, e := range x {
			if u := unknownIn(e, path+"[]", model); u != "" {
				return u
			}
		}
	}
	return ""
}

// unflatten turns flattened parameters ("InstanceTags.0.TagKey=env", "Limit=10") into
// the JSON body a POST would have carried, typed by the model when there is one.
func unflatten(flat url.Values, model map[string]string) ([]byte, *APIError) {
	root := map[string]any{}
	for _, key := range slices.Sorted(maps.Keys(flat)) {
		segs := strings.Split(key, ".")
		cur, path, parentType := root, "", ""
		for i, seg := range segs {
			if isIndex(seg) && path != "" {
				if model != nil && !strings.HasPrefix(parentType, "array") {
					return nil, unknownParam(key)
				}
				path += "[]"
			} else if path == "" {
				path = seg
			} else {
				path += "." + seg
			}
			typ, known := model[path]
			if strings.HasSuffix(path, "[]") {
				typ, known = strings.TrimSuffix(strings.TrimPrefix(parentType, "array<"), ">"), true
			}
			if model != nil && !known {
				return nil, unknownParam(key)
			}
			if i == len(segs)-1 {
				v, err := typed(flat.Get(key), typ)
				if err != nil {
					return nil, Errorf(http.StatusOK, "InvalidParameterValue", "The value %q of parameter `%s` is not a valid %s.", flat.Get(key), key, typ)
				}
				cur[seg] = v
				break
			}
			child, ok := cur[seg].(map[string]any)
			if !ok {
				child = map[string]any{}
				cur[seg] = child
			}
			cur, parentType = child, typ
		}
	}
	b, err := json.Marshal(listsOf(root))
	if err != nil {
		return nil, Errorf(http.StatusInternalServerError, "InternalError", "simulator: encode flattened parameters: %v", err)
	}
	return b, nil
}

func unknownParam(name string) *APIError {
	return Errorf(http.StatusOK, "UnknownParameter", "The parameter `%s` is not recognized.", name)
}

func isIndex(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// typed converts a flattened value to the model type's JSON value.
func typed(v, typ string) (any, error) {
	switch typ {
	case "integer":
		return strconv.ParseInt(v, 10, 64)
	case "number":
		return strconv.ParseFloat(v, 64)
	case "boolean":
		return strconv.ParseBool(v)
	}
	return v, nil
}

// listsOf turns every map whose keys are all indexes into a list in index order.
func listsOf(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	allIndex := len(m) > 0
	for k, e := range m {
		m[k] = listsOf(e)
		allIndex = allIndex && isIndex(k)
	}
	if !allIndex {
		return m
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	list := make([]any, len(keys))
	for i, k := range keys {
		list[i] = m[k]
	}
	return list
}
