package planner_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider/products"
)

// reDigested reads the golden demo plan, applies edit to its JSON, and writes it back with a
// fresh digest, as someone who edits a plan file and re-digests it would.
func reDigested(t *testing.T, edit func(doc map[string]any)) *planner.Plan {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "fleet.plan.json.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	edited, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var p planner.Plan
	dec = json.NewDecoder(bytes.NewReader(edited))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := planner.Encode(&buf, &p); err != nil {
		t.Fatal(err)
	}
	back, err := planner.Decode(&buf)
	if err != nil {
		t.Fatalf("the re-digested plan does not read back: %v", err)
	}
	return back
}

func step(doc map[string]any, i int) map[string]any {
	return doc["steps"].([]any)[i].(map[string]any)
}

func TestShowAndApplyRecheckAPlansMeaning(t *testing.T) {
	reg := products.Registry()
	for _, golden := range []string{"fleet", "accounts"} {
		p, err := planner.ReadFile(filepath.Join("testdata", "golden", golden+".plan.json.golden"))
		if err != nil {
			t.Fatal(err)
		}
		if err := planner.Recheck(p, reg); err != nil {
			t.Fatalf("the %s plan, as plan wrote it: %v", golden, err)
		}
	}
	tests := []struct {
		name, want string
		edit       func(doc map[string]any)
	}{
		{"an injected RegionId moves a Kafka call to another region", "parameter RegionId is not what the product sends",
			func(doc map[string]any) { step(doc, 0)["params"].(map[string]any)["RegionId"] = "cn-beijing" }},
		{"a parameter injected into a MongoDB call", "parameter SecurityToken is not what the product sends",
			func(doc map[string]any) { step(doc, 4)["params"].(map[string]any)["SecurityToken"] = "x" }},
		{"a Redis call that changes two dimensions at once", "not one",
			func(doc map[string]any) { step(doc, 11)["to"].(map[string]any)["shards"] = json.Number("4") }},
		{"a Redis memory shrink", "cannot reduce capacity",
			func(doc map[string]any) {
				s := step(doc, 11)
				s["from"].(map[string]any)["memSizeMB"] = json.Number("16384")
			}},
		{"a RabbitMQ DOWNGRADE that raises", "ModifyType",
			func(doc map[string]any) { step(doc, 7)["params"].(map[string]any)["ModifyType"] = "DOWNGRADE" }},
		{"a literal Compute Nest password", "InstancePassword: its name says it is secret",
			func(doc map[string]any) {
				step(doc, 9)["params"].(map[string]any)["Parameters"].(map[string]any)["InstancePassword"] = "hunter2secret"
			}},
		{"a Compute Nest parameter from the tool's own access key secret", "ALIBABA_CLOUD_ACCESS_KEY_SECRET is where the SDK reads",
			func(doc map[string]any) {
				step(doc, 9)["params"].(map[string]any)["Parameters"].(map[string]any)["InstancePassword"] = map[string]any{"fromEnv": "ALIBABA_CLOUD_ACCESS_KEY_SECRET"}
			}},
		{"a negative cutoff runs steps outside a window that closed in 2020", "settings.window.cutoff",
			func(doc map[string]any) {
				doc["settings"].(map[string]any)["window"] = map[string]any{"start": "2020-01-01T00:00:00Z", "end": "2020-01-01T01:00:00Z", "cutoff": "-87600h"}
			}},
		{"a step of an unknown target", `target "nobody" is not in targets`,
			func(doc map[string]any) { step(doc, 0)["target"] = "nobody" }},
		{"swapped instances", "instance dds-demo-1 is not one that target kafka-hz selected",
			func(doc map[string]any) {
				s := step(doc, 1)
				s["instance"] = "dds-demo-1"
				s["params"].(map[string]any)["InstanceId"] = "dds-demo-1"
			}},
		{"one instance in two targets", "instance alikafka-demo-2 is also in target kafka-hz",
			func(doc map[string]any) {
				tg := doc["targets"].([]any)[1].(map[string]any)
				tg["kind"], tg["instances"] = "alibaba.kafka", []any{"alikafka-demo-2"}
			}},
		{"one instance in two targets under two account names", "instance alikafka-demo-2 is also in target kafka-hz",
			func(doc map[string]any) {
				tg := doc["targets"].([]any)[1].(map[string]any)
				tg["kind"], tg["instances"], tg["account"] = "alibaba.kafka", []any{"alikafka-demo-2"}, "alias"
				doc["accounts"] = map[string]any{"alias": map[string]any{"cloud": "alibaba", "key_id": map[string]any{"fromEnv": "ALIAS_AK"}, "secret": map[string]any{"fromEnv": "ALIAS_SK"}}}
			}},
		{"a second Kafka instance moved into the canary's wave runs beside the canary", "steps[1] (kafka-hz/alikafka-demo-2): wave 0, but instance alikafka-demo-2 is in wave 1: with canary 1, wave 0 of target kafka-hz is its first 1 instance(s) by id (alikafka-demo-1)",
			func(doc map[string]any) {
				s := step(doc, 1)
				s["wave"] = json.Number("0")
				delete(s, "depends_on")
			}},
		{"the canary moved out of wave 0 lets every instance start unchecked", "steps[0] (kafka-hz/alikafka-demo-1): wave 1, but instance alikafka-demo-1 is in wave 0",
			func(doc map[string]any) { step(doc, 0)["wave"] = json.Number("1") }},
		{"a second wave in a target without a canary", "steps[4] (mongo-hz/dds-demo-1): wave 1; target mongo-hz has no canary, so every one of its steps is wave 0",
			func(doc map[string]any) { step(doc, 4)["wave"] = json.Number("1") }},
		{"a rate that stalls apply", "below the floor",
			func(doc map[string]any) {
				doc["settings"].(map[string]any)["qps"] = map[string]any{"alibaba.kafka/UpgradeInstanceVersion": json.Number("1e-300")}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := planner.Recheck(reDigested(t, tt.edit), reg)
			if !errors.Is(err, planner.ErrMeaning) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Recheck = %v; want ErrMeaning saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the refusal echoes a secret: %v", err)
			}
		})
	}
}
