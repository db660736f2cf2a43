package kafka_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/upgradeplan/upgradeplan/cloudsim/kafka"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// These tests use the real alikafka SDK as the client, so the simulator is held to the wire
// format the SDK reads.

const state = `
accounts:
  - {name: ali, cloud: alibaba, keyId: ak-1, secret: sk-1}
durations: {kafka: 10m}
kafka:
  - {id: k-1, region: cn-hangzhou, account: ali, version: 0.10.2, tags: {env: prod, team: a}}
  - {id: k-2, region: cn-hangzhou, version: 2.2.0, tags: {env: prod}}
  - {id: k-3, region: cn-hangzhou, version: 0.10.2, status: upgrading}
  - {id: k-4, region: cn-shanghai, version: 0.10.2, tags: {env: prod}}
`

func setup(t *testing.T, faults string) (*simtest.Sim, *alikafka.Client, *simtest.Clock) {
	t.Helper()
	c := simtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := simtest.Start(t, state, sim.Options{Now: c.Now, Faults: []byte(faults)}, kafka.New())
	client, err := alikafka.NewClientWithAccessKey("cn-hangzhou", "ak-1", "sk-1")
	if err != nil {
		t.Fatal(err)
	}
	client.Domain = s.Addr
	return s, client, c
}

func list(t *testing.T, c *alikafka.Client, mutate func(*alikafka.GetInstanceListRequest)) []alikafka.InstanceVO {
	t.Helper()
	req := alikafka.CreateGetInstanceListRequest()
	req.RegionId = "cn-hangzhou"
	if mutate != nil {
		mutate(req)
	}
	resp, err := c.GetInstanceList(req)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.Success || resp.Code != 200 || resp.RequestId == "" {
		t.Fatalf("answer %+v", resp)
	}
	return resp.InstanceList.InstanceVO
}

func TestGetInstanceListDecodesWhatTheProviderReads(t *testing.T) {
	_, c, _ := setup(t, "")
	got := list(t, c, nil)
	var lines []string
	for _, vo := range got {
		var tags []string
		for _, tg := range vo.Tags.TagVO {
			tags = append(tags, tg.Key+"="+tg.Value)
		}
		lines = append(lines, fmt.Sprintf("%s %s %d/%d %s %v", vo.InstanceId, vo.RegionId, vo.ServiceStatus, vo.ViewInstanceStatusCode,
			vo.UpgradeServiceDetailInfo.Current2OpenSourceVersion, tags))
	}
	want := []string{
		"k-1 cn-hangzhou 5/2 0.10.2 [env=prod team=a]",
		"k-2 cn-hangzhou 5/2 2.2.0 [env=prod]",
		"k-3 cn-hangzhou 8/7 0.10.2 []",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestGetInstanceListFilters(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*alikafka.GetInstanceListRequest)
		want   []string
	}{
		{"InstanceId.N narrows to those ids", func(r *alikafka.GetInstanceListRequest) { r.InstanceId = &[]string{"k-3", "k-1"} },
			[]string{"k-1", "k-3"}},
		{"Tag.N narrows to instances carrying every tag", func(r *alikafka.GetInstanceListRequest) {
			r.Tag = &[]alikafka.GetInstanceListTag{{Key: "env", Value: "prod"}, {Key: "team", Value: "a"}}
		}, []string{"k-1"}},
		{"an instance of another region is never listed", func(r *alikafka.GetInstanceListRequest) { r.InstanceId = &[]string{"k-4"} }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, c, _ := setup(t, "")
			var ids []string
			for _, vo := range list(t, c, tc.mutate) {
				ids = append(ids, vo.InstanceId)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("got %v, want %v", ids, tc.want)
			}
		})
	}
}

func upgrade(c *alikafka.Client, id, target string) (*alikafka.UpgradeInstanceVersionResponse, error) {
	req := alikafka.CreateUpgradeInstanceVersionRequest()
	req.RegionId = "cn-hangzhou"
	req.InstanceId = id
	req.TargetVersion = target
	return c.UpgradeInstanceVersion(req)
}

