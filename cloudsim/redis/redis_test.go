package redis_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tcredis "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/redis/v20180412"

	"github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

const accounts = `
accounts:
  - {name: tc, cloud: tencent, keyId: tc-id, secret: tc-key}
  - {name: tc2, cloud: tencent, keyId: tc2-id, secret: tc2-key}
durations:
  redis: 10m
`

const smallState = accounts + `
redis:
  - {id: crs-a, region: ap-shanghai, account: tc, status: 2, tags: {env: demo, team: cache}, memSizeMB: 4096, shards: 3, replicas: 2, redisVersion: "6.2"}
  - {id: crs-b, region: ap-shanghai, account: tc, status: 2, tags: {env: prod}, memSizeMB: 8192, shards: 3, replicas: 1}
  - {id: crs-busy, region: ap-shanghai, account: tc, status: 1, tags: {env: demo}, memSizeMB: 4096, shards: 3, replicas: 2}
  - {id: crs-gz, region: ap-guangzhou, account: tc, status: 2, tags: {env: demo}, memSizeMB: 4096, shards: 3, replicas: 2}
  - {id: crs-other, region: ap-shanghai, account: tc2, status: 2, tags: {env: demo}, memSizeMB: 4096, shards: 3, replicas: 2}
  - {id: crs-std, region: ap-shanghai, account: tc, status: 2, tags: {env: std}, memSizeMB: 4096, shards: 1, replicas: 1, productType: standalone}
  - {id: crs-28, region: ap-shanghai, account: tc, status: 2, tags: {env: std}, memSizeMB: 4096, shards: 1, replicas: 1, productType: standalone, redisVersion: "2.8"}
  - {id: crs-maz, region: ap-shanghai, account: tc, status: 2, tags: {env: std}, memSizeMB: 4096, shards: 3, replicas: 2, zones: [ap-shanghai-2, ap-shanghai-4]}
`

// newClock returns the tests' settable clock, so lifecycles are exact.
func newClock() *simtest.Clock {
	return simtest.NewClock(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC))
}

func client(t *testing.T, s *simtest.Sim, region, id, key string) *tcredis.Client {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = s.Addr
	cpf.HttpProfile.Scheme = "HTTP"
	cpf.HttpProfile.ReqTimeout = 10
	c, err := tcredis.NewClient(common.NewCredential(id, key), region, cpf)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func code(err error) string {
	var e *tcerrors.TencentCloudSDKError
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "not an SDK error: " + err.Error()
	}
	return ""
}

func describe(t *testing.T, c *tcredis.Client, build func(*tcredis.DescribeInstancesRequest)) *tcredis.DescribeInstancesResponseParams {
	t.Helper()
	req := tcredis.NewDescribeInstancesRequest()
	build(req)
	resp, err := c.DescribeInstances(req)
	if err != nil {
		t.Fatalf("DescribeInstances: %v", err)
	}
	return resp.Response
}

func ids(set []*tcredis.InstanceSet) string {
	var out []string
	for _, s := range set {
		out = append(out, *s.InstanceId)
	}
	return strings.Join(out, ",")
}

func TestDescribeInstancesDecodesEveryFieldTheProviderReads(t *testing.T) {
	s := simtest.Start(t, smallState, sim.Options{}, redis.New())
	c := client(t, s, "ap-shanghai", "tc-id", "tc-key")
	resp := describe(t, c, func(r *tcredis.DescribeInstancesRequest) { r.InstanceIds = common.StringPtrs([]string{"crs-a"}) })
	if len(resp.InstanceSet) != 1 || *resp.TotalCount != 1 {
		t.Fatalf("got %d instances, TotalCount %d; want crs-a alone", len(resp.InstanceSet), *resp.TotalCount)
	}
	got := resp.InstanceSet[0]
	if *got.InstanceId != "crs-a" || *got.Region != "ap-shanghai" || *got.Status != 2 ||
		*got.RedisShardSize != 4096 || *got.RedisShardNum != 3 || *got.RedisReplicasNum != 2 ||
		*got.Size != 12288 || *got.CurrentRedisVersion != "6.2" || *got.ProductType != "cluster" || *got.Type != 16 || len(got.NodeSet) != 3 {
		t.Errorf("crs-a decoded as id %s region %s status %d shard %d MB × %d shards, %d replicas, size %v, version %s",
			*got.InstanceId, *got.Region, *got.Status, *got.RedisShardSize, *got.RedisShardNum, *got.RedisReplicasNum, *got.Size, *got.CurrentRedisVersion)
	}
	tags := map[string]string{}
	for _, tg := range got.InstanceTags {
		tags[*tg.TagKey] = *tg.TagValue
	}
	if tags["env"] != "demo" || tags["team"] != "cache" || len(tags) != 2 {
		t.Errorf("crs-a tags = %v, want env=demo team=cache", tags)
	}
	if resp.RequestId == nil || *resp.RequestId == "" {
		t.Error("the answer has no RequestId")
	}
}

