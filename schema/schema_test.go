package schema

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestEveryFieldHasADescriptionAndNoObjectAcceptsUnknownKeys(t *testing.T) {
	var tree any
	if err := json.Unmarshal(JSON(), &tree); err != nil {
		t.Fatal(err)
	}
	defs := tree.(map[string]any)["$defs"].(map[string]any)
	var walk func(ptr string, node any)
	walk = func(ptr string, node any) {
		m, ok := node.(map[string]any)
		if !ok {
			return
		}
		if m["type"] == "object" {
			if _, ok := m["properties"]; ok && m["additionalProperties"] != false {
				t.Errorf("%s: an object with properties must set additionalProperties: false", ptr)
			}
		}
		if props, ok := m["properties"].(map[string]any); ok && !strings.Contains(ptr, "/if") {
			for name, p := range props {
				pm, ok := p.(map[string]any)
				if !ok {
					continue // false: a field forbidden in a context
				}
				if _, ok := pm["description"]; !ok {
					t.Errorf("%s/properties/%s has no description", ptr, name)
				}
			}
		}
		for k, v := range m {
			switch x := v.(type) {
			case map[string]any:
				walk(ptr+"/"+k, x)
			case []any:
				for _, e := range x {
					walk(ptr+"/"+k+"[]", e)
				}
			}
		}
	}
	walk("#", tree)
	for name := range defs {
		if !strings.HasPrefix(name, "desired") {
			if _, ok := defs[name].(map[string]any)["description"]; !ok {
				t.Errorf("$defs/%s has no description", name)
			}
		}
	}
}

func TestTheSchemaNamesTheFiveKindsAndTheTwoKafkaVersions(t *testing.T) {
	var tree map[string]any
	if err := json.Unmarshal(JSON(), &tree); err != nil {
		t.Fatal(err)
	}
	target := tree["$defs"].(map[string]any)["target"].(map[string]any)
	kinds := target["properties"].(map[string]any)["kind"].(map[string]any)["enum"]
	want := []any{"alibaba.kafka", "alibaba.mongodb", "alibaba.rabbitmq", "alibaba.computenest", "tencent.redis"}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("kinds = %v, want %v", kinds, want)
	}
	var withDesired []string
	for _, c := range target["allOf"].([]any) {
		kind := c.(map[string]any)["if"].(map[string]any)["properties"].(map[string]any)["kind"].(map[string]any)["const"].(string)
		withDesired = append(withDesired, kind)
	}
	sort.Strings(withDesired)
	if len(withDesired) != 5 {
		t.Errorf("desired is checked for %v, want all five kinds", withDesired)
	}
}

func doc(desired string) any {
	var d any
	src := `{"apiVersion":"upgradeplan/v1","kind":"Fleet","metadata":{"name":"t"},
	"targets":[{"name":"a","kind":"tencent.redis","region":"ap-shanghai","select":{"ids":["x"]},"desired":` + desired + `}]}`
	dec := json.NewDecoder(strings.NewReader(src))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		panic(err)
	}
	return d
}

func TestProblemsNameTheJSONPointerAndSayWhatToChange(t *testing.T) {
	tests := []struct {
		name    string
		desired string
		want    []Problem
	}{
		{"a valid document has no problems", `{"memSizeMB": 8192}`, nil},
		{"a value problem points at the value", `{"memSizeMB": 3000}`,
			[]Problem{{Pointer: "/targets/0/desired/memSizeMB", Message: "3000 is not a multiple of 1024"}}},
		{"an unknown field points at its key", `{"memSizeMB": 8192, "memsize": 1}`,
			[]Problem{{Pointer: "/targets/0/desired/memsize", Key: true, Message: `unknown field "memsize"; valid fields: memSizeMB, replicas, shards`}}},
		{"a quoted number is told to drop the quotes", `{"shards": "4"}`,
			[]Problem{{Pointer: "/targets/0/desired/shards", Message: `must be an integer, not "4"; remove the quotes`}}},
		{"an empty desired lists the choices", `{}`,
			[]Problem{{Pointer: "/targets/0/desired", Message: "set at least one of: memSizeMB, replicas, shards"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Validate(doc(tt.desired))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestAValueThatIsNotJSONIsAnErrorNotAPanic(t *testing.T) {
	if _, err := Validate(map[string]any{"apiVersion": struct{}{}}); err == nil {
		t.Fatal("Validate accepted a Go struct")
	}
}
