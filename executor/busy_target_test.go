package executor

import (
	"context"
	"testing"
	"time"

	simredis "github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/tencent/redis"
)

// An instance that already shows the step's target sizes while still in a workflow
// (Redis Status 1) is not done: a call whose answer was lost may still be changing it,
// and a step that ended there would release its dependents onto a half-made change. The
// step whose answer was lost follows the instance as accepted; the step not yet sent
// waits, holding no slot, for the instance to be ready.
func TestAnInstanceAtTheTargetWhileBusyIsNotDoneYet(t *testing.T) {
	state := `
accounts:
  - {name: tc, cloud: tencent, keyId: tc-id, secret: tc-key}
redis:
  - {id: crs-a, region: ap-shanghai, account: tc, status: 1, memSizeMB: 8192, shards: 3, replicas: 2}
`
	s := simtest.Start(t, state, sim.Options{TimeScale: 1}, simredis.New())
	env := map[string]string{redis.EndpointEnv: s.Addr, "TC_ID": "tc-id", "TC_KEY": "tc-key"}
	p, err := redis.New(provider.Config{Region: "ap-shanghai",
		Account: provider.Account{Name: "tc", Cloud: "tencent", KeyID: provider.SecretRef{FromEnv: "TC_ID"}, Secret: provider.SecretRef{FromEnv: "TC_KEY"}},
		Getenv:  func(k string) string { return env[k] }, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	from := provider.Values{"memSizeMB": int64(4096), "shards": int64(3), "replicas": int64(2)}
	to := provider.Values{"memSizeMB": int64(8192), "shards": int64(3), "replicas": int64(2)}
	ps, err := p.Observe(context.Background(), []provider.Watch{{Instance: "crs-a", Action: "UpgradeInstance", From: from, To: to}})
	if err != nil {
		t.Fatal(err)
	}
	look := ps[0]
	now := time.Now()
	cfg := machineConfig{Timeout: time.Hour, Grace: time.Minute, MaxAttempts: 3}

	lost := machine{Phase: PhaseMaybeSent, Attempt: 1, MaySent: true, CallAt: now.Add(-30 * time.Second)}
	got, _, nx := advance(lost, cfg, input{Kind: inLook, At: now, P: look})
	if got.Phase != PhaseAccepted || nx.Act != actPoll {
		t.Errorf("answer lost, instance %q at the target: phase %s (%s %s), next %v; want it followed as accepted",
			look.Status, got.Phase, got.Status, got.Reason, nx.Act)
	}

	got, _, _ = advance(machine{Phase: PhasePending}, cfg, input{Kind: inLook, At: now, P: look})
	if got.Phase != PhaseWaiting {
		t.Errorf("not sent, instance %q at the target: phase %s (%s %s); want it waited for", look.Status, got.Phase, got.Status, got.Reason)
	}
}