func TestDescribeInstancesFilters(t *testing.T) {
	s := simtest.Start(t, smallState, sim.Options{}, redis.New())
	c := client(t, s, "ap-shanghai", "tc-id", "tc-key")
	tag := func(k, v string) *tcredis.InstanceTagInfo { return &tcredis.InstanceTagInfo{TagKey: &k, TagValue: &v} }
	cases := []struct {
		name  string
		build func(*tcredis.DescribeInstancesRequest)
		want  string
	}{
		{"no filter lists the account's instances of the region, sorted", func(*tcredis.DescribeInstancesRequest) {}, "crs-28,crs-a,crs-b,crs-busy,crs-maz,crs-std"},
		{"InstanceIds picks those ids", func(r *tcredis.DescribeInstancesRequest) {
			r.InstanceIds = common.StringPtrs([]string{"crs-b", "crs-a"})
		}, "crs-a,crs-b"},
		{"an id of another region or account is not found", func(r *tcredis.DescribeInstancesRequest) {
			r.InstanceIds = common.StringPtrs([]string{"crs-gz", "crs-other"})
		}, ""},
		{"InstanceTags match key and value", func(r *tcredis.DescribeInstancesRequest) {
			r.InstanceTags = []*tcredis.InstanceTagInfo{tag("env", "demo")}
		}, "crs-a,crs-busy"},
		{"several InstanceTags must all match", func(r *tcredis.DescribeInstancesRequest) {
			r.InstanceTags = []*tcredis.InstanceTagInfo{tag("env", "demo"), tag("team", "cache")}
		}, "crs-a"},
		{"ids and tags together intersect", func(r *tcredis.DescribeInstancesRequest) {
			r.InstanceIds = common.StringPtrs([]string{"crs-a", "crs-b"})
			r.InstanceTags = []*tcredis.InstanceTagInfo{tag("env", "prod")}
		}, "crs-b"},
		{"an InstanceTags value given empty matches only an empty value", func(r *tcredis.DescribeInstancesRequest) {
			r.InstanceTags = []*tcredis.InstanceTagInfo{tag("env", "")}
		}, ""},
		{"TagKeys needs the key", func(r *tcredis.DescribeInstancesRequest) { r.TagKeys = common.StringPtrs([]string{"team"}) }, "crs-a"},
		{"SearchKeys matches an id exactly", func(r *tcredis.DescribeInstancesRequest) { r.SearchKeys = common.StringPtrs([]string{"crs-busy"}) }, "crs-busy"},
		{"Status filters by status", func(r *tcredis.DescribeInstancesRequest) { r.Status = common.Int64Ptrs([]int64{1}) }, "crs-busy"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(describe(t, c, tc.build).InstanceSet); got != tc.want {
				t.Errorf("got [%s], want [%s]", got, tc.want)
			}
		})
	}
}

func manyInstances(n int) string {
	var b strings.Builder
	b.WriteString(accounts + "redis:\n")
	for i := range n {
		env := "prod"
		if i%10 == 0 {
			env = "demo"
		}
		fmt.Fprintf(&b, "  - {id: crs-%05d, region: ap-shanghai, status: 2, tags: {env: %s}, memSizeMB: 4096, shards: 3, replicas: 1}\n", i, env)
	}
	return b.String()
}

