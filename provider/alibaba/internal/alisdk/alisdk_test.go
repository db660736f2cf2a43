package alisdk_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// These tests run the real SDK over HTTP against small loopback servers that answer the
// way Alibaba's RPC endpoints do; the product tests run the same code against cloudsim.

func getenv(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// answer returns a handler writing status and body for every request.
func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func openPool(t testing.TB, endpoint string, cfg provider.Config) *alisdk.Pool {
	t.Helper()
	env := map[string]string{alisdk.EndpointEnv: endpoint, "AK": "test-ak", "SK": "test-sk"}
	if cfg.Getenv == nil {
		cfg.Getenv = getenv(env)
	}
	if cfg.Region == "" {
		cfg.Region = "cn-hangzhou"
	}
	if cfg.Account.Default() {
		cfg.Account = provider.Account{Name: "test", KeyID: provider.SecretRef{FromEnv: "AK"}, Secret: provider.SecretRef{FromEnv: "SK"}}
	}
	p, err := alisdk.NewPool(cfg, alisdk.Options{Kind: "alibaba.kafka", Endpoint: alisdk.Regional("alikafka"), Clients: 3})
	if err != nil {
		t.Fatalf("NewPool: %v", err)
	}
	return p
}

func upgradeCall(p *alisdk.Pool) error {
	return p.Invoke(context.Background(),
		alisdk.Call{Action: "UpgradeInstanceVersion", Instance: "alikafka-1", Mutating: true, CheckSuccess: true},
		func() (requests.AcsRequest, responses.AcsResponse) {
			req := alikafka.CreateUpgradeInstanceVersionRequest()
			req.RegionId = "cn-hangzhou"
			req.InstanceId = "alikafka-1"
			req.TargetVersion = "2.2.0"
			return req, alikafka.CreateUpgradeInstanceVersionResponse()
		})
}

func listCall(p *alisdk.Pool) error {
	return p.Invoke(context.Background(), alisdk.Call{Action: "GetInstanceList", CheckSuccess: true},
		func() (requests.AcsRequest, responses.AcsResponse) {
			req := alikafka.CreateGetInstanceListRequest()
			req.RegionId = "cn-hangzhou"
			return req, alikafka.CreateGetInstanceListResponse()
		})
}

func TestInvokeClassifiesCloudAnswers(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		body       string
		wantClass  provider.Class
		wantCode   string
		wantReqID  string
		wantStatus int
	}{
		{"a throttled call is throttled and keeps the request id", 400,
			`{"RequestId":"R-1","HostId":"h","Code":"Throttling.User","Message":"Request was denied due to user flow control."}`,
			provider.ClassThrottled, "Throttling.User", "R-1", 400},
		{"an API-level throttle is throttled too", 400,
			`{"RequestId":"R-2","Code":"Throttling.Api","Message":"Request was denied due to api flow control."}`,
			provider.ClassThrottled, "Throttling.Api", "R-2", 400},
		{"an internal error is retryable", 500,
			`{"RequestId":"R-3","Code":"InternalError","Message":"The request processing has failed due to some unknown error."}`,
			provider.ClassRetryable, "InternalError", "R-3", 500},
		{"a service unavailable answer is retryable", 503,
			`{"RequestId":"R-4","Code":"ServiceUnavailable","Message":"The request has failed due to a temporary failure of the server."}`,
			provider.ClassRetryable, "ServiceUnavailable", "R-4", 503},
		{"an unknown access key is permanent", 404,
			`{"RequestId":"R-5","Code":"InvalidAccessKeyId.NotFound","Message":"Specified access key is not found."}`,
			provider.ClassPermanent, "InvalidAccessKeyId.NotFound", "R-5", 404},
		{"a validation error is permanent", 400,
			`{"RequestId":"R-6","Code":"InvalidParameter","Message":"The specified parameter TargetVersion is not valid."}`,
			provider.ClassPermanent, "InvalidParameter", "R-6", 400},
		{"an HTTP 200 with Success false and a string code is a permanent error", 200,
			`{"RequestId":"R-7","Code":"BIZ.INSTANCE.STATUS.ERROR","Message":"instance is not running","Success":false}`,
			provider.ClassPermanent, "BIZ.INSTANCE.STATUS.ERROR", "R-7", 200},
		{"an HTTP 200 with Success false and a numeric code keeps the number as the code", 200,
			`{"RequestId":"R-8","Code":400,"Message":"bad request","Success":false}`,
			provider.ClassPermanent, "400", "R-8", 200},
		{"an HTTP 200 with Success false and a throttling code is throttled", 200,
			`{"RequestId":"R-9","Code":"Throttling.User","Message":"flow control","Success":false}`,
			provider.ClassThrottled, "Throttling.User", "R-9", 200},
		{"an HTTP 200 whose body was cut short: the mutating call may have been accepted, its outcome is unknown", 200,
			`{"RequestId":"R-11","Succ`,
			provider.ClassUnknown, "SDK.JsonUnmarshalError", "", 0},
		{"an HTTP 200 with a proxy's page for a body: the outcome is unknown", 200,
			`<html><body>OK</body></html>`,
			provider.ClassUnknown, "SDK.JsonUnmarshalError", "", 0},
		{"a numeric code on an error status makes the SDK panic; the mutating call's outcome is unknown", 500,
			`{"RequestId":"R-10","Code":500,"Message":"boom"}`,
			provider.ClassUnknown, alisdk.CodeSDKPanic, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(answer(tc.status, tc.body))
			defer srv.Close()
			p := openPool(t, srv.Listener.Addr().String(), provider.Config{})
			err := upgradeCall(p)
			pe, ok := provider.AsError(err)
			if !ok {
				t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
			}
			if pe.Class != tc.wantClass || pe.Code != tc.wantCode || pe.RequestID != tc.wantReqID || pe.HTTPStatus != tc.wantStatus {
				t.Errorf("got class %s code %q request id %q status %d; want %s %q %q %d (%v)",
					pe.Class, pe.Code, pe.RequestID, pe.HTTPStatus, tc.wantClass, tc.wantCode, tc.wantReqID, tc.wantStatus, err)
			}
			if pe.Kind != "alibaba.kafka" || pe.Action != "UpgradeInstanceVersion" || pe.Instance != "alikafka-1" {
				t.Errorf("error names %q %q %q; want the kind, action and instance", pe.Kind, pe.Action, pe.Instance)
			}
			if tc.wantReqID != "" && !strings.Contains(err.Error(), tc.wantReqID) {
				t.Errorf("message %q does not show the request id", err)
			}
		})
	}
}

