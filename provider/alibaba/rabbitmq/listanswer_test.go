package rabbitmq

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	amqp "github.com/aliyun/alibaba-cloud-sdk-go/services/amqp-open"

	"github.com/upgradeplan/upgradeplan/cloudsim/contract"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

// The lean ListInstances page decodes to what the SDK's own response struct gives, on
// the simulator's answers: every page of a region of editions, charge types, sizes, tags
// and statuses.
func TestListAnswerDecodesAsTheSDKDoes(t *testing.T) {
	var insts strings.Builder
	for i := range pageSize + 30 {
		edition, more := "enterprise", ""
		switch i % 4 {
		case 1:
			edition, more = "vip", ", orderType=POST_PAID, supportEip=true, maxEipTps=128"
		case 2:
			more = ", status=DEPLOYING, maxEipTps=0"
		case 3:
			edition, more = "professional", ", edition=dedicated, maxEipTps=0"
		default:
			more = ", maxEipTps=0"
		}
		extra := fmt.Sprintf("instanceType=%s, maxPrivateTps=%d, queueCapacity=1000, storageSize=%d, tags={n: v%d}%s", edition, 1000+i, 200+i%7, i, more)
		insts.WriteString(instanceYAML(fmt.Sprintf("amqp-%03d", i), extra))
	}
	_, p := start(t, insts.String(), "")
	send := func(token string, resp responses.AcsResponse) {
		t.Helper()
		err := p.pool.Invoke(context.Background(), alisdk.Call{Action: "ListInstances"}, func() (requests.AcsRequest, responses.AcsResponse) {
			return listRequest(region, token), resp
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	token, pages, seen := "", 0, 0
	for {
		full := amqp.CreateListInstancesResponse()
		send(token, full)
		lean := &listAnswer{BaseResponse: &responses.BaseResponse{}}
		send(token, lean)
		pages++
		if lean.RequestId == "" || lean.Data.NextToken != full.Data.NextToken || lean.Data.MaxResults != full.Data.MaxResults {
			t.Errorf("page %d: lean request id %q, next %q, max %d; SDK %q, %q, %d", pages, lean.RequestId, lean.Data.NextToken,
				lean.Data.MaxResults, full.RequestId, full.Data.NextToken, full.Data.MaxResults)
		}
		if len(lean.Data.Instances) != len(full.Data.Instances) {
			t.Fatalf("page %d: lean %d instances, SDK %d", pages, len(lean.Data.Instances), len(full.Data.Instances))
		}
		for i, vo := range full.Data.Instances {
			if got, want := p.fromList(lean.Data.Instances[i].vo()), p.fromList(vo); !reflect.DeepEqual(got, want) {
				t.Errorf("page %d, %s: lean %+v, SDK %+v", pages, vo.InstanceId, got, want)
			}
			if len(vo.Tags) != 1 {
				t.Errorf("%s: %d tags in the SDK's decoding; the comparison wants one", vo.InstanceId, len(vo.Tags))
			}
		}
		seen += len(full.Data.Instances)
		if token = full.Data.NextToken; token == "" {
			break
		}
	}
	if pages < 2 || seen != pageSize+30 {
		t.Errorf("%d pages, %d instances; want two pages of %d", pages, seen, pageSize+30)
	}
}

// Every field the lean page reads is in ListInstances' current API model (the vendor's
// names).
func TestListAnswerReadsTheModelsFieldNames(t *testing.T) {
	models, err := contract.Models()
	if err != nil {
		t.Fatal(err)
	}
	m := models["alibaba/amqp-open/ListInstances"]
	if m == nil {
		t.Fatal("no model of ListInstances")
	}
	paths := map[string]bool{}
	for p := range m.Response {
		paths[p] = true
	}
	providertest.CheckModelPaths(t, listAnswer{}, paths)
}
