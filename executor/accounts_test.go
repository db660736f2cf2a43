package executor

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// Two account names with one key id, and a name whose key is the default chain's from the
// environment, are one account at the cloud: their requests take their tokens from one
// bucket, so together they stay under the cap the cloud counts for that account. A name
// with another key, and one whose variable is unset, keep buckets of their own.
func TestAccountNamesOfOneKeyShareTheirBuckets(t *testing.T) {
	env := map[string]string{"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKID-default", "OPS_AK": "AKID-ops", "OTHER_AK": "AKID-other"}
	getenv := func(k string) string { return env[k] }
	accounts := map[string]provider.Account{
		"ops":     {Name: "ops", Cloud: "alibaba", KeyID: provider.SecretRef{FromEnv: "OPS_AK"}, Secret: provider.SecretRef{FromEnv: "OPS_SK"}},
		"ops-2":   {Name: "ops-2", Cloud: "alibaba", KeyIDLiteral: "AKID-ops", Secret: provider.SecretRef{FromEnv: "OPS_SK"}},
		"mine":    {Name: "mine", Cloud: "alibaba", KeyIDLiteral: "AKID-default", Secret: provider.SecretRef{FromEnv: "SK"}},
		"other":   {Name: "other", Cloud: "alibaba", KeyID: provider.SecretRef{FromEnv: "OTHER_AK"}, Secret: provider.SecretRef{FromEnv: "SK"}},
		"unset":   {Name: "unset", Cloud: "alibaba", KeyID: provider.SecretRef{FromEnv: "NOT_SET"}, Secret: provider.SecretRef{FromEnv: "SK"}},
		"tencent": {Name: "tencent", Cloud: "tencent", KeyIDLiteral: "AKID-ops", Secret: provider.SecretRef{FromEnv: "SK"}},
	}
	shared := SharedBuckets(accounts, getenv)
	want := map[string]string{"alibaba/ops": "ops", "alibaba/ops-2": "ops", "alibaba/": "", "alibaba/mine": ""}
	if len(shared) != len(want) {
		t.Errorf("SharedBuckets = %v, want %v", shared, want)
	}
	for k, v := range want {
		if got, ok := shared[k]; !ok || got != v {
			t.Errorf("SharedBuckets[%q] = %q, %v; want %q", k, got, ok, v)
		}
	}

	synctest.Test(t, func(t *testing.T) {
		reg := provider.Registry{"alibaba.k": {Actions: []provider.ActionSpec{{Name: "A", QPS: 2}}}}
		l := NewLimiter(reg, planner.Settings{}, LimiterOptions{Seed: 1, SharedBuckets: shared})
		var mu sync.Mutex
		var at []fakeCall
		var wg sync.WaitGroup
		for i := range 20 {
			acct := []string{"ops", "ops-2"}[i%2]
			wg.Go(func() {
				l.Do(t.Context(), provider.Request{Kind: "alibaba.k", Action: "A", Account: acct}, func(context.Context) error {
					mu.Lock()
					at = append(at, fakeCall{at: time.Now()})
					mu.Unlock()
					return nil
				})
			})
		}
		wg.Wait()
		if m := maxPerSecond(at); m > 2 {
			t.Errorf("%d requests of one key's two names in one second; the cloud's cap for the account is 2", m)
		}
		if n := len(l.Stats()); n != 1 {
			t.Errorf("%d buckets for one key's two names, want 1", n)
		}
	})
}
