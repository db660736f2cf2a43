package cloudsim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	alisdk "github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	tccommon "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"

	"github.com/upgradeplan/upgradeplan/cloudsim"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

const demoAccounts = `accounts:
  - {name: demo-ali, cloud: alibaba, keyId: demo-ak, secret: demo-sk}
  - {name: demo-tc, cloud: tencent, keyId: demo-id, secret: demo-key}
`

// demoState is the accounts plus every product's demo section, as the lead assembles
// examples/sim/state.yaml.
func demoState(t *testing.T) []byte {
	t.Helper()
	files, err := filepath.Glob("*/testdata/demo-state.yaml")
	if err != nil || len(files) != 5 {
		t.Fatalf("want 5 product demo states, found %v (%v)", files, err)
	}
	state := demoAccounts
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		state += "\n" + string(b)
	}
	return []byte(state)
}

func TestEveryProductAnswersItsListCallThroughOneServer(t *testing.T) {
	srv, err := cloudsim.New(demoState(t), sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	addr := strings.TrimPrefix(hs.URL, "http://")

	rpc := []struct {
		name, version, action, method, wantID string
	}{
		{"kafka lists its demo instances", "2019-09-16", "GetInstanceList", "POST", "alikafka-demo-1"},
		{"mongodb lists its demo instances", "2015-12-01", "DescribeDBInstances", "POST", "dds-demo-1"},
		{"rabbitmq lists its demo instances", "2019-12-12", "ListInstances", "GET", "amqp-demo-1"},
		{"compute nest lists its demo instances", "2021-05-21", "ListServiceInstances", "POST", "si-demo-1"},
	}
	for _, tc := range rpc {
		t.Run(tc.name, func(t *testing.T) {
			client, err := alisdk.NewClientWithAccessKey("cn-hangzhou", "demo-ak", "demo-sk")
			if err != nil {
				t.Fatal(err)
			}
			req := requests.NewCommonRequest()
			req.Method, req.Scheme, req.Domain = tc.method, "http", addr
			req.Version, req.ApiName = tc.version, tc.action
			req.QueryParams["RegionId"] = "cn-hangzhou"
			req.QueryParams["MaxResults"] = "100" // ListInstances requires it; the others ignore it
			resp, err := client.ProcessCommonRequest(req)
			if err != nil {
				t.Fatal(err)
			}
			if body := resp.GetHttpContentString(); !strings.Contains(body, tc.wantID) || !strings.Contains(body, `"RequestId"`) {
				t.Errorf("answer lacks %s or RequestId: %s", tc.wantID, body)
			}
		})
	}
	t.Run("redis lists its demo instances", func(t *testing.T) {
		cpf := profile.NewClientProfile()
		cpf.HttpProfile.Endpoint, cpf.HttpProfile.Scheme = addr, "HTTP"
		client := tccommon.NewCommonClient(tccommon.NewCredential("demo-id", "demo-key"), "ap-shanghai", cpf)
		req := tchttp.NewCommonRequest("redis", "2018-04-12", "DescribeInstances")
		if err := req.SetActionParameters(map[string]any{"Limit": 10}); err != nil {
			t.Fatal(err)
		}
		resp := tchttp.NewCommonResponse()
		if err := client.Send(req, resp); err != nil {
			t.Fatal(err)
		}
		if body := string(resp.GetBody()); !strings.Contains(body, "crs-demo-1") {
			t.Errorf("answer lacks crs-demo-1: %s", body)
		}
	})

	res, err := http.Get(hs.URL + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var st map[string]json.RawMessage
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("state: %v", err)
	}
	for _, key := range []string{"accounts", "kafka", "mongodb", "rabbitmq", "computenest", "redis"} {
		if _, ok := st[key]; !ok {
			t.Errorf("/_sim/state lacks %q", key)
		}
	}
	if strings.Contains(string(raw), "demo-sk") || strings.Contains(string(raw), "demo-key") {
		t.Error("/_sim/state shows a secret")
	}
}

func TestTheExampleStateLoads(t *testing.T) {
	src, err := os.ReadFile("../examples/sim/state.yaml")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("examples/sim/state.yaml is not assembled yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cloudsim.New(src, sim.Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestActorsChangeEveryProductInThePlansFieldNames(t *testing.T) {
	faults := `actors:
  - {name: a-kafka, at: 1m, instance: alikafka-demo-1, set: {version: 2.2.0}}
  - {name: a-mongo, at: 1m, instance: dds-demo-1, set: {kernelVersion: mongodb_20240611_4.4.29}}
  - {name: a-rabbit, at: 1m, instance: amqp-demo-1, set: {maxPrivateTps: 5000}}
  - {name: a-nest, at: 1m, instance: si-demo-1, set: {serviceVersion: "3"}}
  - {name: a-redis, at: 1m, instance: crs-demo-1, set: {memSizeMB: 8192}}
`
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv, err := cloudsim.New(demoState(t), sim.Options{Now: func() time.Time { return now }, Faults: []byte(faults)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Applied()); n != 0 {
		t.Fatalf("%d changes before the actors' time", n)
	}
	now = now.Add(time.Minute)
	applied := srv.Applied()
	got := map[string]string{}
	for _, a := range applied {
		got[a.Actor] = fmt.Sprint(a.Instance, " ", a.From, " → ", a.To)
	}
	want := map[string]string{
		"a-kafka":  "alikafka-demo-1 map[version:0.10.2] → map[version:2.2.0]",
		"a-mongo":  "dds-demo-1 map[kernelVersion:mongodb_20231123_4.4.25] → map[kernelVersion:mongodb_20240611_4.4.29]",
		"a-rabbit": "amqp-demo-1 map[maxPrivateTps:3000] → map[maxPrivateTps:5000]",
		"a-nest":   "si-demo-1 map[serviceVersion:2] → map[serviceVersion:3]",
		"a-redis":  "crs-demo-1 map[memSizeMB:4096] → map[memSizeMB:8192]",
	}
	for actor, w := range want {
		if got[actor] != w {
			t.Errorf("%s: applied %q, want %q", actor, got[actor], w)
		}
	}
	raw, err := srv.State()
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"version":"2.2.0"`, `"kernelVersion":"mongodb_20240611_4.4.29"`, `"maxPrivateTps":5000`, `"version":"3"`, `"memSizeMB":8192`} {
		if !strings.Contains(string(raw), frag) {
			t.Errorf("/_sim/state lacks %s after the actors", frag)
		}
	}
}