func TestInvokeClassifiesNetworkFailures(t *testing.T) {
	// A listener that is closed at once: connecting is refused, nothing was sent.
	refused := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	// A server that reads the request, then drops the connection without answering.
	dropAfterRead := func(t *testing.T) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	// A server that answers later than the client's read timeout.
	slow := func(t *testing.T) string {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(func() { close(release); srv.Close() })
		return srv.Listener.Addr().String()
	}
	tests := []struct {
		name     string
		endpoint func(*testing.T) string
		mutating bool
		want     provider.Class
	}{
		{"a refused connection sent nothing, so even an upgrade is retryable", refused, true, provider.ClassRetryable},
		{"a refused connection on a read is retryable", refused, false, provider.ClassRetryable},
		{"a connection dropped after the upgrade was written leaves its outcome unknown", dropAfterRead, true, provider.ClassUnknown},
		{"a connection dropped during a read is retryable", dropAfterRead, false, provider.ClassRetryable},
		{"an upgrade that times out waiting for the answer has an unknown outcome", slow, true, provider.ClassUnknown},
		{"a read that times out is retryable", slow, false, provider.ClassRetryable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := openPool(t, tc.endpoint(t), provider.Config{Timeout: 150 * time.Millisecond})
			var err error
			if tc.mutating {
				err = upgradeCall(p)
			} else {
				err = listCall(p)
			}
			if got := provider.ClassOf(err); got != tc.want {
				t.Fatalf("class %s, want %s (%v)", got, tc.want, err)
			}
		})
	}
}

