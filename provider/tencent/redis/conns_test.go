package redis_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
)

// The region's one client keeps its connections: bursts of concurrent calls, one after the
// other, as steps in flight send them at high parallelism, dial once per connection the
// first burst needed and reuse them after. With the transport's former 16 idle connections
// per host, every later burst of 64 redialed 48.
func TestConcurrentCallsReuseTheirConnections(t *testing.T) {
	var dials atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		time.Sleep(20 * time.Millisecond) // the calls of a burst overlap
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"Response":{"DealId":"1001","RequestId":"r-1"}}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	p, err := redis.New(provider.Config{Region: "ap-shanghai", Account: tcAccount(),
		Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: strings.TrimPrefix(srv.URL, "http://"), "TC_ID": "id", "TC_KEY": "key"})})
	if err != nil {
		t.Fatal(err)
	}
	const burst = 64
	for round := range 3 {
		var wg sync.WaitGroup
		for range burst {
			wg.Go(func() {
				_, err := p.Apply(context.Background(), provider.Call{Instance: "crs-a", Action: "UpgradeInstance",
					Params: map[string]any{"InstanceId": "crs-a", "MemSize": 8192, "RedisShardNum": 2, "RedisReplicasNum": 2}})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// A connection goes back to the idle pool just after its call returned, so a
		// later burst may start before the last few are back: slack for those.
		if got, most := dials.Load(), int64(burst+burst/4); got > most {
			t.Fatalf("after burst %d of %d concurrent calls: %d connections dialed, want at most %d", round+1, burst, got, most)
		}
	}
}
