package simtest_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
)

// noop is the smallest product: one RPC action that answers {}.
type noop struct{}

func (noop) Name() string           { return "noop" }
func (noop) Protocol() sim.Protocol { return sim.RPC }
func (noop) Version() string        { return "2000-01-01" }
func (noop) StateKey() string       { return "noop" }
func (noop) Load(*yaml.Node) error  { return nil }
func (noop) Snapshot() any          { return nil }
func (noop) Actions() map[string]sim.Action {
	return map[string]sim.Action{"Ping": func(*sim.Request) (any, error) { return nil, nil }}
}

func TestStartServesOnLoopbackAndCountsCallsByAction(t *testing.T) {
	s := simtest.Start(t, "accounts: [{name: a, cloud: alibaba, keyId: k, secret: s}]", sim.Options{}, noop{})
	want := []string{"UPGRADEPLAN_ALIBABA_ENDPOINT=" + s.Addr, "UPGRADEPLAN_TENCENT_ENDPOINT=" + s.Addr}
	if !slices.Equal(s.Env(), want) {
		t.Errorf("Env() = %q, want %q", s.Env(), want)
	}
	// Unsigned calls: refused, but logged under their action.
	for _, action := range []string{"Ping", "Ping", "Pong"} {
		q := url.Values{"Action": {action}, "Version": {"2000-01-01"}, "AccessKeyId": {"k"}, "Signature": {"x"},
			"Timestamp": {time.Now().UTC().Format("2006-01-02T15:04:05Z")}, "SignatureNonce": {"n-" + action}}
		resp, err := http.Get(s.URL + "/?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if s.Count("Ping") != 2 || s.Count("Pong") != 1 || s.Count("") != 3 {
		t.Errorf("counts Ping %d Pong %d all %d, want 2 1 3", s.Count("Ping"), s.Count("Pong"), s.Count(""))
	}
	if s.CountOK("Ping") != 0 || s.CountCode("Ping", "SignatureDoesNotMatch") != 2 || s.CountCode("Pong", "SignatureDoesNotMatch") != 1 {
		t.Errorf("codes: %+v", s.Calls())
	}
}