func TestInvokeSendsAFreshSignedRequestPerAttempt(t *testing.T) {
	var mu sync.Mutex
	var nonces []string
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		nonces = append(nonces, q.Get("SignatureNonce"))
		seen = append(seen, q.Get("AccessKeyId")+" "+q.Get("Action")+" "+q.Get("TargetVersion")+" "+r.Host)
		n := len(nonces)
		mu.Unlock()
		if n == 1 {
			answer(400, `{"RequestId":"R-1","Code":"Throttling.User","Message":"flow control"}`)(w, r)
			return
		}
		answer(200, `{"RequestId":"R-2","Code":200,"Message":"operation success.","Success":true}`)(w, r)
	}))
	defer srv.Close()

	// A Doer that retries a throttled call once, as the executor's does.
	var reqs []provider.Request
	doer := provider.DoerFunc(func(ctx context.Context, req provider.Request, send func(context.Context) error) error {
		reqs = append(reqs, req)
		err := send(ctx)
		if provider.ClassOf(err) == provider.ClassThrottled {
			err = send(ctx)
		}
		return err
	})
	p := openPool(t, srv.Listener.Addr().String(), provider.Config{Doer: doer})
	if err := upgradeCall(p); err != nil {
		t.Fatalf("the retried call failed: %v", err)
	}
	if len(nonces) != 2 || nonces[0] == nonces[1] || nonces[0] == "" {
		t.Errorf("signature nonces %q: want two different ones, one per attempt", nonces)
	}
	want := "test-ak UpgradeInstanceVersion 2.2.0 " + srv.Listener.Addr().String()
	for _, s := range seen {
		if s != want {
			t.Errorf("server saw %q, want %q", s, want)
		}
	}
	if len(reqs) != 1 || reqs[0] != (provider.Request{Kind: "alibaba.kafka", Account: "test", Region: "cn-hangzhou",
		Action: "UpgradeInstanceVersion", Mutating: true, Instance: "alikafka-1"}) {
		t.Errorf("Doer saw %+v", reqs)
	}
}

func TestPoolNeverRunsMoreCallsAtOnceThanItHasClients(t *testing.T) {
	var inFlight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
		answer(200, `{"RequestId":"R","Code":200,"Success":true,"InstanceList":{"InstanceVO":[]}}`)(w, r)
	}))
	defer srv.Close()
	p := openPool(t, srv.Listener.Addr().String(), provider.Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 24)
	for range 24 {
		wg.Go(func() { errs <- listCall(p) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent call failed: %v", err)
		}
	}
	if got := peak.Load(); got > 3 || got < 2 {
		t.Errorf("peak of %d calls in flight; want 2..3 with a pool of 3 clients", got)
	}
}

