package redis_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
)

// Answers that no Tencent API sends but a proxy or a cut connection can: the real SDK reads
// them from a plain HTTP server, and the provider must classify what the SDK makes of them.
func TestGatewayAnswersAreClassified(t *testing.T) {
	cases := []struct {
		name    string
		status  int
		body    string
		upgrade bool
		class   provider.Class
		code    string
	}{
		{"a 502 without a Tencent body on a read is retryable", http.StatusBadGateway, "{}", false, provider.ClassRetryable, "ClientError.HttpStatusCodeError"},
		{"a 403 without a Tencent body is permanent", http.StatusForbidden, "{}", true, provider.ClassPermanent, "ClientError.HttpStatusCodeError"},
		{"a cut answer to an upgrade is outcome-unknown", http.StatusOK, `{"Response":{"DealId":"1`, true, provider.ClassUnknown, "ClientError.ParseJsonError"},
		{"a cut answer to a read is retryable", http.StatusOK, `{"Response":{"InstanceSet":[`, false, provider.ClassRetryable, "ClientError.ParseJsonError"},
		{"FailedOperation.SystemError is retryable", http.StatusOK, `{"Response":{"Error":{"Code":"FailedOperation.SystemError","Message":"x"},"RequestId":"r-1"}}`, true, provider.ClassRetryable, "FailedOperation.SystemError"},
		{"a RequestLimitExceeded variant is throttled", http.StatusOK, `{"Response":{"Error":{"Code":"RequestLimitExceeded.UinLimitExceeded","Message":"x"},"RequestId":"r-2"}}`, false, provider.ClassThrottled, "RequestLimitExceeded.UinLimitExceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			p, err := redis.New(provider.Config{Region: "ap-shanghai", Account: tcAccount(),
				Getenv: providertest.Getenv(map[string]string{redis.EndpointEnv: strings.TrimPrefix(srv.URL, "http://"), "TC_ID": "id", "TC_KEY": "key"})})
			if err != nil {
				t.Fatal(err)
			}
			if tc.upgrade {
				_, err = p.Apply(context.Background(), provider.Call{Instance: "crs-a", Action: "UpgradeInstance",
					Params: map[string]any{"InstanceId": "crs-a", "MemSize": 8192, "RedisShardNum": 2, "RedisReplicasNum": 2}})
			} else {
				_, err = p.List(context.Background(), provider.Selection{})
			}
			pe, ok := provider.AsError(err)
			if !ok || pe.Class != tc.class || pe.Code != tc.code {
				t.Fatalf("error = %v, want %s %s", err, tc.class, tc.code)
			}
		})
	}
}
