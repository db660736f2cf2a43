package sim_test

import (
	"encoding/json"
	"testing"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
)

func TestAlibabaSDKCallsAreAnsweredWithTheActionsObjectAndARequestId(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	out, err := aliCall(t, s, "test-ak", "test-sk", "Echo", map[string]string{"InstanceId": "w-1", "Odd": "a b*c~d+e/f"})
	if err != nil {
		t.Fatal(err)
	}
	if out["RequestId"] == "" || out["RequestId"] == nil {
		t.Errorf("answer has no RequestId: %v", out)
	}
	if out["Account"] != "ali" || out["Region"] != "cn-hangzhou" {
		t.Errorf("the action saw account %v region %v, want ali cn-hangzhou", out["Account"], out["Region"])
	}
	params := out["Params"].(map[string]any)
	if params["Odd"] != "a b*c~d+e/f" || params["InstanceId"] != "w-1" {
		t.Errorf("the action saw params %v", params)
	}
	for _, common := range []string{"AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "Action", "Version", "Format"} {
		if _, ok := params[common]; ok {
			t.Errorf("the action saw the common parameter %s", common)
		}
	}
}

func TestAlibabaRefusalsCarryTheCloudsCodes(t *testing.T) {
	cases := []struct {
		name       string
		ak, sk     string
		action     string
		wantStatus int
		wantCode   string
	}{
		{"an unknown access key is not found", "nobody-ak", "test-sk", "Echo", 404, "InvalidAccessKeyId.NotFound"},
		{"a wrong secret does not match the signature", "test-ak", "wrong-sk", "Echo", 400, "SignatureDoesNotMatch"},
		{"another account's secret does not match either", "test-ak", "other-sk", "Echo", 400, "SignatureDoesNotMatch"},
		{"a Tencent key is unknown to Alibaba", "test-id", "test-key", "Echo", 404, "InvalidAccessKeyId.NotFound"},
		{"an action the product lacks is not found", "test-ak", "test-sk", "Teleport", 404, "InvalidApi.NotFound"},
		{"an action error is an internal error", "test-ak", "test-sk", "Fail", 500, "InternalError"},
		{"a product panic is an internal error", "test-ak", "test-sk", "Panic", 500, "InternalError"},
		{"a product API error keeps its status and code", "test-ak", "test-sk", "Describe", 404, "InstanceNotFound"},
	}
	s, _, _ := startSim(t, sim.Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := aliCall(t, s, tc.ak, tc.sk, tc.action, map[string]string{"InstanceId": "w-404"})
			if err == nil {
				t.Fatal("the call succeeded")
			}
			status, code := aliCode(t, err)
			if status != tc.wantStatus || code != tc.wantCode {
				t.Errorf("got HTTP %d %s, want HTTP %d %s", status, code, tc.wantStatus, tc.wantCode)
			}
		})
	}
	if n := len(s.Calls()); n != len(cases) {
		t.Errorf("the call log holds %d calls, want %d", n, len(cases))
	}
}

func TestTencentSDKCallsAreAnsweredInsideResponse(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	out, err := tcCall(t, s, "test-id", "test-key", "Echo", map[string]any{"InstanceId": "g-1", "Limit": 5})
	if err != nil {
		t.Fatal(err)
	}
	if out["RequestId"] == "" || out["RequestId"] == nil {
		t.Errorf("answer has no RequestId: %v", out)
	}
	if out["Account"] != "tc" || out["Region"] != "ap-shanghai" {
		t.Errorf("the action saw account %v region %v, want tc ap-shanghai", out["Account"], out["Region"])
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(out["Body"].(string)), &body); err != nil || body["InstanceId"] != "g-1" || body["Limit"] != float64(5) {
		t.Errorf("the action saw body %v (%v)", out["Body"], err)
	}
	calls := s.CallsTo("Echo")
	if len(calls) != 1 || calls[0].Instance != "g-1" || calls[0].Params["Limit"] != "5" || calls[0].Product != "gadgets" {
		t.Errorf("call log: %+v", calls)
	}
}

func TestTencentRefusalsCarryTheCloudsCodes(t *testing.T) {
	cases := []struct {
		name     string
		id, key  string
		action   string
		wantCode string
	}{
		{"an unknown secret id is not found", "nobody-id", "test-key", "Echo", "AuthFailure.SecretIdNotFound"},
		{"a wrong secret key fails the signature", "test-id", "wrong-key", "Echo", "AuthFailure.SignatureFailure"},
		{"an Alibaba key is unknown to Tencent", "test-ak", "test-sk", "Echo", "AuthFailure.SecretIdNotFound"},
		{"an action the product lacks is invalid", "test-id", "test-key", "Teleport", "InvalidAction"},
		{"a product API error keeps its code", "test-id", "test-key", "Describe", "InstanceNotFound"},
		{"an action error is an internal error", "test-id", "test-key", "Fail", "InternalError"},
	}
	s, _, _ := startSim(t, sim.Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tcCall(t, s, tc.id, tc.key, tc.action, map[string]any{"InstanceId": "g-404"})
			if err == nil {
				t.Fatal("the call succeeded")
			}
			if code := tcCode(t, err); code != tc.wantCode {
				t.Errorf("got %s, want %s", code, tc.wantCode)
			}
		})
	}
}
