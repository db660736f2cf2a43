package executor

import (
	"context"
	"fmt"
	"reflect"
	"runtime"
	"testing"

	"github.com/upgradeplan/upgradeplan/provider"
)

// What a run holds per step besides the plan: its state (stepState, its machine and
// links), its record entry and its scheduling entries, built by newRun. At 100,000 steps
// every 100 bytes a step is 10 MB of heap, twice that of RSS at the default GOGC. A spec
// and a bucket name per step made 1,377 bytes a step; shared per kind and bucket, 1,289.
func TestARunHoldsLittlePerStep(t *testing.T) {
	const n = 10_000
	plan, cloud := scalePlan(t, n)
	plan = readBack(t, plan) // as apply holds it
	dir := t.TempDir()
	st, err := DirState{LockDir: dir + "/locks"}.Open(context.Background(), plan.Digest, dir+"/run")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	r, err := newRun(plan, Options{Registry: cloud.registry(), Out: dir + "/run", Seed: 1}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	held := (float64(ms.HeapAlloc) - float64(before)) / n
	runtime.KeepAlive(r)
	runtime.KeepAlive(plan)
	t.Logf("%d steps: %.0f bytes a step", n, held)
	if held > 1350 {
		t.Fatalf("a run holds %.0f bytes a step besides its plan; want at most 1,350", held)
	}
}

// The before and after a run keeps of every step share one map per distinct content,
// although each answer brings maps of its own.
func TestObservedValuesAreSharedAcrossSteps(t *testing.T) {
	plan, cloud := scalePlan(t, 600)
	cloud.fresh = true
	dir := t.TempDir()
	rec, err := Apply(context.Background(), plan, Options{Registry: cloud.registry(), Out: dir + "/run", LockDir: dir + "/locks", Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	maps := map[string]map[uintptr]bool{}
	for _, s := range rec.Steps {
		if s.Status != StatusSucceeded || s.After == nil || s.Before == nil {
			t.Fatalf("step %s: %s, before %v, after %v", s.ID, s.Status, s.Before, s.After)
		}
		for _, v := range []provider.Values{s.Before, s.After} {
			k := fmt.Sprint(v)
			if maps[k] == nil {
				maps[k] = map[uintptr]bool{}
			}
			maps[k][reflect.ValueOf(v).Pointer()] = true
		}
	}
	for k, ptrs := range maps {
		if len(ptrs) != 1 {
			t.Errorf("the steps keep %d maps of %s; want one", len(ptrs), k)
		}
	}
}

func TestObservedValuesShareOnlyEqualScalars(t *testing.T) {
	var o observedValues
	a, b := provider.Values{"v": "1", "n": int64(2)}, provider.Values{"n": int64(2), "v": "1"}
	if got := o.share(b); reflect.ValueOf(o.share(a)).Pointer() != reflect.ValueOf(got).Pointer() {
		t.Fatal("two equal maps are kept apart")
	}
	if c := (provider.Values{"v": "1", "n": 2}); reflect.ValueOf(o.share(c)).Pointer() != reflect.ValueOf(c).Pointer() {
		t.Fatal("an int 2 was shared with an int64 2: the record would change type")
	}
	nested := provider.Values{"v": map[string]any{"x": "1"}}
	if reflect.ValueOf(o.share(nested)).Pointer() != reflect.ValueOf(nested).Pointer() {
		t.Fatal("a nested map was replaced")
	}
}
