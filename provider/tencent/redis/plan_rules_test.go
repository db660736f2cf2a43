package redis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	simredis "github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
)

func observed(mem, shards, replicas int64) provider.Instance {
	return provider.Instance{ID: "crs-a", Region: "ap-shanghai", Status: "running", Phase: provider.PhaseReady,
		Values: provider.Values{"memSizeMB": mem, "shards": shards, "replicas": replicas}}
}

func withFacts(inst provider.Instance, productType string, typ int64) provider.Instance {
	inst.Values["productType"], inst.Values["instanceType"] = productType, typ
	return inst
}

func TestPlanRules(t *testing.T) {
	p, err := redis.New(provider.Config{Region: "ap-shanghai", Account: tcAccount(),
		Getenv: providertest.Getenv(map[string]string{"TC_ID": "x", "TC_KEY": "y", redis.EndpointEnv: "127.0.0.1:1"})})
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		mem, shards, replicas int64
	}
	cases := []struct {
		name    string
		have    provider.Instance
		want    provider.Desired
		wantErr string
		steps   []step
	}{
		{"3000 MB is rejected as not a multiple of 1024", observed(2048, 3, 2), provider.Desired{"memSizeMB": int64(3000)},
			"memSizeMB: 3000 is not a multiple of 1024 (memory is per shard, in steps of 1024 MB); use 2048 or 3072", nil},
		{"8192 to 4096 is rejected as a shrink", observed(8192, 3, 2), provider.Desired{"memSizeMB": int64(4096)},
			"memSizeMB: 4096 would shrink the instance's 8192 MB per shard, and Tencent Redis cannot reduce capacity (ReduceCapacityNotAllowed); set memSizeMB to 8192 or more", nil},
		{"a fractional memory size is rejected", observed(4096, 3, 2), provider.Desired{"memSizeMB": 4096.5},
			"memSizeMB: 4096.5 is not a whole number", nil},
		{"memory as a string is rejected", observed(4096, 3, 2), provider.Desired{"memSizeMB": "8192"},
			`memSizeMB: "8192" is not a whole number`, nil},
		{"zero shards are rejected", observed(4096, 3, 2), provider.Desired{"shards": int64(0)},
			"shards: 0 is not a shard count a cluster can have (1, 3, 5, 8, 12, 16, 24, 32, 40, 48, 64, 80, 96, 128); use 1", nil},
		{"a cluster shard count outside the sold set is rejected at plan time", observed(4096, 3, 2), provider.Desired{"shards": int64(4)},
			"shards: 4 is not a shard count a cluster can have (1, 3, 5, 8, 12, 16, 24, 32, 40, 48, 64, 80, 96, 128); use 3 or 5", nil},
		{"a standard instance has one shard", withFacts(observed(4096, 1, 2), "standalone", 15), provider.Desired{"shards": int64(3)},
			"shards: 3: crs-a has the standard architecture, which has exactly 1 shard; a cluster instance is needed for more", nil},
		{"no replica is rejected", observed(4096, 3, 2), provider.Desired{"replicas": int64(0)},
			"replicas: 0 is not between 1 and 5", nil},
		{"six replicas are rejected", observed(4096, 3, 2), provider.Desired{"replicas": int64(6)},
			"replicas: 6 is not between 1 and 5", nil},
		{"Redis 2.8 keeps one replica", withFacts(observed(4096, 1, 1), "standalone", 2), provider.Desired{"replicas": int64(2)},
			"replicas: 2: crs-a is Redis 2.8 or CKV (type 2), which has exactly 1 replica", nil},
		{"an unknown field is rejected", observed(4096, 3, 2), provider.Desired{"version": "7.0"},
			"version: tencent.redis does not take this field; use memSizeMB, shards or replicas", nil},
		{"an empty desired is rejected", observed(4096, 3, 2), provider.Desired{},
			"tencent.redis needs at least one of memSizeMB, shards or replicas in desired", nil},
		{"memory alone is one call", observed(4096, 3, 2), provider.Desired{"memSizeMB": int64(8192)}, "",
			[]step{{8192, 3, 2}}},
		{"memory and shards are two chained calls, memory first", observed(4096, 3, 2), provider.Desired{"memSizeMB": int64(8192), "shards": int64(5)}, "",
			[]step{{8192, 3, 2}, {8192, 5, 2}}},
		{"all three change in the order memory, shards, replicas", observed(4096, 3, 2),
			provider.Desired{"replicas": int64(3), "shards": int64(5), "memSizeMB": float64(16384)}, "",
			[]step{{16384, 3, 2}, {16384, 5, 2}, {16384, 5, 3}}},
		{"the sizes already there plan nothing", observed(8192, 5, 2), provider.Desired{"memSizeMB": int64(8192), "shards": int64(5)}, "", nil},
		{"fewer shards is one call that keeps memory", observed(8192, 5, 2), provider.Desired{"shards": int64(3)}, "",
			[]step{{8192, 3, 2}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			changes, err := p.Plan(context.Background(), tc.have, tc.want)
			if tc.wantErr != "" {
				var re *provider.RuleError
				if !errors.As(err, &re) || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want rule error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(changes) != len(tc.steps) {
				t.Fatalf("%d changes, want %d", len(changes), len(tc.steps))
			}
			from := tc.have.Values
			for i, c := range changes {
				st := tc.steps[i]
				wantParams := map[string]any{"InstanceId": "crs-a", "MemSize": st.mem, "RedisShardNum": st.shards, "RedisReplicasNum": st.replicas}
				if c.Action != "UpgradeInstance" || fmt.Sprint(c.Params) != fmt.Sprint(wantParams) {
					t.Errorf("change %d: %s %v, want UpgradeInstance %v", i, c.Action, c.Params, wantParams)
				}
				to := provider.Values{"memSizeMB": st.mem, "shards": st.shards, "replicas": st.replicas}
				if _, ok := provider.Matches(c.To, to); !ok || len(c.To) != 3 {
					t.Errorf("change %d: to %v, want %v", i, c.To, to)
				}
				if _, ok := provider.Matches(c.From, from); !ok || len(c.From) != 3 {
					t.Errorf("change %d: from %v, want %v (where the previous change ends)", i, c.From, from)
				}
				from = to
			}
		})
	}
}

