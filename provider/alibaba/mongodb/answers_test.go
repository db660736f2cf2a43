package mongodb

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/dds"

	"github.com/upgradeplan/upgradeplan/cloudsim/contract"
	simdds "github.com/upgradeplan/upgradeplan/cloudsim/dds"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

// answerState has both instance types, tags and none, statuses, and more replica sets than
// one page holds.
func answerState() string {
	var b strings.Builder
	b.WriteString("accounts:\n  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}\nmongodb:\n")
	for i := range PageSize + 7 {
		tags := ""
		if i%3 == 0 {
			tags = fmt.Sprintf(", tags: {env: prod, team: t%d}", i%5)
		}
		status := ""
		if i%11 == 0 {
			status = ", status: Rebooting"
		}
		fmt.Fprintf(&b, "  - {id: dds-%04d, region: cn-hangzhou, engineVersion: \"4.4\", kernelVersion: mongodb_20231123_4.4.25, replicationFactor: %d%s%s}\n", i, 1+2*(i%2), tags, status)
	}
	for i := range 5 {
		fmt.Fprintf(&b, "  - {id: dds-s-%04d, region: cn-hangzhou, type: sharding, engineVersion: \"5.0\", kernelVersion: mongodb_20240611_5.0.21, tags: {env: dev}}\n", i)
	}
	return b.String()
}

func answerProvider(t *testing.T) *Provider {
	t.Helper()
	s := simtest.Start(t, answerState(), sim.Options{Now: func() time.Time { return time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC) }}, simdds.New())
	env := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": s.Addr, "ALI_AK": "ak-1", "ALI_SK": "sk-1"}
	p, err := New(provider.Config{
		Region:  "cn-hangzhou",
		Account: provider.Account{Name: "ali", Cloud: "alibaba", KeyID: provider.SecretRef{FromEnv: "ALI_AK"}, Secret: provider.SecretRef{FromEnv: "ALI_SK"}},
		Getenv:  providertest.Getenv(env),
		Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// invoke sends one read with the SDK and decodes its answer into resp.
func invoke(t *testing.T, p *Provider, action string, req func() requests.AcsRequest, resp responses.AcsResponse) {
	t.Helper()
	if err := p.pool.Invoke(context.Background(), alisdk.Call{Action: action}, func() (requests.AcsRequest, responses.AcsResponse) {
		return req(), resp
	}); err != nil {
		t.Fatal(err)
	}
}

func listRequest(typ string, page int) func() requests.AcsRequest {
	return func() requests.AcsRequest {
		req := dds.CreateDescribeDBInstancesRequest()
		req.RegionId = "cn-hangzhou"
		req.DBInstanceType = typ
		req.PageSize = requests.NewInteger(PageSize)
		req.PageNumber = requests.NewInteger(page)
		return req
	}
}

// The lean DescribeDBInstances page decodes to what the SDK's own response struct gives,
// on the simulator's answers (full and partial pages, both types, tags and none).
func TestListAnswerDecodesAsTheSDKDoes(t *testing.T) {
	p := answerProvider(t)
	pages := []struct {
		typ  string
		page int
	}{{TypeReplicate, 1}, {TypeReplicate, 2}, {TypeSharding, 1}}
	for _, pg := range pages {
		full := dds.CreateDescribeDBInstancesResponse()
		invoke(t, p, ActionList, listRequest(pg.typ, pg.page), full)
		lean := &listAnswer{BaseResponse: &responses.BaseResponse{}}
		invoke(t, p, ActionList, listRequest(pg.typ, pg.page), lean)
		if len(full.DBInstances.DBInstance) == 0 {
			t.Fatalf("%s page %d: the simulator listed nothing", pg.typ, pg.page)
		}
		if lean.TotalCount != full.TotalCount || lean.PageNumber != full.PageNumber || lean.PageSize != full.PageSize {
			t.Errorf("%s page %d: lean total/page/size %d/%d/%d, SDK %d/%d/%d", pg.typ, pg.page,
				lean.TotalCount, lean.PageNumber, lean.PageSize, full.TotalCount, full.PageNumber, full.PageSize)
		}
		if !compareInstances(t, fmt.Sprintf("%s page %d", pg.typ, pg.page), full.DBInstances.DBInstance, lean.DBInstances.DBInstance) {
			t.Errorf("%s page %d: no instance had tags: the comparison does not cover them", pg.typ, pg.page)
		}
	}
}

// The lean DescribeDBInstanceAttribute answer decodes to what the SDK's own gives.
func TestAttributeAnswerDecodesAsTheSDKDoes(t *testing.T) {
	p := answerProvider(t)
	tagged := false
	for _, id := range []string{"dds-0000", "dds-0011", "dds-0001", "dds-s-0003"} {
		req := func() requests.AcsRequest {
			r := dds.CreateDescribeDBInstanceAttributeRequest()
			r.RegionId = "cn-hangzhou"
			r.DBInstanceId = id
			return r
		}
		full := dds.CreateDescribeDBInstanceAttributeResponse()
		invoke(t, p, ActionAttribute, req, full)
		lean := &attributeAnswer{BaseResponse: &responses.BaseResponse{}}
		invoke(t, p, ActionAttribute, req, lean)
		if len(full.DBInstances.DBInstance) != 1 || full.DBInstances.DBInstance[0].CurrentKernelVersion == "" {
			t.Fatalf("%s: the SDK decoded %+v", id, full.DBInstances.DBInstance)
		}
		tagged = compareInstances(t, id, full.DBInstances.DBInstance, lean.DBInstances.DBInstance) || tagged
	}
	if !tagged {
		t.Error("no instance had tags: the comparison does not cover them")
	}
}

// compareInstances fails t where the lean decoding differs from the SDK's, and reports
// whether an instance had tags.
func compareInstances(t *testing.T, what string, full []dds.DBInstance, lean []leanInstance) (tagged bool) {
	t.Helper()
	if len(lean) != len(full) {
		t.Fatalf("%s: lean %d instances, SDK %d", what, len(lean), len(full))
	}
	for i := range full {
		want, got := fromSDK(full[i]), fromSDK(lean[i].sdk())
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: instance %d: lean %+v, SDK %+v", what, i, got, want)
		}
		tagged = tagged || len(want.tags) > 0
	}
	return tagged
}

// Every field the lean answers read is in the action's current API model (the vendor's
// names), but the kernel of a listed instance: the SDK's DescribeDBInstances struct has one,
// the current model does not (see list).
func TestLeanAnswersReadTheModelsFieldNames(t *testing.T) {
	models, err := contract.Models()
	if err != nil {
		t.Fatal(err)
	}
	paths := func(action string) map[string]bool {
		m := models["alibaba/dds/"+action]
		if m == nil {
			t.Fatalf("no model of %s", action)
		}
		out := map[string]bool{}
		for p := range m.Response {
			out[p] = true
		}
		return out
	}
	providertest.CheckModelPaths(t, attributeAnswer{}, paths(ActionAttribute))
	providertest.CheckModelPaths(t, listAnswer{}, paths(ActionList), "DBInstances.DBInstance[].CurrentKernelVersion")
}
