package alisdk_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

func TestAnEndpointThatNeverAnswersFailsAfterTwoTimeoutsNamingItsVariable(t *testing.T) {
	addr := providertest.Blackhole(t)
	doer := &providertest.Retrying{}
	p, err := alisdk.NewPool(provider.Config{Region: "cn-hangzhou", Doer: doer,
		Getenv:  getenv(map[string]string{alisdk.EndpointEnv: addr, provider.AnswerTimeoutEnv: "100ms", "ALIBABA_CLOUD_ACCESS_KEY_ID": "a"}),
		Account: provider.Account{Name: "x", KeyIDLiteral: "ak", Secret: provider.SecretRef{FromEnv: "ALIBABA_CLOUD_ACCESS_KEY_ID"}}},
		alisdk.Options{Kind: "alibaba.kafka", Endpoint: alisdk.Regional("alikafka")})
	if err != nil {
		t.Fatal(err)
	}
	err = listCall(p)
	if provider.ClassOf(err) != provider.ClassPermanent || doer.Sends != provider.SilentAttempts {
		t.Fatalf("after %d sends: %v (class %s); want a permanent error after %d", doer.Sends, err, provider.ClassOf(err), provider.SilentAttempts)
	}
	for _, want := range []string{addr, alisdk.EndpointEnv, "never answered", "answer timeout 100ms", provider.AnswerTimeoutEnv} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
}

func TestAnUnparsableEndpointOrTimeoutFailsAtOnce(t *testing.T) {
	for _, env := range []map[string]string{
		{alisdk.EndpointEnv: "http://127.0.0.1:8080/"},
		{alisdk.EndpointEnv: "127.0.0.1"},
		{alisdk.EndpointEnv: "localhost:http"},
		{alisdk.EndpointEnv: "127.0.0.1:1", provider.AnswerTimeoutEnv: "10"},
	} {
		env["AK"], env["SK"] = "a", "b"
		_, err := alisdk.NewPool(provider.Config{Region: "cn-hangzhou", Getenv: getenv(env),
			Account: provider.Account{Name: "x", KeyID: provider.SecretRef{FromEnv: "AK"}, Secret: provider.SecretRef{FromEnv: "SK"}}},
			alisdk.Options{Kind: "alibaba.kafka", Endpoint: alisdk.Regional("alikafka")})
		if err == nil || !strings.Contains(err.Error(), "UPGRADEPLAN_") {
			t.Errorf("%v: NewPool = %v; want an error naming the variable", env, err)
		}
	}
}

// Simulator traffic never goes through a proxy the environment names, whether the SDK's
// no-proxy exception is set (a proxy variable is set) or left out (none is: the SDK would
// compile it at every call).
func TestSimulatorTrafficBypassesAProxyFromTheEnvironment(t *testing.T) {
	srv := httptest.NewServer(answer(200, `{"RequestId":"R-OK","Success":true,"Code":200}`))
	defer srv.Close()
	for _, proxy := range []string{"", "http://127.0.0.1:1"} {
		t.Setenv("HTTP_PROXY", proxy)
		t.Setenv("http_proxy", proxy)
		p := openPool(t, srv.Listener.Addr().String(), provider.Config{})
		if err := upgradeCall(p); err != nil {
			t.Fatalf("HTTP_PROXY=%q: %v", proxy, err)
		}
	}
}
