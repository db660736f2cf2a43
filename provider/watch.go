package provider

import (
	"fmt"
	"time"
)

// This file holds what every product's Observe does the same way: reading the watched
// instances once, answering a vanished instance, and judging a watch whose call has not
// been sent.

// WatchedInstances returns the distinct instance ids of the watches, in the order they
// are first watched, so one read covers each instance once.
func WatchedInstances(watches []Watch) []string {
	seen := map[string]bool{}
	var ids []string
	for _, w := range watches {
		if !seen[w.Instance] {
			seen[w.Instance] = true
			ids = append(ids, w.Instance)
		}
	}
	return ids
}

// IndexByID returns the instances by id.
func IndexByID(insts []Instance) map[string]Instance {
	byID := make(map[string]Instance, len(insts))
	for _, inst := range insts {
		byID[inst.ID] = inst
	}
	return byID
}

// JudgeEach answers every watch, in order, from what one read observed by instance id: a
// watch whose instance the read did not return is StateMissing with the message missing
// gives for its id; every other watch is judged from its instance.
func JudgeEach[T any](watches []Watch, observed map[string]T, missing func(instance string) string, judge func(Watch, T) Progress) []Progress {
	out := make([]Progress, len(watches))
	for i, w := range watches {
		o, ok := observed[w.Instance]
		if !ok {
			out[i] = Progress{Instance: w.Instance, State: StateMissing, Message: missing(w.Instance)}
			continue
		}
		out[i] = judge(w, o)
	}
	return out
}

// JudgeNotStarted decides a watch whose call has not been sent, from the instance's
// observed values and phase: done when they already show To and the instance is ready
// (one that shows To while still busy or failed is waited for: a call whose answer was
// lost may be changing it still, and its dependents must not start on a half-made
// change), drifted when they no longer show From (field names the first field that
// differs, for the message), else pending when the instance is ready for the call and
// waiting when it is not.
func JudgeNotStarted(w Watch, observed Values, phase Phase) (state State, field string) {
	if _, atTo := Matches(observed, w.To); atTo {
		if phase != PhaseReady {
			return StateWaiting, ""
		}
		return StateDone, ""
	}
	if f, atFrom := Matches(observed, w.From); !atFrom {
		return StateDrifted, f
	}
	if phase == PhaseReady {
		return StatePending, ""
	}
	return StateWaiting, ""
}

// WithinStartGrace reports whether a started watch is still inside its product's start
// grace: its call was accepted less than grace ago. A watch without an acceptance time
// (Since zero) is past it.
func WithinStartGrace(w Watch, now time.Time, grace time.Duration) bool {
	return !w.Since.IsZero() && now.Sub(w.Since) < grace
}

// SinceCall says, for a step that never started, how long ago its call was accepted and
// which start grace it passed: "3m0s after the call was accepted (start grace 2m0s)".
func SinceCall(w Watch, now time.Time, grace time.Duration) string {
	if w.Since.IsZero() {
		return fmt.Sprintf("after the call was accepted (start grace %s)", grace)
	}
	return fmt.Sprintf("%s after the call was accepted (start grace %s)", now.Sub(w.Since).Round(time.Second), grace)
}
