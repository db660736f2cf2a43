package redis

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// panicTransport stands in for a fault inside the SDK's HTTP path: the Tencent client calls
// it from within the SDK call, and net/http does not recover what it panics with.
type panicTransport struct{ calls atomic.Int32 }

func (t *panicTransport) RoundTrip(*http.Request) (*http.Response, error) {
	t.calls.Add(1)
	panic("boom inside the SDK")
}

func TestAPanicInsideTheSDKIsUnknownForTheUpgradeAndPermanentForReads(t *testing.T) {
	tests := []struct {
		name      string
		call      func(context.Context, *Provider) error
		action    string
		instance  string
		wantClass provider.Class
	}{
		{"a panic during UpgradeInstance is outcome-unknown, since the request may have been sent",
			func(ctx context.Context, p *Provider) error {
				_, err := p.Apply(ctx, provider.Call{Instance: "crs-a", Action: ActionUpgradeInstance,
					Params: map[string]any{"InstanceId": "crs-a", "MemSize": int64(8192), "RedisShardNum": int64(4), "RedisReplicasNum": int64(2)}})
				return err
			}, ActionUpgradeInstance, "crs-a", provider.ClassUnknown},
		{"a panic during DescribeInstances stays permanent",
			func(ctx context.Context, p *Provider) error {
				_, err := p.List(ctx, provider.Selection{})
				return err
			}, ActionDescribeInstances, "", provider.ClassPermanent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The endpoint is never dialled: the transport panics first.
			p, err := New(provider.Config{
				Region: "ap-shanghai",
				Getenv: func(k string) string {
					return map[string]string{EndpointEnv: "127.0.0.1:9", "TENCENTCLOUD_SECRET_ID": "id", "TENCENTCLOUD_SECRET_KEY": "key"}[k]
				},
				Timeout: time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			tr := &panicTransport{}
			p.client.WithHttpTransport(tr)
			err = tc.call(context.Background(), p)
			pe, ok := provider.AsError(err)
			if !ok || pe.Class != tc.wantClass || pe.Code != "ClientError.Panic" || pe.Action != tc.action || pe.Instance != tc.instance {
				t.Fatalf("got %v (%+v); want a %s ClientError.Panic for %s %q", err, pe, tc.wantClass, tc.action, tc.instance)
			}
			if !strings.Contains(err.Error(), "boom inside the SDK") {
				t.Errorf("%q does not say what the SDK panicked with", err)
			}
			if n := tr.calls.Load(); n != 1 {
				t.Errorf("the transport was reached %d times, want once (the SDK must not retry)", n)
			}
		})
	}
}
