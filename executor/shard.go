package executor

// This file shards one plan over several runners (`apply PLAN --state … --shard I/N`): a
// runner runs the steps of the accounts dealt to its shard, so that every account's rate
// limits stay with one runner, and learns how the other shards' steps ended from the state
// (ShardedRunState), so dependencies across shards hold. MergeShards puts the shards'
// records together into the record one runner would have written.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Shard is one of Count shards of a run, Index from 0 (a Kubernetes Indexed Job's
// JOB_COMPLETION_INDEX).
type Shard struct{ Index, Count int }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// ParseShard reads "I/N" (0 <= I < N).
func ParseShard(v string) (Shard, error) {
	var s Shard
	a, b, ok := strings.Cut(v, "/")
	if _, err := fmt.Sscanf(a+" "+b, "%d %d", &s.Index, &s.Count); !ok || err != nil || s.Count < 1 || s.Index < 0 || s.Index >= s.Count {
		return Shard{}, fmt.Errorf("shard %q: want I/N with 0 <= I < N, e.g. 0/4", v)
	}
	return s, nil
}

// ShardedRunState is a RunState whose run may be sharded: it answers how every step of the
// run ended in any shard.
type ShardedRunState interface {
	RunState
	// StepRecords returns the latest record of every step of the run journaled by any shard.
	StepRecords(ctx context.Context) (map[string]StepRecord, error)
}

// ShardOf returns the shard (0..n-1) of account: the plan's accounts, sorted, dealt out
// round-robin, so shards get as even a share of accounts as can be and an account's steps
// (and its rate limits) are one runner's.
func ShardOf(accounts []string, account string, n int) int {
	i := sort.SearchStrings(accounts, account)
	if n <= 0 {
		return 0
	}
	return i % n
}

// accountsOf lists the distinct accounts of steps, sorted.
func accountsOf(steps []StepRecord) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range steps {
		if !seen[s.Account] {
			seen[s.Account] = true
			out = append(out, s.Account)
		}
	}
	sort.Strings(out)
	return out
}

// markForeign marks the steps of other shards: this runner does not run them; it waits for
// them through the state where its own steps depend on them.
func (r *run) markForeign() error {
	r.ownSteps = len(r.steps)
	sh := r.opts.Shard
	if sh == nil {
		return nil
	}
	if _, ok := r.state.(ShardedRunState); !ok {
		return fmt.Errorf("--shard needs a state that runners share (--state postgres://…), not %s", r.state.Where())
	}
	accounts := accountsOf(r.rec.Steps)
	for _, s := range r.steps {
		if ShardOf(accounts, s.step.Account, sh.Count) != sh.Index {
			s.foreign = true
			s.m = machine{Phase: PhaseFinal, Status: StatusPending}
			r.ownSteps--
		}
	}
	r.rec.Shard = sh.String()
	return nil
}

// foreignPoll is how often a runner reads how the other shards' steps stand.
var foreignPoll = time.Second

// neededForeign lists the other shards' steps this shard waits for: those its steps name in
// dependsOn, and every step of a target its steps wait for (a target's waves are one
// shard's, since a target has one account).
func (r *run) neededForeign() []*stepState {
	targets := map[string]bool{}
	direct := map[*stepState]bool{}
	for _, s := range r.steps {
		if s.foreign {
			continue
		}
		for _, d := range s.deps {
			if d.s.foreign {
				direct[d.s] = true
			}
		}
		for _, w := range s.waits {
			if len(w.b.members) > 0 && w.b.members[0].foreign {
				targets[w.b.target] = true
			}
		}
	}
	var out []*stepState
	for _, s := range r.steps {
		if s.foreign && (direct[s] || targets[s.step.Target]) {
			out = append(out, s)
		}
	}
	return out
}

