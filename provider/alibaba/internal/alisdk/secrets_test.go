package alisdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/alikafka"

	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/alibaba/internal/alisdk"
)

// echoServer answers every request with HTTP 400 and a Message of pad bytes of filler
// followed by the request's TargetVersion, as written (raw) or as the query carried it.
func echoServer(t *testing.T, pad int, raw bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		echo := r.Form.Get("TargetVersion")
		if !raw {
			echo = url.QueryEscape(echo)
		}
		msg := strings.Repeat("x", pad) + echo + " is invalid"
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		json.NewEncoder(w).Encode(map[string]string{"RequestId": "R-1", "Code": "InvalidParameter", "Message": msg})
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func sendSecret(p *alisdk.Pool, secret string) error {
	return p.Invoke(context.Background(),
		alisdk.Call{Action: "UpgradeInstanceVersion", Instance: "alikafka-1", Mutating: true, Secrets: []string{secret}},
		func() (requests.AcsRequest, responses.AcsResponse) {
			req := alikafka.CreateUpgradeInstanceVersionRequest()
			req.RegionId = "cn-hangzhou"
			req.InstanceId = "alikafka-1"
			req.TargetVersion = secret
			return req, alikafka.CreateUpgradeInstanceVersionResponse()
		})
}

// A cloud error may echo the request's parameters late in a long message, which is kept
// only in part: wherever the cut falls, no part of a secret the call carried may survive
// in the error's message, its text or its chain, however the cloud encoded it.
func TestACloudMessageEchoingASecretPastItsCutKeepsNoPartOfIt(t *testing.T) {
	const secret = "Pa55 w/rd+&=%?"
	for _, raw := range []bool{true, false} {
		for pad := 512 - len(url.QueryEscape(secret)) - 2; pad <= 512+1; pad++ {
			p := openPool(t, echoServer(t, pad, raw), provider.Config{})
			err := sendSecret(p, secret)
			pe, ok := provider.AsError(err)
			if !ok || pe.Code != "InvalidParameter" || pe.RequestID != "R-1" {
				t.Fatalf("pad %d: %v, want the cloud's InvalidParameter with its request id", pad, err)
			}
			texts := []string{err.Error(), fmt.Sprintf("%+v", err), pe.Message}
			for e := error(pe); e != nil; e = errors.Unwrap(e) {
				texts = append(texts, e.Error())
			}
			for _, text := range texts {
				for _, form := range []string{secret, url.QueryEscape(secret)} {
					if strings.Contains(text, form[:4]) {
						t.Fatalf("raw %v, pad %d: a part of the secret (%q) survived in %q", raw, pad, form[:4], text[max(0, len(text)-60):])
					}
				}
			}
		}
	}
}

// A long cloud message is cut on a character, never inside one: the kept message is
// valid UTF-8 for the report and notifications that quote it.
func TestALongCloudMessageIsCutOnACharacterBoundary(t *testing.T) {
	for pad := 509; pad <= 512; pad++ {
		msg := strings.Repeat("x", pad) + strings.Repeat("参数无效", 10)
		body, _ := json.Marshal(map[string]string{"RequestId": "R-1", "Code": "InvalidParameter", "Message": msg})
		srv := httptest.NewServer(answer(400, string(body)))
		err := upgradeCall(openPool(t, srv.Listener.Addr().String(), provider.Config{}))
		srv.Close()
		pe, ok := provider.AsError(err)
		if !ok {
			t.Fatalf("pad %d: %v, want the cloud's error", pad, err)
		}
		if !utf8.ValidString(pe.Message) || !strings.HasSuffix(pe.Message, "…") || len(pe.Message) > 512+len("…") {
			t.Errorf("pad %d: message %q, want valid UTF-8 of at most 512 bytes and an ellipsis", pad, pe.Message)
		}
	}
}
