package sim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	alisdk "github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	alierrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	tccommon "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerrors "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
	"gopkg.in/yaml.v3"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// The test products: "widgets" speaks Alibaba RPC, "gadgets" Tencent TC3. Each keeps a
// version per widget, echoes what it received, and upgrades through a lifecycle.
const (
	rpcVersion = "2020-02-02"
	tc3Version = "2021-03-03"
)

const testState = `
accounts:
  - {name: ali, cloud: alibaba, keyId: test-ak, secret: test-sk}
  - {name: ali2, cloud: alibaba, keyId: other-ak, secret: other-sk}
  - {name: tc, cloud: tencent, keyId: test-id, secret: test-key}
widgets:
  w-1: "1.0"
  w-2: "1.0"
gadgets:
  g-1: "1.0"
`

type widgets struct {
	name, proto, version, key string
	versions                  map[string]string
	upgrades                  int
}

func newWidgets() *widgets {
	return &widgets{name: "widgets", proto: string(sim.RPC), version: rpcVersion, key: "widgets"}
}

func newGadgets() *widgets {
	return &widgets{name: "gadgets", proto: string(sim.TC3), version: tc3Version, key: "gadgets"}
}

func (w *widgets) Name() string           { return w.name }
func (w *widgets) Protocol() sim.Protocol { return sim.Protocol(w.proto) }
func (w *widgets) Version() string        { return w.version }
func (w *widgets) StateKey() string       { return w.key }
func (w *widgets) Snapshot() any          { return w.versions }
func (w *widgets) Load(n *yaml.Node) error {
	w.versions = map[string]string{}
	if n == nil {
		return nil
	}
	return n.Decode(&w.versions)
}

func (w *widgets) Actions() map[string]sim.Action {
	return map[string]sim.Action{
		"Echo": func(r *sim.Request) (any, error) {
			params := map[string]string{}
			for k := range r.Params {
				params[k] = r.Params.Get(k)
			}
			return map[string]any{"Account": r.Account.Name, "Region": r.Region, "Params": params, "Body": string(r.Body)}, nil
		},
		"Describe": func(r *sim.Request) (any, error) {
			id := w.instance(r)
			v, ok := w.versions[id]
			if !ok {
				return nil, sim.Errorf(http.StatusNotFound, "InstanceNotFound", "instance %s does not exist", id)
			}
			return map[string]string{"InstanceId": id, "Version": v}, nil
		},
		"Upgrade": func(r *sim.Request) (any, error) {
			id := w.instance(r)
			old, ok := w.versions[id]
			if !ok {
				return nil, sim.Errorf(http.StatusNotFound, "InstanceNotFound", "instance %s does not exist", id)
			}
			w.upgrades++
			d := r.Duration(w.key, 10*time.Minute)
			ch := sim.Change{Instance: id, From: map[string]any{"version": old}, To: map[string]any{"version": "2.0"}}
			r.Apply(ch, func(time.Time) {
				w.versions[id] = "upgrading"
				r.After(d, func(time.Time) {
					if r.FailUpgrade(id) {
						w.versions[id] = "failed"
						return
					}
					w.versions[id] = "2.0"
				})
			})
			return map[string]any{"Accepted": true}, nil
		},
		"Panic": func(r *sim.Request) (any, error) { panic("boom") },
		// Names the default rate caps know, answering like Echo.
		"UpgradeInstanceVersion": func(r *sim.Request) (any, error) { return map[string]string{"Action": r.Action}, nil },
		"UpgradeInstance":        func(r *sim.Request) (any, error) { return map[string]string{"Action": r.Action}, nil },
		"DescribeInstances":      func(r *sim.Request) (any, error) { return map[string]string{"Action": r.Action}, nil },
		"Fail":                   func(r *sim.Request) (any, error) { return nil, errors.New("disk on fire") },
	}
}