func TestUpgradeRulesAnswerHTTP200WithSuccessFalse(t *testing.T) {
	tests := []struct {
		name, id, target, code string
		status                 int
	}{
		{"2.2.0 to 0.10.2 is a refused downgrade", "k-2", "0.10.2", kafka.CodeDowngrade, 400},
		{"an upgrading instance is refused", "k-3", "2.2.0", kafka.CodeInstanceStatus, 400},
		{"a target outside the table is refused", "k-1", "3.0.0", kafka.CodeFieldInvalid, 400},
		{"an instance of another region is not found", "k-4", "2.2.0", kafka.CodeInstanceNotFound, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, c, _ := setup(t, "")
			resp, err := upgrade(c, tc.id, tc.target)
			if err != nil || resp.GetHttpStatus() != 200 {
				t.Fatalf("HTTP %d, %v; want 200, decoded by the SDK (Code is an integer in its model)", resp.GetHttpStatus(), err)
			}
			var body struct {
				Success   bool
				Code      int
				Message   string
				RequestId string
			}
			if err := json.Unmarshal(resp.GetHttpContentBytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Success || body.Code != tc.status || !strings.HasPrefix(body.Message, tc.code+": ") || body.RequestId == "" {
				t.Errorf("body %s; want Success false, Code %d, the reason %s and a RequestId", resp.GetHttpContentString(), tc.status, tc.code)
			}
			if s.CountCode("UpgradeInstanceVersion", strconv.Itoa(tc.status)) != 1 {
				t.Errorf("the call log does not record the refusal with its code %d: %+v", tc.status, s.CallsTo("UpgradeInstanceVersion"))
			}
		})
	}
}

func TestUpgradeLifecycle(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprintf("failing=%v", fail), func(t *testing.T) {
			faults := ""
			if fail {
				faults = "failUpgrades: [k-1]\n"
			}
			_, c, clk := setup(t, faults)
			resp, err := upgrade(c, "k-1", "2.2.0")
			if err != nil || !resp.Success || resp.Code != 200 {
				t.Fatalf("%+v %v", resp, err)
			}
			k1 := func() alikafka.InstanceVO {
				return list(t, c, func(r *alikafka.GetInstanceListRequest) { r.InstanceId = &[]string{"k-1"} })[0]
			}
			if vo := k1(); vo.ServiceStatus != 8 || vo.ViewInstanceStatusCode != 7 {
				t.Errorf("during the upgrade: %d/%d, want 8/7", vo.ServiceStatus, vo.ViewInstanceStatusCode)
			}
			clk.Advance(10 * time.Minute)
			vo := k1()
			wantView, wantVersion := 2, "2.2.0"
			if fail {
				wantView, wantVersion = 102, "0.10.2"
			}
			if vo.ViewInstanceStatusCode != wantView || vo.UpgradeServiceDetailInfo.Current2OpenSourceVersion != wantVersion {
				t.Errorf("after: view %d version %s, want %d %s", vo.ViewInstanceStatusCode, vo.UpgradeServiceDetailInfo.Current2OpenSourceVersion, wantView, wantVersion)
			}
		})
	}
}

func TestUpgradeCapIsTwoPerSecond(t *testing.T) {
	s, c, _ := setup(t, "")
	throttled := 0
	for range 4 {
		if _, err := upgrade(c, "k-2", "2.2.0"); err != nil {
			if se, ok := err.(*errors.ServerError); ok && se.ErrorCode() == "ONS_SYSTEM_FLOW_CONTROL" {
				throttled++
			}
		}
	}
	// The clock stands still: all four arrive in one window; two are over the cap and get
	// alikafka's own throttle, ONS_SYSTEM_FLOW_CONTROL.
	if throttled != 2 || s.CountCode("UpgradeInstanceVersion", "ONS_SYSTEM_FLOW_CONTROL") != 2 {
		t.Errorf("%d throttled of 4 in one second, want 2", throttled)
	}
}

func TestAnAcceptedUpgradeListsAsBeforeUntilTheVisibilityLagPasses(t *testing.T) {
	clk := simtest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s := simtest.Start(t, state+"visibilityLag: {kafka: 30s}\n", sim.Options{Now: clk.Now}, kafka.New())
	c, err := alikafka.NewClientWithAccessKey("cn-hangzhou", "ak-1", "sk-1")
	if err != nil {
		t.Fatal(err)
	}
	c.Domain = s.Addr
	if resp, err := upgrade(c, "k-1", "2.2.0"); err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	k1 := func() string {
		vo := list(t, c, func(r *alikafka.GetInstanceListRequest) { r.InstanceId = &[]string{"k-1"} })[0]
		return fmt.Sprintf("%d/%d %s", vo.ServiceStatus, vo.ViewInstanceStatusCode, vo.UpgradeServiceDetailInfo.Current2OpenSourceVersion)
	}
	if got := k1(); got != "5/2 0.10.2" {
		t.Errorf("right after the accepted call: %s, want the old 5/2 0.10.2", got)
	}
	clk.Advance(30 * time.Second)
	if got := k1(); got != "8/7 0.10.2" {
		t.Errorf("after the lag: %s, want upgrading 8/7", got)
	}
	clk.Advance(10 * time.Minute)
	if got := k1(); got != "5/2 2.2.0" {
		t.Errorf("after the lag and the upgrade: %s, want 5/2 2.2.0", got)
	}
	applied := s.Applied()
	if len(applied) != 1 || applied[0].From["version"] != "0.10.2" || applied[0].To["version"] != "2.2.0" || applied[0].RequestID == "" {
		t.Errorf("applied record %+v, want one change 0.10.2 → 2.2.0 with its request id", applied)
	}
}