func TestCredentials(t *testing.T) {
	t.Run("the default chain reads the access key from the environment", func(t *testing.T) {
		var gotKey atomic.Value
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gotKey.Store(r.URL.Query().Get("AccessKeyId"))
			answer(200, `{"RequestId":"R","Success":true}`)(w, r)
		}))
		defer srv.Close()
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "chain-ak")
		t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "chain-sk")
		p, err := alisdk.NewPool(provider.Config{Region: "cn-hangzhou", Getenv: getenv(map[string]string{alisdk.EndpointEnv: srv.Listener.Addr().String()})},
			alisdk.Options{Kind: "alibaba.kafka", Endpoint: alisdk.Regional("alikafka")})
		if err != nil {
			t.Fatal(err)
		}
		if err := listCall(p); err != nil {
			t.Fatal(err)
		}
		if gotKey.Load() != "chain-ak" {
			t.Errorf("server saw AccessKeyId %v, want chain-ak", gotKey.Load())
		}
	})
	t.Run("a key id written out in the manifest is sent as is, the secret read from the environment", func(t *testing.T) {
		var gotKey atomic.Value
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			gotKey.Store(r.URL.Query().Get("AccessKeyId"))
			answer(200, `{"RequestId":"R","Success":true}`)(w, r)
		}))
		defer srv.Close()
		p, err := alisdk.NewPool(provider.Config{Region: "cn-hangzhou",
			Account: provider.Account{Name: "prod", KeyIDLiteral: "LTAIexample", Secret: provider.SecretRef{FromEnv: "PROD_SK"}},
			Getenv:  getenv(map[string]string{alisdk.EndpointEnv: srv.Listener.Addr().String(), "PROD_SK": "sk"})},
			alisdk.Options{Kind: "alibaba.kafka", Endpoint: alisdk.Regional("alikafka")})
		if err != nil {
			t.Fatal(err)
		}
		if err := listCall(p); err != nil {
			t.Fatal(err)
		}
		if gotKey.Load() != "LTAIexample" {
			t.Errorf("server saw AccessKeyId %v, want LTAIexample", gotKey.Load())
		}
	})
	t.Run("an account whose secret variable is unset is refused by name, before any call", func(t *testing.T) {
		_, err := alisdk.NewPool(provider.Config{Region: "cn-hangzhou",
			Account: provider.Account{Name: "prod", KeyID: provider.SecretRef{FromEnv: "PROD_AK"}, Secret: provider.SecretRef{FromEnv: "PROD_SK"}},
			Getenv:  getenv(map[string]string{"PROD_AK": "visible-key-id"})},
			alisdk.Options{Kind: "alibaba.kafka", Endpoint: alisdk.Regional("alikafka")})
		if err == nil || !strings.Contains(err.Error(), "PROD_SK") {
			t.Fatalf("error %v should name PROD_SK", err)
		}
	})
	t.Run("a wrong secret never appears in the error the cloud's refusal becomes", func(t *testing.T) {
		srv := httptest.NewServer(answer(400, `{"RequestId":"R-S","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&AccessKeyId%3Dtest-ak%26Secret%3Dtest-sk"}`))
		defer srv.Close()
		p := openPool(t, srv.Listener.Addr().String(), provider.Config{})
		err := upgradeCall(p)
		if provider.ClassOf(err) != provider.ClassPermanent || strings.Contains(err.Error(), "test-sk") || strings.Contains(err.Error(), "string to sign") {
			t.Fatalf("got %v: want a permanent error without the echoed string to sign", err)
		}
	})
}

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantDomain string
		wantScheme string
	}{
		{"the endpoint variable sends every call to host:port over plain HTTP",
			map[string]string{alisdk.EndpointEnv: "127.0.0.1:9999"}, "127.0.0.1:9999", "HTTP"},
		{"without it the product's real endpoint is used over HTTPS",
			map[string]string{}, "alikafka.cn-shanghai.aliyuncs.com", "HTTPS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			env["AK"], env["SK"] = "a", "b"
			p, err := alisdk.NewPool(provider.Config{Region: "cn-shanghai", Getenv: getenv(env),
				Account: provider.Account{Name: "x", KeyID: provider.SecretRef{FromEnv: "AK"}, Secret: provider.SecretRef{FromEnv: "SK"}}},
				alisdk.Options{Kind: "alibaba.kafka", Endpoint: alisdk.Regional("alikafka")})
			if err != nil {
				t.Fatal(err)
			}
			if p.Domain() != tc.wantDomain || p.Scheme() != tc.wantScheme {
				t.Errorf("got %s over %s, want %s over %s", p.Domain(), p.Scheme(), tc.wantDomain, tc.wantScheme)
			}
		})
	}
	if got := alisdk.Regional("mongodb", map[string]string{"cn-hangzhou": "mongodb.aliyuncs.com"})("cn-hangzhou"); got != "mongodb.aliyuncs.com" {
		t.Errorf("a region listed in the SDK's endpoint map should use it, got %s", got)
	}
}

func TestCheckSuccess(t *testing.T) {
	tests := []struct {
		name string
		body string
		want string // "" for no error, else the code
	}{
		{"a body without Success is not an error", `{"RequestId":"R"}`, ""},
		{"Success true is not an error", `{"RequestId":"R","Success":true,"Code":200}`, ""},
		{"Success false is an error with its code", `{"RequestId":"R","Success":false,"Code":"BIZ.X"}`, "BIZ.X"},
		{"an empty body is not an error", ``, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pe := alisdk.CheckSuccess([]byte(tc.body))
			switch {
			case tc.want == "" && pe != nil:
				t.Errorf("got %v, want no error", pe)
			case tc.want != "" && (pe == nil || pe.Code != tc.want || pe.RequestID != "R"):
				t.Errorf("got %v, want code %s with request id R", pe, tc.want)
			}
		})
	}
}

func TestInvokeReportsACancelledContextWithoutSending(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	defer srv.Close()
	p := openPool(t, srv.Listener.Addr().String(), provider.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Invoke(ctx, alisdk.Call{Action: "GetInstanceList"}, func() (requests.AcsRequest, responses.AcsResponse) {
		return alikafka.CreateGetInstanceListRequest(), alikafka.CreateGetInstanceListResponse()
	})
	if !errors.Is(err, context.Canceled) || calls.Load() != 0 {
		t.Fatalf("got %v after %d calls; want context.Canceled and no call", err, calls.Load())
	}
}
