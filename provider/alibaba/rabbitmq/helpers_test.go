package rabbitmq

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/amqp"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/cloudsim/simtest"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/internal/providertest"
)

const region = "cn-hangzhou"

// accounts is the state file's account section: the keys the tests sign with.
const accounts = `accounts:
  - {name: ali-test, cloud: alibaba, keyId: test-ak, secret: test-sk}
  - {name: ali-other, cloud: alibaba, keyId: other-ak, secret: other-sk}
`

// instanceYAML renders one rabbitmq instance of the state file.
func instanceYAML(id string, extra string) string {
	s := fmt.Sprintf("  - id: %s\n    region: %s\n    account: ali-test\n", id, region)
	if !strings.Contains(extra, "tags=") {
		s += "    tags: {env: test}\n"
	}
	for _, kv := range strings.Split(extra, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			k, v, _ := strings.Cut(kv, "=")
			s += fmt.Sprintf("    %s: %s\n", k, v)
		}
	}
	return s
}

// start runs the simulator with the instances (and faults) and opens a provider on it.
func start(t *testing.T, instances, faults string) (*simtest.Sim, *Provider) {
	t.Helper()
	state := accounts + "durations: {rabbitmq: 60s}\nrabbitmq:\n" + instances
	s := simtest.Start(t, state, sim.Options{TimeScale: 3600, Faults: []byte(faults)}, amqp.New())
	return s, open(t, s, "test-ak", "test-sk")
}

func open(t *testing.T, s *simtest.Sim, ak, sk string) *Provider {
	t.Helper()
	env := map[string]string{"UPGRADEPLAN_ALIBABA_ENDPOINT": s.Addr, "T_AK": ak, "T_SK": sk}
	p, err := New(provider.Config{
		Region:  region,
		Account: provider.Account{Name: "ali-test", KeyID: provider.SecretRef{FromEnv: "T_AK"}, Secret: provider.SecretRef{FromEnv: "T_SK"}},
		Getenv:  providertest.Getenv(env),
		Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// instance lists the one instance with the id.
func instance(t *testing.T, p *Provider, id string) provider.Instance {
	t.Helper()
	got, err := p.List(context.Background(), provider.Selection{IDs: []string{id}})
	if err != nil || len(got) != 1 {
		t.Fatalf("List(%s) = %v, %v; want one instance", id, got, err)
	}
	return got[0]
}

// waitFor observes w until its state is want (the simulator runs an hour per second).
func waitFor(t *testing.T, p *Provider, w provider.Watch, want provider.State) provider.Progress {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := p.Observe(context.Background(), []provider.Watch{w})
		if err != nil {
			t.Fatalf("Observe: %v", err)
		}
		if got[0].State == want {
			return got[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("Observe(%s) stayed %s (%s), want %s", w.Instance, got[0].State, got[0].Message, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stringParams renders planned parameters as the simulator records them.
func stringParams(t *testing.T, params map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range params {
		s, err := paramString(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = s
	}
	return out
}

// received returns a call's parameters without those the SDK adds on its own.
func received(c sim.CallRecord) map[string]string {
	out := map[string]string{}
	for k, v := range c.Params {
		switch k {
		case "RegionId", "ClientToken":
		default:
			out[k] = v
		}
	}
	return out
}

func simtestStart(t *testing.T, instances string) *simtest.Sim {
	t.Helper()
	return simtest.Start(t, accounts+"rabbitmq:\n"+instances, sim.Options{TimeScale: 3600}, amqp.New())
}