func TestPlanReportsEveryBrokenRuleAtOnce(t *testing.T) {
	p, err := redis.New(provider.Config{Region: "ap-shanghai", Account: tcAccount(), Getenv: providertest.Getenv(map[string]string{"TC_ID": "x", "TC_KEY": "y"})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Plan(context.Background(), observed(4096, 3, 2), provider.Desired{"memSizeMB": int64(3000), "shards": int64(-1)})
	if err == nil || !strings.Contains(err.Error(), "memSizeMB: 3000") || !strings.Contains(err.Error(), "shards: -1") {
		t.Fatalf("error = %v, want both memSizeMB and shards named", err)
	}
}

// A call that breaks a rule, sent anyway, is refused by the simulator with the cloud's code,
// classified permanent: the plan's check and the API agree.
func TestRulesBrokenOnTheWireAreRefusedWithTheRealCodes(t *testing.T) {
	s := simtest.Start(t, smallState, sim.Options{}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	cases := []struct {
		name                  string
		instance              string
		mem, shards, replicas int64
		code                  string
	}{
		{"3000 MB answers LimitExceeded.InvalidMemSize", "crs-a", 3000, 3, 2, "LimitExceeded.InvalidMemSize"},
		{"a shrink answers ReduceCapacityNotAllowed", "crs-c", 4096, 3, 1, "InvalidParameterValue.ReduceCapacityNotAllowed"},
		{"memory and shards together answer InvalidParameter", "crs-a", 8192, 5, 2, "InvalidParameter.InvalidParameter"},
		{"a busy instance answers InstanceStatusAbnormal", "crs-busy", 8192, 3, 2, "ResourceUnavailable.InstanceStatusAbnormal"},
		{"an unknown instance answers InstanceNotExists", "crs-zzz", 8192, 3, 2, "ResourceNotFound.InstanceNotExists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Apply(context.Background(), provider.Call{Instance: tc.instance, Action: "UpgradeInstance",
				Params: map[string]any{"InstanceId": tc.instance, "MemSize": tc.mem, "RedisShardNum": tc.shards, "RedisReplicasNum": tc.replicas}})
			pe, ok := provider.AsError(err)
			if !ok || pe.Code != tc.code || pe.Class != provider.ClassPermanent || pe.RequestID == "" || pe.Instance != tc.instance {
				t.Fatalf("error = %#v, want permanent %s with a request id", err, tc.code)
			}
			if !strings.Contains(err.Error(), tc.instance) || !strings.Contains(err.Error(), pe.RequestID) {
				t.Errorf("message %q lacks the instance or the request id", err)
			}
		})
	}
}
