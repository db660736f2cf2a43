package planner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/upgradeplan/upgradeplan/manifest"
	"github.com/upgradeplan/upgradeplan/provider"
)

func TestTwoTargetsSelectingOneInstanceAreRefusedAtBothSelections(t *testing.T) {
	cloud := &fakeCloud{instances: map[string][]provider.Instance{
		"r1": {inst("c-1", 1024, 2, "env", "prod"), inst("c-2", 2048, 2, "env", "prod"), inst("c-3", 1024, 2, "env", "dev")},
	}}
	fleet := fleetOf(
		manifest.Target{Name: "by-id", Select: manifest.Selection{IDs: []string{"c-2"}}, Desired: map[string]any{"size": int64(2048)}},
		manifest.Target{Name: "by-tag", Select: manifest.Selection{Tags: map[string]string{"env": "prod"}}, Desired: map[string]any{"size": int64(4096)}},
	)
	_, err := build(t, cloud, fleet)
	var problems Problems
	if !errors.As(err, &problems) {
		t.Fatalf("Build = %v; want the shared instance refused", err)
	}
	want := []string{
		"fleet.yaml:11:13: targets[0].select: by-id/c-2: targets by-id and by-tag both select this instance; an instance belongs to one target: write both changes in one target, or narrow a selection",
		"fleet.yaml:21:13: targets[1].select: by-tag/c-2: targets by-id and by-tag both select this instance; an instance belongs to one target: write both changes in one target, or narrow a selection",
	}
	if got := strings.Split(problems.Error(), "\n"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Two account names can be one cloud account (two aliases of one key, or an alias and the
// default chain): an instance selected under both is one instance, planned twice, and
// apply would send both calls at once. It is refused like two targets of one account.
func TestOneInstanceSelectedUnderTwoAccountNamesIsRefused(t *testing.T) {
	cloud := &fakeCloud{instances: map[string][]provider.Instance{
		"r1": {inst("c-1", 1024, 2, "env", "prod"), inst("c-2", 1024, 2, "env", "prod")},
	}}
	fleet := fleetOf(
		manifest.Target{Name: "grow", Select: manifest.Selection{IDs: []string{"c-1"}}, Desired: map[string]any{"size": int64(2048)}},
		manifest.Target{Name: "grow-more", Account: "alias", Select: manifest.Selection{IDs: []string{"c-1", "c-2"}}, Desired: map[string]any{"size": int64(4096)}},
	)
	fleet.Accounts = map[string]manifest.Account{"alias": {Cloud: "fake", KeyIDLiteral: "AKIDsame", Secret: manifest.SecretRef{FromEnv: "SK"}}}
	_, err := build(t, cloud, fleet)
	var problems Problems
	if !errors.As(err, &problems) {
		t.Fatalf("Build = %v; want c-1 refused", err)
	}
	want := "targets grow and grow-more both select this instance (as account default and as account alias: one instance, whichever credentials read it)"
	if len(problems) != 2 || problems[0].Instance != "c-1" || problems[1].Instance != "c-1" ||
		!strings.Contains(problems[0].Message, want) || problems[0].Target == problems[1].Target {
		t.Fatalf("problems:\n%v\nwant c-1 refused at both targets' select, saying %q", problems, want)
	}
}

func TestALiteralKeyIdReachesThePlan(t *testing.T) {
	cloud := &fakeCloud{instances: map[string][]provider.Instance{"r1": {inst("c-1", 1024, 2)}}}
	fleet := fleetOf(manifest.Target{Name: "a", Account: "prod", Select: manifest.Selection{IDs: []string{"c-1"}}, Desired: map[string]any{"size": int64(2048)}})
	fleet.Accounts = map[string]manifest.Account{"prod": {Cloud: "fake", KeyIDLiteral: "AKIDexample", Secret: manifest.SecretRef{FromEnv: "PROD_SK"}}}
	p, err := build(t, cloud, fleet)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Accounts["prod"].KeyIDLiteral; got != "AKIDexample" {
		t.Fatalf("the plan's account has key id %q; want the manifest's AKIDexample", got)
	}
	if got := cloud.opens[0].Account; got.KeyIDLiteral != "AKIDexample" || got.Default() {
		t.Fatalf("the provider was opened with %+v; want the literal key id", got)
	}
}

// TestEveryWholeNumberValidateAcceptsReachesThePlan is a property test: a count written in
// any spelling YAML has for a whole number is either refused by validate or planned as
// exactly that number; nothing validate accepts is dropped.
func TestEveryWholeNumberValidateAcceptsReachesThePlan(t *testing.T) {
	spell := []func(n int) string{
		func(n int) string { return fmt.Sprint(n) },
		func(n int) string { return fmt.Sprintf("%d.0", n) },
		func(n int) string { return fmt.Sprintf("%de0", n) },
		func(n int) string { return fmt.Sprintf("%d0e-1", n) },
		func(n int) string { return fmt.Sprintf("%.1fe1", float64(n)/10) },
		func(n int) string { return fmt.Sprintf("%d.000", n) },
		func(n int) string { return fmt.Sprintf("+%d", n) },
		func(n int) string { return fmt.Sprintf("0x%x", n) },
		func(n int) string { return fmt.Sprintf("0o%o", n) },
	}
	rng := rand.New(rand.NewPCG(13, 13))
	cloud := &fakeCloud{instances: map[string][]provider.Instance{"r1": {inst("c-1", 1024, 2), inst("c-2", 1024, 2), inst("c-3", 1024, 2)}}}
	for i := 0; i < 300; i++ {
		n := []int{rng.IntN(4), rng.IntN(4), 1 + rng.IntN(40), rng.IntN(5)}
		s := []func(int) string{spell[rng.IntN(len(spell))], spell[rng.IntN(len(spell))], spell[rng.IntN(len(spell))], spell[rng.IntN(len(spell))]}
		src := fmt.Sprintf("apiVersion: upgradeplan/v1\nkind: Fleet\nmetadata: {name: t}\n"+
			"settings: {parallelism: %s, maxFailures: %s}\n"+
			"targets:\n  - {name: a, kind: fake.cache, region: r1, select: {ids: [c-1, c-2, c-3]}, desired: {size: 2048}, canary: %s, maxConcurrent: %s}\n",
			s[2](n[2]), s[3](n[3]), s[0](n[0]), s[1](n[1]+1))
		fleet, err := manifest.Parse("f.yaml", []byte(src))
		if err != nil {
			var ps manifest.Problems
			if !errors.As(err, &ps) || !strings.HasPrefix(ps[0].String(), "f.yaml:") {
				t.Fatalf("%s: an unpositioned refusal: %v", src, err)
			}
			if !strings.Contains(err.Error(), "fake.cache") {
				continue // refused by validate: allowed
			}
			// The schema knows no fake kind: plan it as if it were valid.
		}
		if fleet == nil {
			fleet = parseIgnoringKind(t, src)
			if fleet == nil {
				continue
			}
		}
		p, err := build(t, cloud, fleet)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		tg := p.Targets[0]
		if tg.Canary != n[0] || tg.MaxConcurrent != n[1]+1 || p.Settings.Parallelism != n[2] || p.Settings.MaxFailures != fmt.Sprint(n[3]) {
			t.Fatalf("%s\nplanned canary %d, maxConcurrent %d, parallelism %d, maxFailures %q; want %v", src,
				tg.Canary, tg.MaxConcurrent, p.Settings.Parallelism, p.Settings.MaxFailures, []int{n[0], n[1] + 1, n[2], n[3]})
		}
	}
}

// parseIgnoringKind parses src with its fake kind swapped for a real one, then puts the fake
// kind back: the schema checks desired per real kind, the numbers are what is under test.
func parseIgnoringKind(t *testing.T, src string) *manifest.Fleet {
	t.Helper()
	real := strings.NewReplacer("kind: fake.cache", "kind: tencent.redis", "size: 2048", "memSizeMB: 2048", "region: r1", "region: ap-shanghai").Replace(src)
	fleet, err := manifest.Parse("f.yaml", []byte(real))
	if err != nil {
		return nil
	}
	for i := range fleet.Targets {
		fleet.Targets[i].Kind = "fake.cache"
		fleet.Targets[i].Region = "r1"
		fleet.Targets[i].Desired = map[string]any{"size": fleet.Targets[i].Desired["memSizeMB"]}
	}
	return fleet
}
