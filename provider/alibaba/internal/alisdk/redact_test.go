package alisdk_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// The SDK sends RPC parameters in the URL's query, and Go's HTTP client puts the whole URL
// into a transport error ("Post \"http://host/?...&Parameters=...\": EOF"). A parameter can
// hold a resolved secret, so no error Invoke returns may carry the query: not its message,
// not any error in its chain, not its %+v form.
func TestNetworkErrorsCarryNoRequestParameters(t *testing.T) {
	const secret = "Pa55 w/rd+&=%?"
	refused := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		return addr
	}
	dropAfterRead := func(t *testing.T) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
		}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
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
		want     provider.Class
	}{
		{"a refused connection names the endpoint but no parameter", refused, provider.ClassRetryable},
		{"a connection dropped after the request was written names no parameter", dropAfterRead, provider.ClassUnknown},
		{"a request that timed out names no parameter", slow, provider.ClassUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := tc.endpoint(t)
			p := openPool(t, addr, provider.Config{Timeout: 150 * time.Millisecond})
			err := p.Invoke(context.Background(),
				alisdk.Call{Action: "UpgradeInstanceVersion", Instance: "alikafka-1", Mutating: true}, func() (requests.AcsRequest, responses.AcsResponse) {
					req := alikafka.CreateUpgradeInstanceVersionRequest()
					req.RegionId = "cn-hangzhou"
					req.InstanceId = "alikafka-1"
					req.TargetVersion = secret
					return req, alikafka.CreateUpgradeInstanceVersionResponse()
				})
			if err == nil {
				t.Fatal("the call succeeded; want a network error")
			}
			if got := provider.ClassOf(err); got != tc.want {
				t.Errorf("class %s, want %s (%v)", got, tc.want, err)
			}
			if !strings.Contains(err.Error(), addr) {
				t.Errorf("the error does not name the endpoint %s: %v", addr, err)
			}
			forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret), "TargetVersion", "Signature="}
			texts := []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
			for e := err; e != nil; e = errors.Unwrap(e) {
				texts = append(texts, e.Error())
			}
			if pe, ok := provider.AsError(err); ok {
				texts = append(texts, pe.Message)
			}
			for _, text := range texts {
				for _, f := range forms {
					if strings.Contains(text, f) {
						t.Errorf("an error text carries %q: %s", f, text)
					}
				}
			}
		})
	}
}
