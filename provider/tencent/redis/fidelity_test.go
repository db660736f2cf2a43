package redis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	simredis "github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
)

// A multi-AZ instance must pass NodeSet when its replica count changes: Plan reads the
// instance's nodes and names the added replica's zone, and the simulator, which refuses
// the change without one, accepts it.
func TestAMultiAZReplicaChangeSendsNodeSet(t *testing.T) {
	clk := newClock()
	s := simtest.Start(t, accounts+`
redis:
  - {id: crs-maz, region: ap-shanghai, account: tc, status: 2, memSizeMB: 4096, shards: 3, replicas: 2, zones: [ap-shanghai-2, ap-shanghai-4]}
`, sim.Options{TimeScale: 600, Now: clk.Now}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	ctx := context.Background()
	insts, err := p.List(ctx, provider.Selection{IDs: []string{"crs-maz"}})
	if err != nil || len(insts) != 1 {
		t.Fatalf("List = %v, %v", insts, err)
	}
	changes, err := p.Plan(ctx, insts[0], provider.Desired{"replicas": int64(3)})
	if err != nil || len(changes) != 1 {
		t.Fatalf("Plan = %v, %v", changes, err)
	}
	set, _ := changes[0].Params["NodeSet"].([]any)
	if len(set) != 1 || fmt.Sprint(set[0]) != "map[NodeType:1 ZoneId:100004]" {
		t.Fatalf("NodeSet %v, want one replica in zone 100004 (ap-shanghai-4, next in the instance's rotation)", changes[0].Params["NodeSet"])
	}
	if err := redis.Recheck("ap-shanghai", "crs-maz", changes[0]); err != nil {
		t.Errorf("apply's re-check refuses the planned change: %v", err)
	}
	rc, err := p.Apply(ctx, provider.Call{Instance: "crs-maz", Action: changes[0].Action, Params: changes[0].Params})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	// UpgradeInstance answers DealName beside the deprecated DealId: both are recorded.
	if rc.OrderID == "" || rc.OrderName == "" || rc.OrderName == rc.OrderID {
		t.Errorf("receipt %+v, want the DealId and the DealName", rc)
	}
	if body := s.CallsTo("UpgradeInstance")[0].Params["NodeSet"]; !strings.Contains(body, `"ZoneId":100004`) {
		t.Errorf("the call carried NodeSet %s", body)
	}
}

// Every deal status from 6 to 11 (refunded, closed, expired, invalid, ...) ends the order
// without the change: the step fails naming the status instead of waiting forever.
func TestDealStatusesSixToElevenFailTheStep(t *testing.T) {
	for status := int64(5); status <= 11; status++ {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			clk := newClock()
			s := simtest.Start(t, accounts+fmt.Sprintf(`
redis:
  - {id: crs-a, region: ap-shanghai, account: tc, status: 2, memSizeMB: 4096, shards: 3, replicas: 2, failDealStatus: %d}
`, status), sim.Options{TimeScale: 600, Now: clk.Now, Faults: []byte("failUpgrades: [crs-a]\n")}, simredis.New())
			p := open(t, s, "ap-shanghai", nil)
			ctx := context.Background()
			rc, err := p.Apply(ctx, provider.Call{Instance: "crs-a", Action: "UpgradeInstance",
				Params: map[string]any{"InstanceId": "crs-a", "MemSize": 8192, "RedisShardNum": 3, "RedisReplicasNum": 2}})
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(2 * time.Second) // the 10-minute delivery has ended
			got, err := p.Observe(ctx, []provider.Watch{{Instance: "crs-a", Action: "UpgradeInstance", Started: true, OrderID: rc.OrderID,
				From: provider.Values{"memSizeMB": 4096, "shards": 3, "replicas": 2}, To: provider.Values{"memSizeMB": 8192, "shards": 3, "replicas": 2}}})
			if err != nil {
				t.Fatal(err)
			}
			if got[0].State != provider.StateFailed || !strings.Contains(got[0].Message, fmt.Sprintf("status %d", status)) {
				t.Errorf("deal status %d: %+v, want failed naming the status", status, got[0])
			}
		})
	}
}

// DescribeInstanceDealDetail takes at most 10 DealIds (the simulator refuses more, as the
// API documents): 23 deals are asked about in three calls.
func TestDealLookupsAreBatchedByTen(t *testing.T) {
	clk := newClock()
	var b strings.Builder
	b.WriteString(accounts + "redis:\n")
	var fail []string
	for i := range 23 {
		fmt.Fprintf(&b, "  - {id: crs-%02d, region: ap-shanghai, account: tc, status: 2, memSizeMB: 4096, shards: 3, replicas: 2}\n", i)
		fail = append(fail, fmt.Sprintf("crs-%02d", i))
	}
	s := simtest.Start(t, b.String(), sim.Options{TimeScale: 600, Now: clk.Now,
		Faults: []byte("failUpgrades: [" + strings.Join(fail, ", ") + "]\n")}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	ctx := context.Background()
	var watches []provider.Watch
	for _, id := range fail {
		rc, err := p.Apply(ctx, provider.Call{Instance: id, Action: "UpgradeInstance",
			Params: map[string]any{"InstanceId": id, "MemSize": 8192, "RedisShardNum": 3, "RedisReplicasNum": 2}})
		if err != nil {
			t.Fatal(err)
		}
		clk.Advance(60 * time.Millisecond) // under UpgradeInstance's 20 per second
		watches = append(watches, provider.Watch{Instance: id, Action: "UpgradeInstance", Started: true, OrderID: rc.OrderID,
			From: provider.Values{"memSizeMB": 4096, "shards": 3, "replicas": 2}, To: provider.Values{"memSizeMB": 8192, "shards": 3, "replicas": 2}})
	}
	clk.Advance(2 * time.Second)
	got, err := p.Observe(ctx, watches)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	for _, pr := range got {
		if pr.State != provider.StateFailed {
			t.Errorf("%s: %s, want failed (deal status 5)", pr.Instance, pr.State)
		}
	}
	calls := s.CallsTo("DescribeInstanceDealDetail")
	if len(calls) != 3 {
		t.Errorf("%d DescribeInstanceDealDetail calls for 23 deals, want 3", len(calls))
	}
	for _, c := range calls {
		if n := strings.Count(c.Params["DealIds"], ","); n > 9 || !c.OK() {
			t.Errorf("a call sent %d DealIds (answer %q)", n+1, c.Code)
		}
	}
}

// The financial-zone regions have their own endpoint hosts.
func TestFinancialRegionsUseTheirOwnEndpoint(t *testing.T) {
	for region, want := range map[string]string{
		"ap-shanghai-fsi": "redis.ap-shanghai-fsi.tencentcloudapi.com",
		"ap-shenzhen-fsi": "redis.ap-shenzhen-fsi.tencentcloudapi.com",
		"ap-shanghai":     "redis.tencentcloudapi.com",
	} {
		if got := redis.Endpoint(region); got != want {
			t.Errorf("Endpoint(%s) = %s, want %s", region, got, want)
		}
	}
}
