package providertest

import (
	"reflect"
	"strings"
	"testing"
)

// JSONPaths lists the answer paths a lean decoding struct reads, spelled as the API
// models (cloudsim/contract) spell them: "DBInstances.DBInstance[].DBInstanceId". Embedded
// structs (the SDK's BaseResponse) and fields without a json tag are skipped; a struct
// inside a slice adds "[]".
func JSONPaths(v any) []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous || name == "" || name == "-" {
				continue
			}
			p := prefix + name
			out = append(out, p)
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Struct:
				walk(ft, p+".")
			case ft.Kind() == reflect.Slice && elem(ft).Kind() == reflect.Struct:
				walk(elem(ft), p+"[].")
			}
		}
	}
	walk(reflect.TypeOf(v), "")
	return out
}

func elem(t reflect.Type) reflect.Type {
	t = t.Elem()
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// CheckModelPaths fails t for every path of lean (JSONPaths) that the action's model does
// not have, except the ones named in sdkOnly (fields the SDK's own struct decodes though the
// current model lacks them).
func CheckModelPaths(t testing.TB, lean any, model map[string]bool, sdkOnly ...string) {
	t.Helper()
	skip := map[string]bool{}
	for _, p := range sdkOnly {
		skip[p] = true
	}
	for _, p := range JSONPaths(lean) {
		if !model[p] && !skip[p] {
			t.Errorf("%T reads %s, which the API model does not have", lean, p)
		}
	}
}
