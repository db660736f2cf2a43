package redis_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
)

// retrying retries retryable reads as the executor's limiter does (up to 8 sends).
type retrying struct{ sends int }

func (r *retrying) Do(ctx context.Context, _ provider.Request, send func(context.Context) error) error {
	var err error
	for r.sends = 1; ; r.sends++ {
		if err = send(ctx); provider.ClassOf(err) != provider.ClassRetryable || r.sends == 8 {
			return err
		}
	}
}

func TestATencentEndpointThatNeverAnswersFailsAfterTwoTimeouts(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	doer := &retrying{}
	p, err := redis.New(provider.Config{Region: "ap-shanghai", Account: tcAccount(), Doer: doer,
		Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: l.Addr().String(), provider.AnswerTimeoutEnv: "100ms", "TC_ID": "i", "TC_KEY": "k"})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.List(context.Background(), provider.Selection{})
	if provider.ClassOf(err) != provider.ClassPermanent || doer.sends != provider.SilentAttempts ||
		!strings.Contains(err.Error(), l.Addr().String()) || !strings.Contains(err.Error(), redis.EndpointEnv) {
		t.Fatalf("after %d sends: %v; want a permanent error naming the endpoint and %s", doer.sends, err, redis.EndpointEnv)
	}
	_, err = redis.New(provider.Config{Region: "ap-shanghai", Account: tcAccount(),
		Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: "http://x/", "TC_ID": "i", "TC_KEY": "k"})})
	if err == nil || !strings.Contains(err.Error(), redis.EndpointEnv) {
		t.Fatalf("an unparsable endpoint: %v; want it refused at once, naming %s", err, redis.EndpointEnv)
	}
}
