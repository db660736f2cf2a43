package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	simredis "github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
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
  - {id: crs-b, region: ap-shanghai, account: tc, status: 2, tags: {env: demo}, memSizeMB: 4096, shards: 3, replicas: 2}
  - {id: crs-c, region: ap-shanghai, account: tc, status: 2, tags: {env: prod}, memSizeMB: 8192, shards: 3, replicas: 1}
  - {id: crs-busy, region: ap-shanghai, account: tc, status: 1, tags: {env: demo}, memSizeMB: 4096, shards: 3, replicas: 2}
  - {id: crs-gz, region: ap-guangzhou, account: tc, status: 2, tags: {env: demo}, memSizeMB: 4096, shards: 3, replicas: 2}
  - {id: crs-other, region: ap-shanghai, account: tc2, status: 2, tags: {env: demo}, memSizeMB: 4096, shards: 3, replicas: 2}
`

func newClock() *simtest.Clock {
	return simtest.NewClock(time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC))
}

// account "tc" through named SecretRefs.
func tcAccount() provider.Account {
	return provider.Account{Name: "tc", Cloud: "tencent",
		KeyID: provider.SecretRef{FromEnv: "TC_ID"}, Secret: provider.SecretRef{FromEnv: "TC_KEY"}}
}

func open(t *testing.T, s *simtest.Sim, region string, doer provider.Doer) *redis.Provider {
	t.Helper()
	p, err := redis.New(provider.Config{
		Region:  region,
		Account: tcAccount(),
		Doer:    doer,
		Getenv:  providertest.Getenv(map[string]string{redis.EndpointEnv: s.Addr, "TC_ID": "tc-id", "TC_KEY": "tc-key"}),
		Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func instanceIDs(list []provider.Instance) string {
	var out []string
	for _, in := range list {
		out = append(out, in.ID)
	}
	return strings.Join(out, ",")
}

func TestListReadsSizesStatusAndTags(t *testing.T) {
	s := simtest.Start(t, smallState, sim.Options{}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	list, err := p.List(context.Background(), provider.Selection{IDs: []string{"crs-a", "crs-busy"}})
	if err != nil {
		t.Fatal(err)
	}
	if instanceIDs(list) != "crs-a,crs-busy" {
		t.Fatalf("listed [%s]", instanceIDs(list))
	}
	a, busy := list[0], list[1]
	want := provider.Values{"memSizeMB": 4096, "shards": 3, "replicas": 2, "redisVersion": "6.2"}
	if f, ok := provider.Matches(a.Values, want); !ok || a.Phase != provider.PhaseReady || a.Status != "running" ||
		a.Region != "ap-shanghai" || a.Tags["team"] != "cache" {
		t.Errorf("crs-a = %+v (field %s differs)", a, f)
	}
	if busy.Phase != provider.PhaseBusy || busy.Status != "in a workflow" {
		t.Errorf("crs-busy phase %s status %q, want busy / in a workflow", busy.Phase, busy.Status)
	}
}

func TestListSelections(t *testing.T) {
	s := simtest.Start(t, smallState, sim.Options{}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	cases := []struct {
		name string
		sel  provider.Selection
		want string
	}{
		{"tags pick the account's tagged instances of the region", provider.Selection{Tags: map[string]string{"env": "demo"}}, "crs-a,crs-b,crs-busy"},
		{"two tags must both match", provider.Selection{Tags: map[string]string{"env": "demo", "team": "cache"}}, "crs-a"},
		{"ids and tags intersect", provider.Selection{IDs: []string{"crs-a", "crs-c"}, Tags: map[string]string{"env": "prod"}}, "crs-c"},
		{"an id of another region or account is not listed", provider.Selection{IDs: []string{"crs-gz", "crs-other"}}, ""},
		{"a repeated id is listed once", provider.Selection{IDs: []string{"crs-b", "crs-b"}}, "crs-b"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list, err := p.List(context.Background(), tc.sel)
			if err != nil {
				t.Fatal(err)
			}
			if got := instanceIDs(list); got != tc.want {
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
		if i%7 == 0 {
			env = "demo"
		}
		fmt.Fprintf(&b, "  - {id: crs-%05d, region: ap-shanghai, status: 2, tags: {env: %s}, memSizeMB: 4096, shards: 3, replicas: 1}\n", i, env)
	}
	return b.String()
}

func TestListPagesAtOneThousand(t *testing.T) {
	s := simtest.Start(t, manyInstances(2501), sim.Options{}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	list, err := p.List(context.Background(), provider.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2501 || list[0].ID != "crs-00000" || list[2500].ID != "crs-02500" {
		t.Fatalf("listed %d instances (first %s), want 2501 sorted", len(list), list[0].ID)
	}
	for i := 1; i < len(list); i++ {
		if list[i].ID == list[i-1].ID {
			t.Fatalf("%s listed twice", list[i].ID)
		}
	}
	calls := s.CallsTo("DescribeInstances")
	if len(calls) != 3 {
		t.Fatalf("%d DescribeInstances calls, want 3 pages", len(calls))
	}
	for i, c := range calls {
		if c.Params["Limit"] != "1000" || c.Params["Offset"] != fmt.Sprint(i*1000) {
			t.Errorf("page %d sent Limit %s Offset %s", i, c.Params["Limit"], c.Params["Offset"])
		}
	}

	tagged, err := p.List(context.Background(), provider.Selection{Tags: map[string]string{"env": "demo"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tagged) != 358 { // every seventh of 2501
		t.Errorf("env=demo listed %d, want 358", len(tagged))
	}
	if c := s.CallsTo("DescribeInstances"); c[len(c)-1].Params["InstanceTags"] != `[{"TagKey":"env","TagValue":"demo"}]` {
		t.Errorf("the tag filter was sent as %s", c[len(c)-1].Params["InstanceTags"])
	}
}

// waitObserve advances the clock in small steps until every watch is no longer in progress.
func waitObserve(t *testing.T, p *redis.Provider, clk *simtest.Clock, watches []provider.Watch) []provider.Progress {
	t.Helper()
	for range 200 {
		pr, err := p.Observe(context.Background(), watches)
		if err != nil {
			t.Fatal(err)
		}
		busy := false
		for _, x := range pr {
			busy = busy || x.State == provider.StateInProgress
		}
		if !busy {
			return pr
		}
		clk.Advance(100 * time.Millisecond)
	}
	t.Fatal("still in progress after 20 s of real time")
	return nil
}

func TestChainedPlanAppliesAndCompletes(t *testing.T) {
	clk := newClock()
	s := simtest.Start(t, smallState, sim.Options{TimeScale: 600, Now: clk.Now}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	ctx := context.Background()
	list, err := p.List(ctx, provider.Selection{Tags: map[string]string{"env": "demo"}, IDs: []string{"crs-a", "crs-b"}})
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	plans := map[string][]provider.Change{}
	for _, inst := range list {
		ch, err := p.Plan(ctx, inst, provider.Desired{"memSizeMB": int64(8192), "shards": int64(5)})
		if err != nil || len(ch) != 2 {
			t.Fatalf("plan %s: %v %v", inst.ID, ch, err)
		}
		plans[inst.ID] = ch
	}
	for step := range 2 {
		var watches []provider.Watch
		for _, id := range []string{"crs-a", "crs-b"} {
			c := plans[id][step]
			w := provider.Watch{Instance: id, Action: c.Action, From: c.From, To: c.To}
			pr, err := p.Observe(ctx, []provider.Watch{w})
			if err != nil || pr[0].State != provider.StatePending {
				t.Fatalf("step %d of %s before the call: %+v %v, want pending", step, id, pr, err)
			}
			rc, err := p.Apply(ctx, provider.Call{Instance: id, Action: c.Action, Params: c.Params})
			if err != nil || rc.OrderID == "" || rc.RequestID == "" {
				t.Fatalf("apply step %d of %s: %+v %v", step, id, rc, err)
			}
			w.Started, w.Since = true, clk.Now()
			watches = append(watches, w)
		}
		before := s.Count("DescribeInstances")
		pr, err := p.Observe(ctx, watches)
		if err != nil || pr[0].State != provider.StateInProgress || pr[1].State != provider.StateInProgress {
			t.Fatalf("step %d right after the calls: %+v %v, want both in progress", step, pr, err)
		}
		if n := s.Count("DescribeInstances") - before; n != 1 {
			t.Errorf("observing two instances took %d DescribeInstances calls, want 1", n)
		}
		for _, x := range waitObserve(t, p, clk, watches) {
			if x.State != provider.StateDone {
				t.Fatalf("step %d: %+v, want done", step, x)
			}
		}
	}
	// What the simulator received is exactly what was planned, in order.
	calls := s.CallsTo("UpgradeInstance")
	if len(calls) != 4 {
		t.Fatalf("%d UpgradeInstance calls, want 4", len(calls))
	}
	for i, c := range calls {
		planned := plans[c.Instance][i/2].Params
		for k, v := range planned {
			if c.Params[k] != fmt.Sprint(v) {
				t.Errorf("call %d to %s sent %s=%s, planned %v", i, c.Instance, k, c.Params[k], v)
			}
		}
		if len(c.Params) != len(planned) {
			t.Errorf("call %d sent %v, planned %v", i, c.Params, planned)
		}
	}
	final, err := p.List(ctx, provider.Selection{IDs: []string{"crs-a", "crs-b"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range final {
		if _, ok := provider.Matches(in.Values, provider.Values{"memSizeMB": 8192, "shards": 5, "replicas": 2}); !ok {
			t.Errorf("%s ended at %v", in.ID, in.Values)
		}
	}
}

func TestObserveBeforeTheCall(t *testing.T) {
	s := simtest.Start(t, smallState, sim.Options{}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	from := provider.Values{"memSizeMB": 4096, "shards": 3, "replicas": 2}
	to := provider.Values{"memSizeMB": 8192, "shards": 3, "replicas": 2}
	watches := []provider.Watch{
		{Instance: "crs-a", From: from, To: to},
		{Instance: "crs-busy", From: from, To: to},
		{Instance: "crs-c", From: from, To: to},
		{Instance: "crs-c", From: provider.Values{"memSizeMB": 4096}, To: provider.Values{"memSizeMB": 8192, "shards": 3, "replicas": 1}},
		{Instance: "crs-gone", From: from, To: to},
	}
	pr, err := p.Observe(context.Background(), watches)
	if err != nil {
		t.Fatal(err)
	}
	want := []provider.State{provider.StatePending, provider.StateWaiting, provider.StateDrifted, provider.StateDone, provider.StateMissing}
	for i, w := range want {
		if pr[i].State != w || pr[i].Instance != watches[i].Instance {
			t.Errorf("watch %d (%s): %+v, want %s", i, watches[i].Instance, pr[i], w)
		}
	}
	if pr[2].Message != "crs-c: memSizeMB is 8192, the plan expected 4096" {
		t.Errorf("drift message = %q", pr[2].Message)
	}
	if n := s.Count("DescribeInstances"); n != 1 {
		t.Errorf("%d DescribeInstances calls for five watches, want 1", n)
	}
}

func TestFailedDeliveryIsReportedFailed(t *testing.T) {
	t.Run("the answer has a DealId", func(t *testing.T) { failedDelivery(t, smallState) })
	// DealId is deprecated: with only a DealName (16 digits, a number as much as a DealId
	// is), the deal is asked for by DealName. Before, it was sent as a DealId, never found,
	// and the failed delivery was waited for until stepTimeout.
	t.Run("the answer has only a DealName", func(t *testing.T) {
		failedDelivery(t, strings.ReplaceAll(smallState, "replicas: 2, redisVersion", "replicas: 2, dealNameOnly: true, redisVersion"))
	})
}

func failedDelivery(t *testing.T, state string) {
	clk := newClock()
	s := simtest.Start(t, state, sim.Options{TimeScale: 600, Now: clk.Now, Faults: []byte("failUpgrades: [crs-a]\n")}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	ctx := context.Background()
	from := provider.Values{"memSizeMB": 4096, "shards": 3, "replicas": 2}
	to := provider.Values{"memSizeMB": 8192, "shards": 3, "replicas": 2}
	var watches []provider.Watch
	for _, id := range []string{"crs-a", "crs-b"} {
		if _, err := p.Apply(ctx, provider.Call{Instance: id, Action: "UpgradeInstance",
			Params: map[string]any{"InstanceId": id, "MemSize": 8192, "RedisShardNum": 3, "RedisReplicasNum": 2}}); err != nil {
			t.Fatal(err)
		}
		watches = append(watches, provider.Watch{Instance: id, Action: "UpgradeInstance", From: from, To: to, Started: true, Since: clk.Now()})
	}
	pr := waitObserve(t, p, clk, watches)
	if pr[0].State != provider.StateFailed || !strings.Contains(pr[0].Message, "status 5") {
		t.Errorf("crs-a: %+v, want failed naming deal status 5", pr[0])
	}
	if pr[1].State != provider.StateDone {
		t.Errorf("crs-b: %+v, want done", pr[1])
	}
	if n := s.Count("DescribeInstanceDealDetail"); n < 1 {
		t.Errorf("the deal was never asked about")
	}
}

func TestErrorClasses(t *testing.T) {
	cases := []struct {
		name   string
		faults string
		action string
		class  provider.Class
		code   string
	}{
		{"a throttled upgrade is throttled", "rules: [{product: redis, action: UpgradeInstance, fault: throttle}]", "UpgradeInstance", provider.ClassThrottled, "RequestLimitExceeded"},
		{"an InternalError upgrade is retryable", "rules: [{product: redis, action: UpgradeInstance, fault: internal-error}]", "UpgradeInstance", provider.ClassRetryable, "InternalError"},
		{"a 503 on a read is retryable", "rules: [{product: redis, action: DescribeInstances, fault: unavailable}]", "DescribeInstances", provider.ClassRetryable, "ServiceUnavailable"},
		{"a dropped connection after an upgrade is outcome-unknown", "rules: [{product: redis, action: UpgradeInstance, fault: drop}]", "UpgradeInstance", provider.ClassUnknown, "ClientError.NetworkError"},
		{"a dropped connection on a read is retryable", "rules: [{product: redis, action: DescribeInstances, fault: drop}]", "DescribeInstances", provider.ClassRetryable, "ClientError.NetworkError"},
		{"a throttled read is throttled", "rules: [{product: redis, action: DescribeInstances, fault: throttle}]", "DescribeInstances", provider.ClassThrottled, "RequestLimitExceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := simtest.Start(t, smallState, sim.Options{Faults: []byte(tc.faults)}, simredis.New())
			p := open(t, s, "ap-shanghai", nil)
			var err error
			if tc.action == "UpgradeInstance" {
				_, err = p.Apply(context.Background(), provider.Call{Instance: "crs-a", Action: "UpgradeInstance",
					Params: map[string]any{"InstanceId": "crs-a", "MemSize": 8192, "RedisShardNum": 3, "RedisReplicasNum": 2}})
			} else {
				_, err = p.List(context.Background(), provider.Selection{})
			}
			pe, ok := provider.AsError(err)
			if !ok || pe.Class != tc.class || pe.Code != tc.code || pe.Kind != "tencent.redis" || pe.Action != tc.action {
				t.Fatalf("error = %#v, want %s %s", err, tc.class, tc.code)
			}
			if provider.ClassOf(err) != tc.class {
				t.Errorf("ClassOf = %s", provider.ClassOf(err))
			}
		})
	}
}

func TestAnUpgradeNeverSentIsRetryableAndATimeoutIsUnknown(t *testing.T) {
	// Nothing listens on the port: the request never left.
	p, err := redis.New(provider.Config{Region: "ap-shanghai", Account: tcAccount(),
		Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: "127.0.0.1:1", "TC_ID": "tc-id", "TC_KEY": "tc-key"})})
	if err != nil {
		t.Fatal(err)
	}
	call := provider.Call{Instance: "crs-a", Action: "UpgradeInstance",
		Params: map[string]any{"InstanceId": "crs-a", "MemSize": 8192, "RedisShardNum": 3, "RedisReplicasNum": 2}}
	if _, err := p.Apply(context.Background(), call); provider.ClassOf(err) != provider.ClassRetryable {
		t.Errorf("connection refused: %v is %s, want retryable", err, provider.ClassOf(err))
	}

	s := simtest.Start(t, smallState, sim.Options{Faults: []byte("rules: [{product: redis, action: UpgradeInstance, fault: latency, latency: 2s}]")}, simredis.New())
	p = open(t, s, "ap-shanghai", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Apply(ctx, call); provider.ClassOf(err) != provider.ClassUnknown {
		t.Errorf("timeout: %v is %s, want outcome-unknown", err, provider.ClassOf(err))
	}
}

func TestCredentials(t *testing.T) {
	s := simtest.Start(t, smallState, sim.Options{}, simredis.New())
	list := func(cfg provider.Config) error {
		p, err := redis.New(cfg)
		if err != nil {
			return err
		}
		_, err = p.List(context.Background(), provider.Selection{})
		return err
	}
	t.Run("the default chain reads TENCENTCLOUD_SECRET_ID and _KEY from the environment", func(t *testing.T) {
		t.Setenv("TENCENTCLOUD_SECRET_ID", "tc-id")
		t.Setenv("TENCENTCLOUD_SECRET_KEY", "tc-key")
		t.Setenv(redis.EndpointEnv, s.Addr)
		if err := list(provider.Config{Region: "ap-shanghai"}); err != nil {
			t.Fatal(err)
		}
		if c := s.CallsTo("DescribeInstances"); c[len(c)-1].Account != "tc" {
			t.Errorf("the call was made as %q, want tc", c[len(c)-1].Account)
		}
	})
	t.Run("a wrong secret is a permanent AuthFailure that never shows the secret", func(t *testing.T) {
		cfg := provider.Config{Region: "ap-shanghai", Account: tcAccount(),
			Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: s.Addr, "TC_ID": "tc-id", "TC_KEY": "s3cr3t-wrong"})}
		err := list(cfg)
		pe, ok := provider.AsError(err)
		if !ok || pe.Code != "AuthFailure.SignatureFailure" || pe.Class != provider.ClassPermanent {
			t.Fatalf("error = %v, want permanent AuthFailure.SignatureFailure", err)
		}
		if strings.Contains(err.Error(), "s3cr3t-wrong") {
			t.Errorf("the error shows the secret: %v", err)
		}
	})
	t.Run("an unknown SecretId is AuthFailure.SecretIdNotFound", func(t *testing.T) {
		cfg := provider.Config{Region: "ap-shanghai", Account: tcAccount(),
			Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: s.Addr, "TC_ID": "nobody", "TC_KEY": "x"})}
		if pe, ok := provider.AsError(list(cfg)); !ok || pe.Code != "AuthFailure.SecretIdNotFound" || pe.Class != provider.ClassPermanent {
			t.Fatalf("error = %v", pe)
		}
	})
	t.Run("a SecretId written out in the manifest works; only the key comes from the environment", func(t *testing.T) {
		acct := provider.Account{Name: "tc", Cloud: "tencent", KeyIDLiteral: "tc-id", Secret: provider.SecretRef{FromEnv: "TC_KEY"}}
		cfg := provider.Config{Region: "ap-shanghai", Account: acct,
			Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: s.Addr, "TC_KEY": "tc-key"})}
		if err := list(cfg); err != nil {
			t.Fatal(err)
		}
		if c := s.CallsTo("DescribeInstances"); c[len(c)-1].Account != "tc" {
			t.Errorf("the call was made as %q, want tc", c[len(c)-1].Account)
		}
	})
	t.Run("an unset secret variable is named, not guessed", func(t *testing.T) {
		cfg := provider.Config{Region: "ap-shanghai", Account: tcAccount(), Getenv: providertest.Getenv(map[string]string{"TC_ID": "tc-id"})}
		err := list(cfg)
		if err == nil || !strings.Contains(err.Error(), "TC_KEY is not set") {
			t.Fatalf("error = %v, want TC_KEY named", err)
		}
	})
}

func TestAFailedDealIsFoundFromTheRecordedOrderAfterARestart(t *testing.T) {
	clk := newClock()
	s := simtest.Start(t, smallState, sim.Options{TimeScale: 600, Now: clk.Now, Faults: []byte("failUpgrades: [crs-a]\n")}, simredis.New())
	ctx := context.Background()
	rc, err := open(t, s, "ap-shanghai", nil).Apply(ctx, provider.Call{Instance: "crs-a", Action: "UpgradeInstance",
		Params: map[string]any{"InstanceId": "crs-a", "MemSize": 8192, "RedisShardNum": 3, "RedisReplicasNum": 2}})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second) // the 10-minute delivery has ended, failed
	// A resumed run opens a new provider; only the journal knows the deal.
	fresh := open(t, s, "ap-shanghai", nil)
	w := provider.Watch{Instance: "crs-a", Action: "UpgradeInstance", Started: true, Since: clk.Now(),
		From: provider.Values{"memSizeMB": 4096, "shards": 3, "replicas": 2}, To: provider.Values{"memSizeMB": 8192, "shards": 3, "replicas": 2}}
	pr, err := fresh.Observe(ctx, []provider.Watch{w})
	if err != nil || pr[0].State != provider.StateInProgress {
		t.Fatalf("without the deal id: %+v %v, want in-progress (nothing says it failed)", pr, err)
	}
	w.OrderID = rc.OrderID
	pr, err = fresh.Observe(ctx, []provider.Watch{w})
	if err != nil || pr[0].State != provider.StateFailed || !strings.Contains(pr[0].Message, rc.OrderID) {
		t.Fatalf("with the recorded deal %s: %+v %v, want failed naming the deal", rc.OrderID, pr, err)
	}
	if c := s.CallsTo("DescribeInstanceDealDetail"); len(c) != 1 || c[0].Params["DealIds"] != `["`+rc.OrderID+`"]` {
		t.Errorf("deal calls = %+v", c)
	}
}

// The same after a restart when the answer had only a DealName: the record's order id is
// that name (OrderName too), and the deal is asked for by DealName.
func TestAFailedDealNamedOnlyByItsNameIsFoundAfterARestart(t *testing.T) {
	clk := newClock()
	state := strings.Replace(smallState, "replicas: 2, redisVersion", "replicas: 2, dealNameOnly: true, redisVersion", 1)
	s := simtest.Start(t, state, sim.Options{TimeScale: 600, Now: clk.Now, Faults: []byte("failUpgrades: [crs-a]\n")}, simredis.New())
	ctx := context.Background()
	rc, err := open(t, s, "ap-shanghai", nil).Apply(ctx, provider.Call{Instance: "crs-a", Action: "UpgradeInstance",
		Params: map[string]any{"InstanceId": "crs-a", "MemSize": 8192, "RedisShardNum": 3, "RedisReplicasNum": 2}})
	if err != nil {
		t.Fatal(err)
	}
	if rc.OrderName == "" || rc.OrderID != rc.OrderName {
		t.Fatalf("receipt %+v; want the DealName as both handles", rc)
	}
	clk.Advance(2 * time.Second)
	w := provider.Watch{Instance: "crs-a", Action: "UpgradeInstance", Started: true, Since: clk.Now(), OrderID: rc.OrderID, OrderName: rc.OrderName,
		From: provider.Values{"memSizeMB": 4096, "shards": 3, "replicas": 2}, To: provider.Values{"memSizeMB": 8192, "shards": 3, "replicas": 2}}
	pr, err := open(t, s, "ap-shanghai", nil).Observe(ctx, []provider.Watch{w})
	if err != nil || pr[0].State != provider.StateFailed || !strings.Contains(pr[0].Message, rc.OrderName) {
		t.Fatalf("with the recorded deal name %s: %+v %v, want failed naming the deal", rc.OrderName, pr, err)
	}
	if c := s.CallsTo("DescribeInstanceDealDetail"); len(c) != 1 || c[0].Params["DealName"] != rc.OrderName {
		t.Errorf("deal calls = %+v; want one, by DealName", c)
	}
}

func TestEveryRequestGoesThroughTheDoer(t *testing.T) {
	clk := newClock()
	s := simtest.Start(t, smallState, sim.Options{TimeScale: 600, Now: clk.Now}, simredis.New())
	doer := &providertest.Recorder{}
	p := open(t, s, "ap-shanghai", doer)
	ctx := context.Background()
	if _, err := p.Apply(ctx, provider.Call{Instance: "crs-a", Action: "UpgradeInstance",
		Params: map[string]any{"InstanceId": "crs-a", "MemSize": 8192, "RedisShardNum": 3, "RedisReplicasNum": 2}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.List(ctx, provider.Selection{}); err != nil {
		t.Fatal(err)
	}
	seen := doer.Requests()
	if len(seen) != 2 || len(s.Calls()) != 2 {
		t.Fatalf("doer saw %d requests, simulator %d", len(seen), len(s.Calls()))
	}
	up := seen[0]
	if up.Kind != "tencent.redis" || up.Action != "UpgradeInstance" || !up.Mutating || up.Instance != "crs-a" || up.Region != "ap-shanghai" || up.Account != "tc" {
		t.Errorf("upgrade request = %+v", up)
	}
	if seen[1].Action != "DescribeInstances" || seen[1].Mutating {
		t.Errorf("list request = %+v", seen[1])
	}
}

func TestConcurrentCallsThroughOneProvider(t *testing.T) {
	clk := newClock()
	s := simtest.Start(t, manyInstances(40), sim.Options{TimeScale: 600, Now: clk.Now}, simredis.New())
	p := open(t, s, "ap-shanghai", nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for i := range 15 { // under the 20/s UpgradeInstance cap
		id := fmt.Sprintf("crs-%05d", i)
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := p.Apply(ctx, provider.Call{Instance: id, Action: "UpgradeInstance",
				Params: map[string]any{"InstanceId": id, "MemSize": 8192, "RedisShardNum": 3, "RedisReplicasNum": 1}})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			_, err := p.Observe(ctx, []provider.Watch{{Instance: id, Started: true,
				From: provider.Values{"memSizeMB": 4096}, To: provider.Values{"memSizeMB": 8192}}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := s.CountOK("UpgradeInstance"); n != 15 {
		t.Errorf("%d upgrades accepted, want 15", n)
	}
}

func TestSpec(t *testing.T) {
	spec := redis.Spec()
	caps := map[string]float64{}
	for _, a := range spec.Actions {
		caps[a.Name] = a.QPS
		if a.Mutating != (a.Name == "UpgradeInstance") {
			t.Errorf("%s mutating = %v", a.Name, a.Mutating)
		}
	}
	if spec.Kind != "tencent.redis" || spec.Cloud != "tencent" || spec.IdempotencyToken ||
		caps["UpgradeInstance"] != 20 || caps["DescribeInstances"] != 35 {
		t.Errorf("spec = %+v", spec)
	}
}
