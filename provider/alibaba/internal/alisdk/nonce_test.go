package alisdk_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	amqp "github.com/aliyun/alibaba-cloud-sdk-go/services/amqp-open"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// nonceServer answers like Alibaba's RPC endpoint with one lost answer: the request numbered
// dropAt is read, then its connection closed without a word; a request whose SignatureNonce
// was seen before gets SignatureNonceUsed, as the cloud (and cloudsim) answer it.
func nonceServer(t *testing.T, dropAt int) (addr string, seen func() int) {
	var mu sync.Mutex
	nonces := map[string]bool{}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		nonce := r.Form.Get("SignatureNonce")
		mu.Lock()
		n++
		used, this := nonces[nonce], n
		nonces[nonce] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case used:
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"RequestId":"R-NONCE","Code":"SignatureNonceUsed","Message":"Specified signature nonce was used already."}`))
		case this == dropAt:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		default:
			w.Write([]byte(`{"RequestId":"R-OK","Success":true,"Code":200,"Data":{"Instances":[],"MaxResults":100}}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// RabbitMQ's ListInstances is a GET. When its answer is lost on a reused connection,
// net/http sends the very same signed request again, and the server refuses the nonce it
// has seen: that read is retryable (signed afresh it passes), not a permanent failure of
// the plan. Before, plan failed with "SignatureNonceUsed" under the checker's fault mix.
func TestAReadResentByTheTransportWithItsUsedNonceIsRetryable(t *testing.T) {
	addr, seen := nonceServer(t, 2)
	p := openPool(t, addr, provider.Config{})
	list := func() error {
		return p.Invoke(context.Background(), alisdk.Call{Action: "ListInstances", CheckSuccess: true}, func() (requests.AcsRequest, responses.AcsResponse) {
			req := amqp.CreateListInstancesRequest()
			req.RegionId = "cn-hangzhou"
			return req, amqp.CreateListInstancesResponse()
		})
	}
	if err := list(); err != nil {
		t.Fatalf("first list: %v", err)
	}
	err := list() // its answer is lost; the transport resends it on a new connection
	if seen() != 3 {
		t.Fatalf("the server saw %d requests, want 3 (the transport's resend of the lost one is what this test is about)", seen())
	}
	pe, ok := provider.AsError(err)
	if !ok || pe.Code != "SignatureNonceUsed" || pe.Class != provider.ClassRetryable || pe.RequestID != "R-NONCE" {
		t.Fatalf("second list: %v (%+v), want SignatureNonceUsed, retryable, with its request id", err, pe)
	}
	if err := list(); err != nil {
		t.Fatalf("the retry, signed afresh: %v", err)
	}
}

// A mutating call refused for its nonce has had a copy reach the server before: its outcome
// is unknown (maybe sent), never a permanent failure that would let a re-plan send it again
// while the first copy is being applied.
func TestAMutatingCallRefusedForItsNonceMayHaveBeenSent(t *testing.T) {
	srv := httptest.NewServer(answer(http.StatusBadRequest,
		`{"RequestId":"R-N","Code":"SignatureNonceUsed","Message":"Specified signature nonce was used already."}`))
	defer srv.Close()
	p := openPool(t, srv.Listener.Addr().String(), provider.Config{})
	err := upgradeCall(p)
	if pe, ok := provider.AsError(err); !ok || pe.Class != provider.ClassUnknown || pe.RequestID != "R-N" {
		t.Fatalf("got %v (%+v), want class unknown with the request id", err, pe)
	}
}
