package cloudsim_test

import (
	"testing"

	tccommon "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	tcredis "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/redis/v20180412"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// The Tencent Go SDK's other signing forms — TC3 over GET and signature v1 (HmacSHA256,
// HmacSHA1) over GET and POST — are answered like the default TC3 POST.
func TestTencentGoSDKIsAnsweredOverGETAndSignatureV1(t *testing.T) {
	s := simtest.Start(t, nodeState, sim.Options{}, cloudsim.Products()...)
	cases := []struct{ method, sign string }{
		{"POST", "TC3-HMAC-SHA256"}, {"GET", "TC3-HMAC-SHA256"},
		{"GET", "HmacSHA256"}, {"POST", "HmacSHA256"}, {"GET", "HmacSHA1"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.sign, func(t *testing.T) {
			cpf := profile.NewClientProfile()
			cpf.HttpProfile.Endpoint = s.Addr
			cpf.HttpProfile.Scheme = "HTTP"
			cpf.HttpProfile.ReqMethod = tc.method
			cpf.SignMethod = tc.sign
			c, err := tcredis.NewClient(tccommon.NewCredential("node-id", "node-key"), "ap-shanghai", cpf)
			if err != nil {
				t.Fatal(err)
			}
			req := tcredis.NewDescribeInstancesRequest()
			req.Limit = tccommon.Uint64Ptr(10)
			req.InstanceIds = tccommon.StringPtrs([]string{"crs-node-1", "crs-other"})
			req.InstanceTags = []*tcredis.InstanceTagInfo{{TagKey: tccommon.StringPtr("env"), TagValue: tccommon.StringPtr("node")}}
			resp, err := c.DescribeInstances(req)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(resp.Response.InstanceSet); n != 1 || *resp.Response.InstanceSet[0].InstanceId != "crs-node-1" || *resp.Response.TotalCount != 1 {
				t.Errorf("got %d instances (%s), want crs-node-1 alone", n, resp.ToJsonString())
			}
		})
	}
}