func TestDescribeInstancesPagesReturnEveryInstanceOnce(t *testing.T) {
	s := simtest.Start(t, manyInstances(2345), sim.Options{}, redis.New())
	c := client(t, s, "ap-shanghai", "tc-id", "tc-key")
	seen := map[string]int{}
	pages := 0
	for offset := uint64(0); ; offset += 1000 {
		resp := describe(t, c, func(r *tcredis.DescribeInstancesRequest) {
			r.Limit = common.Uint64Ptr(1000)
			r.Offset = common.Uint64Ptr(offset)
		})
		pages++
		if *resp.TotalCount != 2345 {
			t.Fatalf("TotalCount = %d, want 2345", *resp.TotalCount)
		}
		for _, in := range resp.InstanceSet {
			seen[*in.InstanceId]++
		}
		if len(resp.InstanceSet) < 1000 {
			break
		}
	}
	if pages != 3 || len(seen) != 2345 {
		t.Fatalf("%d pages gave %d distinct instances, want 3 pages and 2345", pages, len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s came %d times", id, n)
		}
	}
}

func TestDescribeInstancesRefusesAPageOverOneThousand(t *testing.T) {
	s := simtest.Start(t, smallState, sim.Options{}, redis.New())
	c := client(t, s, "ap-shanghai", "tc-id", "tc-key")
	req := tcredis.NewDescribeInstancesRequest()
	req.Limit = common.Uint64Ptr(1001)
	_, err := c.DescribeInstances(req)
	if code(err) != "InvalidParameterValue" {
		t.Fatalf("Limit 1001 answered %v, want InvalidParameterValue", err)
	}
}

func upgrade(c *tcredis.Client, id string, mem, shards, replicas uint64) (*tcredis.UpgradeInstanceResponse, error) {
	req := tcredis.NewUpgradeInstanceRequest()
	req.InstanceId = &id
	req.MemSize = &mem
	req.RedisShardNum = &shards
	req.RedisReplicasNum = &replicas
	return c.UpgradeInstance(req)
}

func TestUpgradeInstanceRulesAnswerTheRealCodes(t *testing.T) {
	cases := []struct {
		name                  string
		instance              string
		mem, shards, replicas uint64
		wantCode              string
	}{
		{"memory not a multiple of 1024 is LimitExceeded.InvalidMemSize", "crs-a", 5000, 3, 2, "LimitExceeded.InvalidMemSize"},
		{"memory below the current size is ReduceCapacityNotAllowed", "crs-b", 4096, 3, 1, "InvalidParameterValue.ReduceCapacityNotAllowed"},
		{"memory above 64 GB per shard is MemSizeNotInRange", "crs-a", 131072, 3, 2, "InvalidParameterValue.MemSizeNotInRange"},
		{"memory and shards in one call is refused", "crs-a", 8192, 5, 2, "InvalidParameter.InvalidParameter"},
		{"shards and replicas in one call is refused", "crs-a", 4096, 5, 3, "InvalidParameter.InvalidParameter"},
		{"an instance in a workflow is InstanceStatusAbnormal", "crs-busy", 8192, 3, 2, "ResourceUnavailable.InstanceStatusAbnormal"},
		{"an unknown instance is InstanceNotExists", "crs-nope", 8192, 3, 2, "ResourceNotFound.InstanceNotExists"},
		{"another account's instance is InstanceNotExists", "crs-other", 8192, 3, 2, "ResourceNotFound.InstanceNotExists"},
		{"another region's instance is InstanceNotExists", "crs-gz", 8192, 3, 2, "ResourceNotFound.InstanceNotExists"},
		{"a replica count past 5 is SpecNotExist", "crs-a", 4096, 3, 6, "InvalidParameterValue.SpecNotExist"},
		{"no replica is SpecNotExist", "crs-a", 4096, 3, 0, "InvalidParameterValue.SpecNotExist"},
		{"a cluster shard count outside the sold set is SpecNotExist", "crs-a", 4096, 4, 2, "InvalidParameterValue.SpecNotExist"},
		{"a standard instance has one shard", "crs-std", 4096, 3, 1, "InvalidParameterValue.SpecNotExist"},
		{"Redis 2.8 has exactly one replica", "crs-28", 4096, 1, 2, "InvalidParameterValue.SpecNotExist"},
		{"a multi-AZ replica change without NodeSet is refused", "crs-maz", 4096, 3, 3, "InvalidParameter.InvalidParameter"},
	}
	s := simtest.Start(t, smallState, sim.Options{}, redis.New())
	c := client(t, s, "ap-shanghai", "tc-id", "tc-key")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := upgrade(c, tc.instance, tc.mem, tc.shards, tc.replicas)
			if got := code(err); got != tc.wantCode {
				t.Errorf("answered %q (%v), want %s", got, err, tc.wantCode)
			}
		})
	}
	if n := s.CountOK("UpgradeInstance"); n != 0 {
		t.Errorf("%d refused upgrades were accepted", n)
	}
	for _, in := range snapshot(t, s) {
		if in.ID == "crs-a" && (in.MemSizeMB != 4096 || in.Shards != 3 || in.Replicas != 2 || in.Status != 2) {
			t.Errorf("a refused call changed crs-a: %+v", in)
		}
	}
}

