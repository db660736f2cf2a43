package redis_test

import (
	"context"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
)

func TestATencentEndpointThatNeverAnswersFailsAfterTwoTimeouts(t *testing.T) {
	addr := providertest.Blackhole(t)
	doer := &providertest.Retrying{}
	p, err := redis.New(provider.Config{Region: "ap-shanghai", Account: tcAccount(), Doer: doer,
		Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: addr, provider.AnswerTimeoutEnv: "100ms", "TC_ID": "i", "TC_KEY": "k"})})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.List(context.Background(), provider.Selection{})
	if provider.ClassOf(err) != provider.ClassPermanent || doer.Sends != provider.SilentAttempts ||
		!strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), redis.EndpointEnv) {
		t.Fatalf("after %d sends: %v; want a permanent error naming the endpoint and %s", doer.Sends, err, redis.EndpointEnv)
	}
	_, err = redis.New(provider.Config{Region: "ap-shanghai", Account: tcAccount(),
		Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: "http://x/", "TC_ID": "i", "TC_KEY": "k"})})
	if err == nil || !strings.Contains(err.Error(), redis.EndpointEnv) {
		t.Fatalf("an unparsable endpoint: %v; want it refused at once, naming %s", err, redis.EndpointEnv)
	}
}
