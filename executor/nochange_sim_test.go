package executor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/executor"
)

// A latestMinor step is never a noop at plan time (the API cannot show whether the minor
// version is the latest), so a nightly apply of the same fleet sends it again and again.
// alikafka refuses a call with nothing to upgrade (ONS_INIT_ENV_ERROR): the step is a noop
// with that answer on record, not a failure that counts against maxFailures and stops the
// window.
func TestALatestMinorCallWithNothingToUpgradeIsANoop(t *testing.T) {
	state := accounts + `kafka:
  - {id: alikafka-latest-1, region: cn-hangzhou, account: demo-ali, version: 2.2.0, minorLatest: true, tags: {env: m}}
  - {id: alikafka-older-1, region: cn-hangzhou, account: demo-ali, version: 2.2.0, minorLatest: false, tags: {env: m}}
`
	s := startSim(t, state, "")
	p, path := planFleet(t, `apiVersion: upgradeplan/v1
kind: Fleet
metadata: {name: m, owner: platform}
settings: {pollInterval: 100ms, stepTimeout: 1m}
targets:
  - name: kafka
    kind: alibaba.kafka
    region: cn-hangzhou
    select: {tags: {env: m}}
    desired: {version: "2.2.0", latestMinor: true}
`)
	rec := apply(t, context.Background(), p, path, t.TempDir(), false)
	byID := map[string]executor.StepRecord{}
	for _, st := range rec.Steps {
		byID[st.Instance] = st
	}
	latest := byID["alikafka-latest-1"]
	if latest.Status != executor.StatusNoop || !strings.Contains(latest.Reason, "ONS_INIT_ENV_ERROR") || len(latest.RequestIDs) != 1 || !strings.Contains(latest.Reason, latest.RequestIDs[0]) {
		t.Errorf("alikafka-latest-1: %s, reason %q, request ids %v; want a noop naming the cloud's answer and its request id", latest.Status, latest.Reason, latest.RequestIDs)
	}
	if older := byID["alikafka-older-1"]; older.Status != executor.StatusSucceeded {
		t.Errorf("alikafka-older-1: %s; want succeeded", older.Status)
	}
	if rec.Outcome.Result != "succeeded" {
		t.Errorf("run outcome %q; want succeeded", rec.Outcome.Result)
	}
	if n := upgradesPerInstance(s)["alikafka-latest-1"]; n != 0 {
		t.Errorf("the cloud applied %d changes to alikafka-latest-1; want none", n)
	}
}
