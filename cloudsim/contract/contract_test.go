package contract

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

func TestEveryModelLoadsWithItsSources(t *testing.T) {
	all, err := Models()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 16 {
		t.Errorf("%d models, want the 16 actions of reference/api-models", len(all))
	}
	for key, m := range all {
		if len(m.Response) == 0 || m.Version == "" {
			t.Errorf("%s: model without a response or version", key)
		}
	}
	// Every field carries its src line: spot-check the raw files.
	raw, _ := modelFiles.ReadFile("models/tencent/redis/UpgradeInstance.json")
	if !strings.Contains(string(raw), `"src": "TencentCloud/tencentcloud-cli@`) {
		t.Error("the copied models lost their src lines")
	}
}

func TestEverySimulatedActionHasACurrentModel(t *testing.T) {
	all, _ := Models()
	for _, p := range cloudsim.Products() {
		cloud := cloudOf(p.Protocol())
		for _, action := range slices.Sorted(maps.Keys(p.Actions())) {
			m := all[cloud+"/"+p.Name()+"/"+action]
			if m == nil {
				t.Errorf("%s %s: the simulator answers it, but no model does", p.Name(), action)
			} else if m.Version != p.Version() {
				t.Errorf("%s %s: simulator version %s, model %s", p.Name(), action, p.Version(), m.Version)
			}
		}
	}
}

func TestTencentRequestModelsAreTheCurrentModels(t *testing.T) {
	all, _ := Models()
	for _, p := range cloudsim.Products() {
		rm, ok := p.(sim.RequestModel)
		if p.Protocol() != sim.TC3 {
			continue
		}
		if !ok {
			t.Fatalf("%s: a TC3 product without a request model cannot refuse unknown parameters", p.Name())
		}
		for action := range p.Actions() {
			want := map[string]string{}
			for _, q := range all["tencent/"+p.Name()+"/"+action].Request {
				want[q.Name] = q.Type
			}
			if got := rm.RequestParams(action); !maps.Equal(got, want) {
				t.Errorf("%s %s: request model %v, the current model has %v", p.Name(), action, got, want)
			}
		}
	}
}

func TestEveryExceptionNamesAFieldOfAModel(t *testing.T) {
	all, _ := Models()
	for _, e := range exceptions {
		m := all["alibaba/"+e.product+"/"+e.action]
		if m == nil {
			m = all["tencent/"+e.product+"/"+e.action]
		}
		if m == nil || e.reason == "" || (e.kind != "pending" && e.kind != "kept") {
			t.Errorf("exception %+v: no such model, or no reason or kind", e)
			continue
		}
		_, inModel := m.Response[e.path]
		if onlyInSimulator := !inModel; onlyInSimulator != (e.value == "" && e.kind == "pending") {
			t.Errorf("exception %+v: a pending field must be one the model lacks; a value exception one it has", e)
		}
	}
	for _, r := range seedRules {
		if all["tencent/"+r.product+"/"+r.action] == nil && all["alibaba/"+r.product+"/"+r.action] == nil {
			t.Errorf("seed rule %+v names no model", r)
		}
	}
}

func TestCheckFindsEveryKindOfDifference(t *testing.T) {
	rpc := func(action string, status int, body string) sim.Answer {
		return sim.Answer{Protocol: sim.RPC, Product: "alikafka", Action: action, Version: "2019-09-16", Status: status, Body: []byte(body)}
	}
	tc := func(action, code, body string) sim.Answer {
		return sim.Answer{Protocol: sim.TC3, Product: "redis", Action: action, Version: "2018-04-12", Status: 200, Code: code, Body: []byte(body)}
	}
	cases := []struct {
		name   string
		answer sim.Answer
		want   string // "" = no violation
	}{
		{"a success in the model's shape passes", rpc("UpgradeInstanceVersion", 200, `{"RequestId":"r","Code":200,"Success":true,"Message":"ok"}`), ""},
		{"a field only in the simulator fails", rpc("UpgradeInstanceVersion", 200, `{"RequestId":"r","Code":200,"Success":true,"Extra":1}`), "Extra: the field is only in the simulator"},
		{"a string where the model has a boolean fails", rpc("UpgradeInstanceVersion", 200, `{"RequestId":"r","Code":500,"Success":"false"}`), `Success: string "false" where the model has boolean`},
		{"a fraction where the model has an integer fails", rpc("UpgradeInstanceVersion", 200, `{"RequestId":"r","Code":1.5}`), "where the model has integer"},
		{"a nested field is checked through lists", tc("DescribeInstances", "", `{"Response":{"RequestId":"r","TotalCount":1,"InstanceSet":[{"InstanceId":"crs-1","Colour":"red"}]}}`), "InstanceSet[].Colour: the field is only in the simulator"},
		{"an enum value the model lacks fails", tc("DescribeInstances", "", `{"Response":{"RequestId":"r","InstanceSet":[{"Status":7}]}}`), "InstanceSet[].Status: 7 is not one of the model's values"},
		{"an Alibaba error needs its five fields", rpc("GetInstanceList", 400, `{"RequestId":"r","HostId":"h","Code":"Throttling.User","Message":"m"}`), "Recommend: an Alibaba error answer carries it"},
		{"an Alibaba error with a numeric code fails", rpc("GetInstanceList", 400, `{"RequestId":"r","HostId":"h","Code":400,"Message":"m","Recommend":"u"}`), "Code: an Alibaba error answer carries it"},
		{"a Tencent error outside Response.Error fails", tc("UpgradeInstance", "X", `{"Code":"X","Message":"m"}`), `is not Tencent's {"Response"`},
		{"a Tencent code neither documented nor common fails", tc("UpgradeInstance", "InvalidParameter.Made", `{"Response":{"RequestId":"r","Error":{"Code":"InvalidParameter.Made","Message":"m"}}}`), "neither documented for the action nor a common error code"},
		{"a documented Tencent code passes", tc("UpgradeInstance", "ResourceUnavailable.InstanceStatusAbnormal", `{"Response":{"RequestId":"r","Error":{"Code":"ResourceUnavailable.InstanceStatusAbnormal","Message":"m"}}}`), ""},
		{"an action without a model fails", rpc("DeleteInstance", 200, `{"RequestId":"r"}`), "no current model"},
		{"a pending value is excused", sim.Answer{Protocol: sim.RPC, Product: "amqp-open", Action: "ListInstances", Version: "2019-12-12", Status: 200,
			Body: []byte(`{"RequestId":"r","Data":{"Instances":[{"InstanceId":"amqp-1","Status":"ABNORMAL"}]}}`)}, ""},
		{"a test's own product is not checked", sim.Answer{Protocol: sim.RPC, Product: "widgets", Action: "Echo", Status: 200, Body: []byte(`{"Anything":1}`)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vs := Check(tc.answer)
			var got []string
			for _, v := range vs {
				got = append(got, v.String())
			}
			joined := strings.Join(got, "\n")
			if tc.want == "" && len(vs) > 0 || tc.want != "" && !strings.Contains(joined, tc.want) {
				t.Errorf("violations:\n%s\nwant one containing %q", joined, tc.want)
			}
		})
	}
}