func snapshot(t *testing.T, s *simtest.Sim) []redis.Instance {
	t.Helper()
	raw, err := s.State()
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Redis []redis.Instance `json:"redis"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st.Redis
}

func TestUpgradeLifecycleInWorkflowThenNewSizes(t *testing.T) {
	clk := newClock()
	s := simtest.Start(t, smallState, sim.Options{TimeScale: 600, Now: clk.Now}, redis.New())
	c := client(t, s, "ap-shanghai", "tc-id", "tc-key")

	resp, err := upgrade(c, "crs-a", 8192, 3, 2)
	if err != nil {
		t.Fatalf("UpgradeInstance: %v", err)
	}
	deal := *resp.Response.DealId
	if deal == "" || *resp.Response.RequestId == "" {
		t.Fatalf("answer lacks DealId or RequestId: %s", resp.ToJsonString())
	}
	state := func() (*tcredis.InstanceSet, int64) {
		t.Helper()
		in := describe(t, c, func(r *tcredis.DescribeInstancesRequest) { r.InstanceIds = common.StringPtrs([]string{"crs-a"}) }).InstanceSet[0]
		dr := tcredis.NewDescribeInstanceDealDetailRequest()
		dr.DealIds = common.StringPtrs([]string{deal})
		d, err := c.DescribeInstanceDealDetail(dr)
		if err != nil || len(d.Response.DealDetails) != 1 {
			t.Fatalf("DescribeInstanceDealDetail: %v", err)
		}
		dd := d.Response.DealDetails[0]
		if *dd.DealId != deal || len(dd.InstanceIds) != 1 || *dd.InstanceIds[0] != "crs-a" {
			t.Fatalf("deal detail names %s for %v", *dd.DealId, common.StringValues(dd.InstanceIds))
		}
		return in, *dd.Status
	}

	in, deal1 := state()
	if *in.Status != 1 || *in.RedisShardSize != 4096 || deal1 != 3 {
		t.Fatalf("right after the call: status %d, %d MB, deal %d; want status 1, 4096 MB, deal 3", *in.Status, *in.RedisShardSize, deal1)
	}
	if _, err := upgrade(c, "crs-a", 8192, 3, 2); code(err) != "ResourceUnavailable.InstanceStatusAbnormal" {
		t.Errorf("a second call during the workflow answered %v, want InstanceStatusAbnormal", err)
	}
	clk.Advance(990 * time.Millisecond) // 9m54s simulated of 10m
	if in, _ := state(); *in.Status != 1 {
		t.Fatalf("before the duration: status %d, want 1", *in.Status)
	}
	clk.Advance(20 * time.Millisecond)
	in, deal2 := state()
	if *in.Status != 2 || *in.RedisShardSize != 8192 || *in.RedisShardNum != 3 || *in.RedisReplicasNum != 2 || *in.Size != 24576 || deal2 != 4 {
		t.Fatalf("after the duration: status %d, %d MB × %d, %d replicas, size %v, deal %d; want status 2, 8192 MB × 3, 2 replicas, 24576, deal 4",
			*in.Status, *in.RedisShardSize, *in.RedisShardNum, *in.RedisReplicasNum, *in.Size, deal2)
	}
	// The next dimension can now change, with memory sent at its new value.
	if _, err := upgrade(c, "crs-a", 8192, 5, 2); err != nil {
		t.Fatalf("shards after memory: %v", err)
	}
}

func TestFailedUpgradeEndsWithDealStatusFiveAndTheOldSizes(t *testing.T) {
	clk := newClock()
	faults := "failUpgrades: [crs-a]\n"
	s := simtest.Start(t, smallState, sim.Options{TimeScale: 600, Now: clk.Now, Faults: []byte(faults)}, redis.New())
	c := client(t, s, "ap-shanghai", "tc-id", "tc-key")
	resp, err := upgrade(c, "crs-a", 8192, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	in := describe(t, c, func(r *tcredis.DescribeInstancesRequest) { r.InstanceIds = common.StringPtrs([]string{"crs-a"}) }).InstanceSet[0]
	if *in.Status != 2 || *in.RedisShardSize != 4096 {
		t.Errorf("after a failed upgrade: status %d, %d MB; want running at the old 4096", *in.Status, *in.RedisShardSize)
	}
	dr := tcredis.NewDescribeInstanceDealDetailRequest()
	dr.DealIds = []*string{resp.Response.DealId}
	d, err := c.DescribeInstanceDealDetail(dr)
	if err != nil || len(d.Response.DealDetails) != 1 || *d.Response.DealDetails[0].Status != 5 {
		t.Fatalf("deal detail = %v, %v; want status 5", d, err)
	}
}

func TestDealsOfAnotherAccountAreNotShown(t *testing.T) {
	s := simtest.Start(t, smallState, sim.Options{}, redis.New())
	c := client(t, s, "ap-shanghai", "tc-id", "tc-key")
	resp, err := upgrade(c, "crs-a", 8192, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	other := client(t, s, "ap-shanghai", "tc2-id", "tc2-key")
	dr := tcredis.NewDescribeInstanceDealDetailRequest()
	dr.DealIds = []*string{resp.Response.DealId}
	d, err := other.DescribeInstanceDealDetail(dr)
	if err != nil || len(d.Response.DealDetails) != 0 {
		t.Fatalf("another account saw %d deals (%v), want none", len(d.Response.DealDetails), err)
	}
}

func TestDemoStateLoads(t *testing.T) {
	demo, err := os.ReadFile("testdata/demo-state.yaml")
	if err != nil {
		t.Fatal(err)
	}
	st := "accounts:\n  - {name: demo-tc, cloud: tencent, keyId: demo-id, secret: demo-key}\n" + string(demo)
	s := simtest.Start(t, st, sim.Options{}, redis.New())
	c := client(t, s, "ap-shanghai", "demo-id", "demo-key")
	k, v := "env", "demo"
	resp := describe(t, c, func(r *tcredis.DescribeInstancesRequest) {
		r.InstanceTags = []*tcredis.InstanceTagInfo{{TagKey: &k, TagValue: &v}}
	})
	if got := ids(resp.InstanceSet); got != "crs-demo-1,crs-demo-2" {
		t.Fatalf("demo instances = [%s]", got)
	}
	for _, in := range resp.InstanceSet {
		if *in.RedisShardSize != 4096 || *in.RedisShardNum != 3 || *in.RedisReplicasNum != 2 {
			t.Errorf("%s is %d MB × %d, %d replicas; the demo needs 4096 × 3, 2", *in.InstanceId, *in.RedisShardSize, *in.RedisShardNum, *in.RedisReplicasNum)
		}
	}
}

func TestAnAcceptedUpgradeDescribesAsBeforeUntilTheVisibilityLagPasses(t *testing.T) {
	clk := newClock()
	s := simtest.Start(t, smallState+"visibilityLag: {redis: 30s}\n", sim.Options{Now: clk.Now}, redis.New())
	c := client(t, s, "ap-shanghai", "tc-id", "tc-key")
	if _, err := upgrade(c, "crs-a", 8192, 3, 2); err != nil {
		t.Fatal(err)
	}
	one := func() string {
		in := describe(t, c, func(r *tcredis.DescribeInstancesRequest) { r.InstanceIds = common.StringPtrs([]string{"crs-a"}) }).InstanceSet[0]
		return fmt.Sprintf("status %d, %d MB", *in.Status, *in.RedisShardSize)
	}
	if got := one(); got != "status 2, 4096 MB" {
		t.Errorf("right after the accepted call: %s, want the old status 2, 4096 MB", got)
	}
	clk.Advance(30 * time.Second)
	if got := one(); got != "status 1, 4096 MB" {
		t.Errorf("after the lag: %s, want in workflow (1)", got)
	}
	clk.Advance(10 * time.Minute)
	if got := one(); got != "status 2, 8192 MB" {
		t.Errorf("after the lag and the upgrade: %s", got)
	}
	applied := s.Applied()
	if len(applied) != 1 || fmt.Sprint(applied[0].From, applied[0].To) != "map[memSizeMB:4096] map[memSizeMB:8192]" {
		t.Errorf("applied record %+v, want memSizeMB 4096 → 8192", applied)
	}
}
