// Package executor owns `apply`: it schedules a plan's steps (dependencies, canary waves,
// parallelism), takes a token from a per-(account, action) bucket for every request, retries
// what is safe to retry, polls completion in batches, keeps the change window and failure
// budget, and writes a crash-safe journal and the run record. It never switches on a kind.
//
// Choices where DESIGN.md is silent:
//
//   - Rate limits: a bucket of burst 1 refilling at cap·(1−SafetyMargin) (4%), so that no
//     sliding one-second window at the server sees more than the cap despite network jitter.
//     On a throttling answer the bucket halves (down to cap/32) and climbs back by cap/8
//     after each quiet second.
//   - Refresh: one Observe per (kind, account, region) for every step that can be judged at
//     once. A step chained after another on the same instance, or whose instance was busy, is
//     judged right before its call from a fresh batched observation.
//   - Dependencies: a step starts when every step it depends on, every step of every target
//     its target depends on, and every step of a lower canary wave of its target succeeded or
//     was a noop. A failed, skipped or drifted dependency skips it (a drifted step was not
//     applied, so what was planned after it must be re-planned); a dependency that did not
//     run (window, budget, signal) leaves it not-started, so a resume runs it.
//   - Missing instances at refresh are drifted; an instance already in a failed state fails
//     its step without a call.
//   - Exit 2 for any failed, skipped or drifted step; exit 3 whenever a step is left
//     not-started or cancelled, even if others failed (the run can be resumed).
//   - Failure budget: the run stops starting steps once failures exceed max_failures ("3": the
//     fourth failure stops; "5%": of the plan's steps, rounded down). It counts the failures of
//     the current segment, so that a resume, after a person looked at them, finishes the rest.
//   - Window: no step starts before start (apply waits) or after end−cutoff; a resume after
//     the window closed starts nothing and exits 3 again.
//   - Mutating calls: intent journaled (fsync) → call → result journaled (fsync). A 5xx or an
//     unknown outcome is followed by a fresh observation: a call in progress or done is
//     followed, never sent again; an untouched instance gets the call again with the same
//     ClientToken ("upgp-" + 32 hex of SHA-256(digest, created_at, step id)).
//   - Resume: finished steps (succeeded, noop, failed, skipped, drifted) keep their record; a
//     step whose call was accepted is followed; a step with an intent and no result is
//     reconciled as above; everything else runs afresh.
//   - Dry run: steps end `succeeded` with reason "dry run: not sent" (or "dry run: the API's
//     own dry run accepted the call" where Spec.DryRun); no intents are journaled and a dry
//     run cannot be resumed.
//   - Signals: the context passed to Apply is the first signal (stop starting, follow in
//     flight, exit 3); Options.Hard the second (abandon the steps in flight, recorded
//     cancelled: a resume reconciles them).
package executor
