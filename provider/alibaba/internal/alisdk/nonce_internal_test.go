package alisdk

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/upgradeplan/upgradeplan/provider"
)

// The SDK signs its requests with the nonce of the seam this package sets: what the seam
// returns is the SignatureNonce the server gets, and every request gets a fresh one of
// the SDK's form (32 lowercase hex digits).
func TestRequestsCarryTheNonceOfTheSDKSeam(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		seen = append(seen, r.Form.Get("SignatureNonce"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"RequestId":"R-OK","Success":true,"Code":200}`))
	}))
	defer srv.Close()
	env := map[string]string{EndpointEnv: srv.Listener.Addr().String(), "AK": "test-ak", "SK": "test-sk"}
	p, err := NewPool(provider.Config{Region: "cn-hangzhou", Getenv: func(k string) string { return env[k] },
		Account: provider.Account{Name: "test", KeyID: provider.SecretRef{FromEnv: "AK"}, Secret: provider.SecretRef{FromEnv: "SK"}}},
		Options{Kind: "alibaba.kafka", Endpoint: Regional("alikafka")})
	if err != nil {
		t.Fatal(err)
	}
	call := func() {
		err := p.Invoke(context.Background(), Call{Action: "GetInstanceList"}, func() (requests.AcsRequest, responses.AcsResponse) {
			req := alikafka.CreateGetInstanceListRequest()
			req.RegionId = "cn-hangzhou"
			return req, alikafka.CreateGetInstanceListResponse()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	const n = 200
	for range n {
		call()
	}
	saved := hookGetNonce
	hookGetNonce = func(func() string) string { return "from-the-seam" }
	call()
	hookGetNonce = saved

	hex := regexp.MustCompile(`^[0-9a-f]{32}$`)
	uniq := map[string]bool{}
	for _, s := range seen[:n] {
		if !hex.MatchString(s) || uniq[s] {
			t.Fatalf("nonce %q: want 32 lowercase hex digits, unique (seen %d before)", s, len(uniq))
		}
		uniq[s] = true
	}
	if got := seen[n]; got != "from-the-seam" {
		t.Fatalf("with the seam replaced the server got nonce %q: the SDK does not use the seam this package sets", got)
	}
}
