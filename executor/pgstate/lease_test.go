package pgstate

import (
	"strings"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
)

// A runner that died after journaling its call's intent keeps the instance from every other
// run (the call may still be on its way to being seen) until its own run is continued and
// the step settles; the next run then learns that another run changed the instance, and
// when. A dead runner's step that sent nothing lets the instance go at once, with no change.
// (The randomized checker's seed 6150849299807689938 upgraded a MongoDB instance twice:
// the second plan took a killed runner's lease and saw the instance before the accepted
// change showed.)
func TestADeadRunnersSentCallKeepsTheInstanceFromOtherRuns(t *testing.T) {
	st, _, _ := openTest(t)
	ctx := t.Context()
	open := func(digest string) *runState {
		t.Helper()
		r, err := st.Open(ctx, digest, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r.(*runState)
	}
	die := func(r *runState) { r.lock.Close(ctx) }
	k := executor.InstanceKey{Cloud: "alibaba", Region: "cn-hangzhou", Instance: "i-1"}
	quiet := executor.InstanceKey{Cloud: "alibaba", Region: "cn-hangzhou", Instance: "i-2"}

	a := open("plan-a")
	for _, key := range []executor.InstanceKey{k, quiet} {
		if rel, _, err := a.Lease(ctx, key, "t/"+key.Instance); err != nil || rel == nil {
			t.Fatalf("lease %s: %v", key.Instance, err)
		}
	}
	if err := a.Append(ctx, executor.Entry{Type: executor.EntryIntent, StepID: "t/i-1", Attempt: 1, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	die(a)

	b := open("plan-b")
	var rel func()
	var holder string
	var err error
	untilServerCaughtUp(func() bool { rel, holder, err = b.Lease(ctx, quiet, "u/i-2"); return rel != nil })
	if err != nil || rel == nil {
		t.Fatalf("a dead runner's lease whose step sent nothing was not taken: %q, %v", holder, err)
	}
	if at := b.ForeignChange(quiet); !at.IsZero() {
		t.Errorf("a step that sent nothing is reported as a change at %s", at)
	}
	rel()
	rel, holder, err = b.Lease(ctx, k, "u/i-1")
	if err != nil || rel != nil || !strings.Contains(holder, "step t/i-1 of plan plan-a") || !strings.Contains(holder, "died after sending") {
		t.Fatalf("another run took a dead runner's lease whose call was sent: release %v, holder %q, %v", rel != nil, holder, err)
	}

	a2 := open("plan-a") // the run continued, anywhere
	relA, _, err := a2.Lease(ctx, k, "t/i-1")
	if err != nil || relA == nil {
		t.Fatalf("the run's continuation could not take its own lease: %v", err)
	}
	done := &executor.StepRecord{ID: "t/i-1", Status: executor.StatusSucceeded}
	if err := a2.Append(ctx, executor.Entry{Type: executor.EntryStep, StepID: "t/i-1", Step: done, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	relA()
	rel, holder, err = b.Lease(ctx, k, "u/i-1")
	if err != nil || rel == nil {
		t.Fatalf("after the continuation settled the step: holder %q, %v", holder, err)
	}
	if at := b.ForeignChange(k); at.IsZero() || time.Since(at) > time.Minute {
		t.Errorf("ForeignChange = %s, want the moment plan-a's step let the instance go", at)
	}
	rel()
	// b's own step sent nothing: plan-a's change is still the last one known to a.
	if r, _, _ := a2.Lease(ctx, k, "t/i-1#2"); r == nil || !a2.ForeignChange(k).IsZero() {
		t.Errorf("the run that changed the instance sees its own change as another run's")
	}
}
