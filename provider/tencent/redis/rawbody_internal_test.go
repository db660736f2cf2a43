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

// answers is a transport that answers each request with the next body, as a 200 JSON page.
type answers struct{ bodies []string }

func (a *answers) RoundTrip(req *http.Request) (*http.Response, error) {
	body := a.bodies[0]
	a.bodies = a.bodies[1:]
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
}

// Answers are read into buffers kept for the next page: what the decoder took stays as
// it was read after later pages reuse its buffer, and a body the decoder refused (an error
// answer, handed to the SDK) is not overwritten by the pages read before the SDK reads it.
func TestPagesOutliveTheBuffersTheyWereReadInto(t *testing.T) {
	page := func(id string) string {
		return `{"Response":{"TotalCount":1,"InstanceSet":[{"InstanceId":"` + id + `","Region":"ap-shanghai","Status":2}],"RequestId":"r-` + id + `"}}`
	}
	refused := `{"Response":{"Error":{"Code":"RequestLimitExceeded","Message":"slow down"},"RequestId":"r-err"}}`
	rt := rawBody{&answers{bodies: []string{page("crs-aaaa"), refused, page("crs-bbbb"), page("crs-cccc")}}}
	send := func() (*describeAnswer, *rawAnswer, *http.Response) {
		got := &describeAnswer{}
		ctx, raw := leanSend(context.Background(), decodeDescribe(got))
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://redis.invalid/", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		return got, raw, resp
	}
	first, raw, _ := send()
	if !raw.took {
		t.Fatal("the decoder did not take the first page")
	}
	_, raw, errResp := send()
	if raw.took {
		t.Fatal("the decoder took an error answer")
	}
	for range 2 {
		send()
	}
	if id := deref(first.Response.InstanceSet[0].InstanceId); id != "crs-aaaa" {
		t.Errorf("the first page's instance reads %q after two more pages, want crs-aaaa", id)
	}
	if b, _ := io.ReadAll(errResp.Body); string(b) != refused {
		t.Errorf("the SDK read the refused answer as %s, want %s", b, refused)
	}
}
