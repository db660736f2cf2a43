package executor

import (
	"context"
	"runtime"
	"testing"
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
