package redis

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	tcjson "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/json"
	tcredis "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/redis/v20180412"
	simredis "github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

const rawState = `
accounts:
  - {name: tc, cloud: tencent, keyId: tc-id, secret: tc-key}
redis:
  - {id: crs-a, region: ap-shanghai, account: tc, status: 2, tags: {env: demo, team: cache}, memSizeMB: 4096, shards: 3, replicas: 2, redisVersion: "6.2"}
  - {id: crs-b, region: ap-shanghai, account: tc, status: 1, tags: {env: "dé\"mo"}, memSizeMB: 8192, shards: 1, replicas: 1}
  - {id: crs-std, region: ap-shanghai, account: tc, status: 2, memSizeMB: 4096, shards: 1, replicas: 1, productType: standalone, redisVersion: "2.8"}
  - {id: crs-maz, region: ap-shanghai, account: tc, status: 2, tags: {env: std}, memSizeMB: 4096, shards: 3, replicas: 2, zones: [ap-shanghai-2, ap-shanghai-4]}
`

// recorder keeps every answer body the SDK's transport saw.
type recorder struct {
	base   http.RoundTripper
	bodies [][]byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.bodies = append(r.bodies, b)
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp, err
}

func openRaw(t *testing.T, s *simtest.Sim) *Provider {
	t.Helper()
	p, err := New(provider.Config{Region: "ap-shanghai",
		Account: provider.Account{Name: "tc", Cloud: "tencent", KeyID: provider.SecretRef{FromEnv: "TC_ID"}, Secret: provider.SecretRef{FromEnv: "TC_KEY"}},
		Getenv:  providertest.Getenv(map[string]string{EndpointEnv: s.Addr, "TC_ID": "tc-id", "TC_KEY": "tc-key"}), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The lean decoder reads the simulator's DescribeInstances pages exactly as the SDK's own
// decoder does (the fields List reads, tags with quotes and accents, node sets, standalone
// and multi-AZ instances), and List returns the same instances through either.
func TestLeanDescribeAgreesWithTheSDKsDecoder(t *testing.T) {
	s := simtest.Start(t, rawState, sim.Options{TimeScale: 600}, simredis.New())
	p := openRaw(t, s)
	rec := &recorder{base: http.DefaultTransport}
	p.client.WithHttpTransport(rec) // below rawBody: the SDK decodes every page itself
	ctx := context.Background()
	viaSDK, err := p.List(ctx, provider.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if len(viaSDK) != 4 || len(rec.bodies) == 0 {
		t.Fatalf("List through the SDK: %d instances, %d pages", len(viaSDK), len(rec.bodies))
	}
	for i, body := range rec.bodies {
		sdk := &describeAnswer{}
		if err := tcjson.Unmarshal(body, sdk); err != nil {
			t.Fatal(err)
		}
		lean := &describeAnswer{}
		if !decodeDescribe(lean)(body) {
			t.Fatalf("page %d: the lean decoder refused %s", i, body)
		}
		if !reflect.DeepEqual(sdk.Response, lean.Response) {
			t.Errorf("page %d: lean %+v, SDK %+v", i, lean.Response, sdk.Response)
		}
	}
	lp := openRaw(t, s)
	lean, err := lp.List(ctx, provider.Selection{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(lean, viaSDK) {
		t.Errorf("List with the lean decoder:\n%+v\nwith the SDK's:\n%+v", lean, viaSDK)
	}
	// And the lean decoder is what read it: the SDK saw the empty answer.
	got := &describeAnswer{}
	sendCtx, raw := leanSend(ctx, decodeDescribe(got))
	req := tcredis.NewDescribeInstancesRequest()
	req.SetContext(sendCtx)
	sdkSaw := &describeAnswer{BaseResponse: &tchttp.BaseResponse{}}
	if err := lp.client.Send(req, sdkSaw); err != nil {
		t.Fatal(err)
	}
	if !raw.took || got.Response == nil || len(got.Response.InstanceSet) != 4 || sdkSaw.Response == nil || sdkSaw.Response.InstanceSet != nil {
		t.Errorf("took %v, lean %+v, the SDK read %+v; want the page read by the lean decoder only", raw.took, got.Response, sdkSaw.Response)
	}
}

// An error answer is the SDK's to read: the decoder does not take it, so the error is the
// SDK's own (code, message, request id).
func TestLeanDescribeLeavesErrorsToTheSDK(t *testing.T) {
	body := []byte(`{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"bad"},"RequestId":"r-1"}}`)
	if decodeDescribe(&describeAnswer{})(body) {
		t.Error("the lean decoder took an error answer")
	}
	for _, b := range []string{`{"code":4000,"message":"old","codeDesc":"InvalidParameter"}`, `{"Response":`, `[]`} {
		if decodeDescribe(&describeAnswer{})([]byte(b)) {
			t.Errorf("the lean decoder took %s", b)
		}
	}
}
