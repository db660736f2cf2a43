package sim_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
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

// rpcSign signs parameters the way the Alibaba SDK does, written independently of the
// server's code from the API documentation.
func rpcSign(method string, params url.Values, secret string) string {
	enc := func(s string) string {
		s = url.QueryEscape(s)
		s = strings.ReplaceAll(s, "+", "%20")
		s = strings.ReplaceAll(s, "*", "%2A")
		return strings.ReplaceAll(s, "%7E", "~")
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, enc(k)+"="+enc(params.Get(k)))
	}
	toSign := method + "&" + enc("/") + "&" + enc(strings.Join(pairs, "&"))
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(toSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func TestHandBuiltRPCRequestsAreCheckedOverTheirOwnMethod(t *testing.T) {
	base := func() url.Values {
		return url.Values{
			"Action": {"Echo"}, "Version": {rpcVersion}, "Format": {"JSON"}, "AccessKeyId": {"test-ak"},
			"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "SignatureNonce": {"n-1"},
			"Timestamp": {"2026-01-02T03:04:05Z"}, "RegionId": {"cn-hangzhou"}, "InstanceId": {"w-1"},
			"Note": {"spaces and * and ~"},
		}
	}
	cases := []struct {
		name     string
		method   string // how it is sent
		signAs   string // the method signed
		inForm   bool
		tamper   bool
		wantCode string
	}{
		{"a GET with every parameter in the query and no SignatureType is accepted", "GET", "GET", false, false, ""},
		{"a POST with the parameters in a form body is accepted", "POST", "POST", true, false, ""},
		{"a POST with the parameters in the query is accepted", "POST", "POST", false, false, ""},
		{"a GET signed as a POST does not match", "GET", "POST", false, false, "SignatureDoesNotMatch"},
		{"a form POST whose parameter changed after signing does not match", "POST", "POST", true, true, "SignatureDoesNotMatch"},
	}
	s, _, _ := startSim(t, sim.Options{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			p.Set("Signature", rpcSign(tc.signAs, p, "test-sk"))
			if tc.tamper {
				p.Set("InstanceId", "w-2")
			}
			var req *http.Request
			if tc.inForm {
				req, _ = http.NewRequest(tc.method, s.URL+"/", strings.NewReader(p.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				req, _ = http.NewRequest(tc.method, s.URL+"/?"+p.Encode(), nil)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var out map[string]any
			if err := json.Unmarshal(body, &out); err != nil {
				t.Fatalf("answer %q is not JSON", body)
			}
			if tc.wantCode == "" {
				if resp.StatusCode != 200 || out["Params"].(map[string]any)["Note"] != "spaces and * and ~" {
					t.Errorf("HTTP %d %s", resp.StatusCode, body)
				}
				return
			}
			if out["Code"] != tc.wantCode || resp.StatusCode != 400 {
				t.Errorf("HTTP %d %s, want 400 %s", resp.StatusCode, body, tc.wantCode)
			}
		})
	}
}

// tc3Post sends a hand-signed TC3 request whose signature covers signedHost.
func tc3Post(t *testing.T, addr, signedHost, action, body string) map[string]any {
	t.Helper()
	ts := "1767323045"
	date := "2026-01-02"
	payload := sha256.Sum256([]byte(body))
	canonical := "POST\n/\n\ncontent-type:application/json\nhost:" + signedHost + "\n\ncontent-type;host\n" + hex.EncodeToString(payload[:])
	ch := sha256.Sum256([]byte(canonical))
	toSign := "TC3-HMAC-SHA256\n" + ts + "\n" + date + "/gadgets/tc3_request\n" + hex.EncodeToString(ch[:])
	mac := func(key []byte, msg string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(msg))
		return m.Sum(nil)
	}
	key := mac(mac(mac([]byte("TC3test-key"), date), "gadgets"), "tc3_request")
	sig := hex.EncodeToString(mac(key, toSign))
	req, _ := http.NewRequest("POST", "http://"+addr+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-TC-Action", action)
	req.Header.Set("X-TC-Version", tc3Version)
	req.Header.Set("X-TC-Region", "ap-shanghai")
	req.Header.Set("X-TC-Timestamp", ts)
	req.Header.Set("Authorization", fmt.Sprintf("TC3-HMAC-SHA256 Credential=test-id/%s/gadgets/tc3_request, SignedHeaders=content-type;host, Signature=%s", date, sig))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Response map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTP %d, decode: %v", resp.StatusCode, err)
	}
	return out.Response
}

func TestTC3SignaturesOverHostWithOrWithoutPortAreAccepted(t *testing.T) {
	s, _, _ := startSim(t, sim.Options{})
	host, _, _ := strings.Cut(s.Addr, ":")
	cases := []struct {
		name, signedHost string
		ok               bool
	}{
		{"host and port as the Go SDK signs it", s.Addr, true},
		{"the host alone as the Node SDK signs it", host, true},
		{"another host does not match", "example.com", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := tc3Post(t, s.Addr, tc.signedHost, "Echo", `{"InstanceId":"g-1"}`)
			_, failed := out["Error"]
			if failed == tc.ok {
				t.Errorf("answer %v, want accepted=%v", out, tc.ok)
			}
			if !tc.ok && out["Error"].(map[string]any)["Code"] != "AuthFailure.SignatureFailure" {
				t.Errorf("answer %v, want AuthFailure.SignatureFailure", out)
			}
		})
	}
}
