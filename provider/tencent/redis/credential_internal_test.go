package redis

import (
	"context"
	"sync"
	"testing"

	simredis "github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

// refreshingCredential refreshes the way the SDK's CvmRoleCredential does: inside every
// getter, by overwriting the whole struct without a lock. It alternates between two
// valid key pairs, so a call signed from a torn read carries one pair's id and the
// other's key.
type refreshingCredential struct {
	id, key string
	n       int
}

var pairs = [2][2]string{{"role-id-a", "role-key-a"}, {"role-id-b", "role-key-b"}}

func (c *refreshingCredential) refresh() {
	n := c.n + 1
	*c = refreshingCredential{id: pairs[n%2][0], key: pairs[n%2][1], n: n}
}

func (c *refreshingCredential) GetCredential() (string, string, string) {
	c.refresh()
	return c.id, c.key, ""
}
func (c *refreshingCredential) GetSecretId() string  { c.refresh(); return c.id }
func (c *refreshingCredential) GetSecretKey() string { c.refresh(); return c.key }
func (c *refreshingCredential) GetToken() string     { c.refresh(); return "" }

// One client is shared by every poll and upgrade of a provider. Through a credential that
// refreshes itself under concurrent calls, every call is still signed with one whole key
// pair (run with -race: an unlocked refresh is a data race).
func TestConcurrentCallsThroughARefreshingCredential(t *testing.T) {
	s := simtest.Start(t, `
accounts:
  - {name: role-a, cloud: tencent, keyId: role-id-a, secret: role-key-a}
  - {name: role-b, cloud: tencent, keyId: role-id-b, secret: role-key-b}
qps: {redis/DescribeInstances: 0}
redis:
  - {id: crs-a, region: ap-shanghai, status: 2, memSizeMB: 4096, shards: 3, replicas: 2}
`, sim.Options{}, simredis.New())
	cfg := provider.Config{Region: "ap-shanghai", Getenv: providertest.Getenv(map[string]string{EndpointEnv: s.Addr})}
	client, _, err := newClientWith(cfg, &refreshingCredential{id: pairs[0][0], key: pairs[0][1]})
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{cfg: cfg, doer: provider.Direct, client: client, deals: map[string]deal{}}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := p.List(context.Background(), provider.Selection{}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a call signed during a refresh failed: %v", err)
	}
	for _, c := range s.CallsTo("DescribeInstances") {
		if !c.OK() {
			t.Errorf("the simulator refused a call: %s", c.Code)
		}
	}
}