// Act lets a faults file's actor set a widget's version while it is not upgrading.
func (w *widgets) Act(id string, set map[string]any) (sim.Change, func(time.Time), error) {
	old, ok := w.versions[id]
	if !ok {
		return sim.Change{}, nil, sim.ErrUnknownInstance
	}
	v, isString := set["version"].(string)
	if len(set) != 1 || !isString {
		return sim.Change{}, nil, errors.New("a widget has only a version (a string)")
	}
	if old == "upgrading" {
		return sim.Change{}, nil, fmt.Errorf("%w: %s is upgrading", sim.ErrBusy, id)
	}
	ch := sim.Change{Instance: id, From: map[string]any{"version": old}, To: map[string]any{"version": v}}
	return ch, func(time.Time) { w.versions[id] = v }, nil
}

func (w *widgets) instance(r *sim.Request) string {
	if w.proto == string(sim.RPC) {
		return r.Params.Get("InstanceId")
	}
	var b struct{ InstanceId string }
	_ = json.Unmarshal(r.Body, &b)
	return b.InstanceId
}

// newFakeClock returns a settable clock for Options.Now.
func newFakeClock() *simtest.Clock {
	return simtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// startSim runs the two test products on a simulator.
func startSim(t *testing.T, opts sim.Options) (*simtest.Sim, *widgets, *widgets) {
	t.Helper()
	w, g := newWidgets(), newGadgets()
	return simtest.Start(t, testState, opts, w, g), w, g
}

// aliCall makes one RPC call with the real Alibaba SDK; params go in the query as the
// SDK's generated clients send them.
func aliCall(t *testing.T, s *simtest.Sim, ak, sk, action string, params map[string]string) (map[string]any, error) {
	t.Helper()
	client, err := alisdk.NewClientWithAccessKey("cn-hangzhou", ak, sk)
	if err != nil {
		t.Fatal(err)
	}
	req := requests.NewCommonRequest()
	req.Method = "POST"
	req.Scheme = "http"
	req.Domain = s.Addr
	req.Version = rpcVersion
	req.ApiName = action
	for k, v := range params {
		req.QueryParams[k] = v
	}
	resp, err := client.ProcessCommonRequest(req)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(resp.GetHttpContentBytes(), &out); err != nil {
		t.Fatalf("decode %s answer %q: %v", action, resp.GetHttpContentString(), err)
	}
	return out, nil
}

// tcCall makes one TC3 call with the real Tencent SDK's common client.
func tcCall(t *testing.T, s *simtest.Sim, id, key, action string, params map[string]any) (map[string]any, error) {
	t.Helper()
	return tcCallService(t, s, "gadgets", id, key, action, params)
}

// tcCallService is tcCall for a TC3 product of another name.
func tcCallService(t *testing.T, s *simtest.Sim, service, id, key, action string, params map[string]any) (map[string]any, error) {
	t.Helper()
	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Endpoint = s.Addr
	cpf.HttpProfile.Scheme = "HTTP"
	client := tccommon.NewCommonClient(tccommon.NewCredential(id, key), "ap-shanghai", cpf)
	req := tchttp.NewCommonRequest(service, tc3Version, action)
	if params == nil {
		params = map[string]any{}
	}
	if err := req.SetActionParameters(params); err != nil {
		t.Fatal(err)
	}
	resp := tchttp.NewCommonResponse()
	if err := client.Send(req, resp); err != nil {
		return nil, err
	}
	var out struct{ Response map[string]any }
	if err := json.Unmarshal(resp.GetBody(), &out); err != nil {
		t.Fatalf("decode %s answer %q: %v", action, resp.GetBody(), err)
	}
	return out.Response, nil
}

// aliCode returns the Alibaba SDK's view of an error: HTTP status and code.
func aliCode(t *testing.T, err error) (int, string) {
	t.Helper()
	var se *alierrors.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("want an Alibaba server error, got %T %v", err, err)
	}
	if se.RequestId() == "" {
		t.Errorf("error %s carries no request id", se.ErrorCode())
	}
	return se.HttpStatus(), se.ErrorCode()
}

// tcCode returns the Tencent SDK's error code.
func tcCode(t *testing.T, err error) string {
	t.Helper()
	var te *tcerrors.TencentCloudSDKError
	if !errors.As(err, &te) {
		t.Fatalf("want a Tencent SDK error, got %T %v", err, err)
	}
	return te.Code
}