// followForeign ends, as the state shows them ending, the other shards' steps this shard
// waits for (their records copied in, stepDone releasing what waits for them), and at the
// stop ends the rest not-started for this segment. It holds stepsRunning meanwhile, so the
// run does not end while its steps still wait for another shard.
func (r *run) followForeign(ctx context.Context) {
	ss, _ := r.state.(ShardedRunState)
	left := r.neededForeign()
	if len(left) == 0 || ss == nil {
		return
	}
	for _, s := range left {
		r.emit(s, StatusPending, "this shard waits for "+s.step.ID+", a step of another shard")
	}
	end := func(s *stepState) { close(s.done); r.stepDone(s) }
	r.stepsRunning.Add(1)
	go func() {
		defer r.stepsRunning.Done()
		for {
			if recs, err := ss.StepRecords(ctx); err == nil {
				keep := left[:0]
				var ended []*stepState
				for _, s := range left {
					if rec, ok := recs[s.step.ID]; ok && isFinal(rec.Status) {
						r.mu.Lock()
						*s.rec = rec
						r.mu.Unlock()
						ended = append(ended, s)
						continue
					}
					keep = append(keep, s)
				}
				left = keep
				for _, s := range ended {
					end(s)
				}
			}
			if len(left) == 0 {
				return
			}
			select {
			case <-time.After(foreignPoll):
				continue
			case <-r.stopCh:
			case <-ctx.Done():
			}
			r.mu.Lock()
			for _, s := range left {
				s.rec.Status = StatusNotStarted
				s.rec.Reason = "its shard had not finished it when this runner stopped"
			}
			r.mu.Unlock()
			for _, s := range left {
				end(s)
			}
			return
		}
	}()
}

// MergeShards puts the records of a sharded run's shards together into the record a single
// runner would have written: each step from the shard that ran it, every segment, the
// buckets summed, counts and outcome computed afresh.
func MergeShards(recs []*Record) (*Record, error) {
	if len(recs) == 0 {
		return nil, fmt.Errorf("no run record")
	}
	if len(recs) == 1 && recs[0].Shard == "" {
		return recs[0], nil
	}
	byShard := map[int]*Record{}
	n := 0
	for _, rec := range recs {
		sh, err := ParseShard(rec.Shard)
		if err != nil {
			return nil, fmt.Errorf("run record of shard %q: %w", rec.Shard, err)
		}
		if n != 0 && sh.Count != n {
			return nil, fmt.Errorf("the run's records disagree on the number of shards (%d, %d)", n, sh.Count)
		}
		n = sh.Count
		byShard[sh.Index] = rec
	}
	base := recs[0]
	out := *base
	out.Shard = ""
	out.Steps = make([]StepRecord, len(base.Steps))
	accounts := accountsOf(base.Steps)
	out.Segments, out.Buckets = nil, nil
	for i, st := range base.Steps {
		out.Steps[i] = st
		if owner := byShard[ShardOf(accounts, st.Account, n)]; owner != nil && i < len(owner.Steps) {
			out.Steps[i] = owner.Steps[i]
		} else if !isFinal(st.Status) {
			out.Steps[i].Status, out.Steps[i].Reason = StatusNotStarted, "its shard has no record: it never ran"
		}
	}
	for k := range n {
		rec := byShard[k]
		if rec == nil {
			continue
		}
		out.Segments = append(out.Segments, rec.Segments...)
		out.Buckets = mergeBuckets(out.Buckets, rec.Buckets)
		if rec.StartedAt.Before(out.StartedAt) {
			out.StartedAt = rec.StartedAt
		}
		if rec.FinishedAt.After(out.FinishedAt) {
			out.FinishedAt = rec.FinishedAt
		}
	}
	sort.SliceStable(out.Segments, func(i, j int) bool { return out.Segments[i].StartedAt.Before(out.Segments[j].StartedAt) })
	out.Counts = map[Status]int{}
	notRun, bad := 0, 0
	var reasons []string
	for _, st := range out.Steps {
		out.Counts[st.Status]++
		switch st.Status {
		case StatusNotStarted, StatusPending, StatusRunning, StatusCancelled:
			notRun++
		case StatusFailed, StatusSkipped, StatusDrifted:
			bad++
		}
	}
	for k := range n {
		if rec := byShard[k]; rec != nil && rec.Outcome.Reason != "" {
			reasons = append(reasons, fmt.Sprintf("shard %d/%d: %s", k, n, rec.Outcome.Reason))
		}
	}
	switch {
	case notRun > 0:
		out.Outcome = Outcome{Result: "stopped", Reason: orDefault(strings.Join(reasons, "; "), "stopped"), ExitCode: ExitStopped}
	case bad > 0:
		out.Outcome = Outcome{Result: "failed", ExitCode: ExitFailed}
	default:
		out.Outcome = Outcome{Result: "succeeded", ExitCode: ExitOK}
	}
	return &out, nil
}
