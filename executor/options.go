package executor

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// Options configure one apply.
type Options struct {
	// Registry opens the providers of the plan's kinds.
	Registry provider.Registry
	// PlanPath is the plan file, as recorded in run.json. Nothing is written next to it.
	PlanPath string
	// LockDir holds the plan-digest locks; "" means LockDir(Getenv). The run directory's
	// lock is Out/lock. A second apply of the same plan (any copy of it) or into the same
	// run directory gets a *LockedError naming the holder.
	LockDir string
	// State keeps the run's journal, record, locks, ledger and instance leases; nil means
	// DirState{LockDir} with Out as the run directory.
	State State
	// Shard, with a State runners share, runs only the steps of the accounts dealt to this
	// shard (ShardOf); steps of other shards are waited for through the state.
	Shard *Shard
	// StopTimeout bounds, after the first signal, how long steps in flight are followed
	// while every poll of them fails; then they are recorded cancelled, in doubt, for a
	// resume to reconcile. 0 means DefaultStopTimeout.
	StopTimeout time.Duration
	// VisibilityGrace overrides the products' visibility grace (provider.Spec), by kind;
	// the key "" applies to every kind not named.
	VisibilityGrace map[string]time.Duration
	// ShortestOperation overrides the products' shortest operation (provider.Spec), by
	// kind ("" for every kind): the shortest busy spell a change shows, which bounds how
	// far apart the looks at a maybe-sent step whose change leaves no trace may be (a
	// simulator running faster than the clouds needs a shorter one).
	ShortestOperation map[string]time.Duration
	// LookFreshness bounds how old the observation a call goes out on may be when its
	// rate-limit token comes; an older verdict is taken again right before the call. 0
	// means DefaultLookFreshness (`apply --look-freshness`).
	LookFreshness time.Duration
	// Out is the run directory: journal.jsonl and run.json live there.
	Out string
	// Parallelism overrides settings.parallelism when positive.
	Parallelism int
	// DryRun reads, orders and rate-limits everything but sends no mutating call; a product
	// whose Spec.DryRun is true gets its call with Call.DryRun set instead.
	DryRun bool
	// Resume continues the run recorded in Out.
	Resume bool
	// ExpectDigest, when set, must equal the plan's digest (`--expect-digest`).
	ExpectDigest string
	// Window, with Resume only, replaces the plan's change window for this segment
	// (`apply --resume DIR --window START/END`): a run stopped by the window's cutoff is
	// finished in a later window without re-planning. The plan's cutoff still applies. The
	// override is journaled and recorded in the segment, so the audit trail shows who moved
	// the window and when.
	Window *planner.Window
	// Getenv reads secrets and endpoint overrides; nil means os.Getenv.
	Getenv func(string) string
	// Hard is closed on the second signal, or once apply's --stop-deadline has passed
	// since the first: in-flight steps are abandoned (recorded
	// `cancelled`, unless the answer of a call in flight came back and ended the step:
	// failed or noop; a resume reconciles them) and Apply returns at once.
	Hard <-chan struct{}
	// HardWhy, when set, says why Hard was closed ("stop deadline 5m0s reached"), for the
	// record; unset, it was the second signal.
	HardWhy func() string
	// OnStart, when set, is called once the run is this apply's: its locks are held, and
	// every refusal (the applied-once ledger, another plan's run in the run directory, a
	// resume or a dry run the directory does not allow) is past; a refused apply never
	// calls it.
	OnStart func()
	// OnEvent receives every step transition (progress display, log lines). It is called
	// from many goroutines, one call at a time.
	OnEvent func(Event)
	// OnRecord, when set, receives each snapshot of the run record as run.json is written
	// (after the refresh, every ten seconds, and at the end): metrics read the per-bucket
	// counts from it. The record is the caller's to keep.
	OnRecord func(*Record)
	// Finish, when set, runs after the final run.json is written and before the plan's lock
	// is released, so reports rendered from the record (report.md, junit.xml) can never be
	// overwritten by a resume that started in between. Its error is returned by Apply with
	// the record.
	Finish func(*Record) error
	// ToolVersion is recorded in run.json.
	ToolVersion string
	// Seed seeds the backoff jitter; 0 picks one at random.
	Seed uint64
	// Retry bounds request retries (the Limiter's) and mutating-call attempts.
	Retry Retry
	// RequestTimeout bounds one HTTP request (provider.Config.Timeout); 0: the provider's.
	RequestTimeout time.Duration

	// journalFault, in tests, fails journal writes (a full disk).
	journalFault func(Entry) error
}

// ErrRefused wraps every refusal of a plan (exit 4): digest mismatch, unknown format version,
// --expect-digest differing, or a resume of a run made from another plan.
var ErrRefused = errors.New("plan refused")

// ErrNothingAttempted wraps errors that stopped the apply before any step was attempted
// (exit 1): unreadable run directory, providers that cannot be opened, a failed refresh.
var ErrNothingAttempted = errors.New("nothing was attempted")

// ErrRecordNotWritten wraps a failure to write the final run.json after steps ran: the
// journal holds what happened, and the exit code is the run's own (at least 2), never 1,
// since calls were made.
var ErrRecordNotWritten = errors.New("the run record could not be written")

// Exit codes of apply (docs/design.md, "Exit codes").
const (
	ExitOK      = 0
	ExitInvalid = 1
	ExitFailed  = 2
	ExitStopped = 3
	ExitRefused = 4
	ExitLocked  = 5
)

// ExitCode maps Apply's answer to the process exit code.
func ExitCode(rec *Record, err error) int {
	var locked *LockedError
	switch {
	case errors.As(err, &locked):
		return ExitLocked
	case errors.Is(err, ErrRefused), errors.Is(err, planner.ErrDigestMismatch), errors.Is(err, planner.ErrFormatVersion):
		return ExitRefused
	case errors.Is(err, ErrRecordNotWritten) && rec != nil:
		return max(rec.Outcome.ExitCode, ExitFailed)
	case err != nil:
		return ExitInvalid
	case rec == nil:
		return ExitInvalid
	}
	return rec.Outcome.ExitCode
}

// CheckPlan refuses a plan whose format version is unknown, whose digest does not match its
// content, or whose digest differs from expect (when set).
func CheckPlan(p *planner.Plan, expect string) error {
	if p == nil {
		return fmt.Errorf("%w: no plan", ErrRefused)
	}
	if p.FormatVersion != planner.FormatVersion {
		return fmt.Errorf("%w: %w: format_version %d (this upgradeplan reads %d)", ErrRefused, planner.ErrFormatVersion, p.FormatVersion, planner.FormatVersion)
	}
	want, err := planner.ComputeDigest(p)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if p.Digest != want {
		return fmt.Errorf("%w: %w: the file says %s, its content hashes to %s; re-run plan", ErrRefused, planner.ErrDigestMismatch, p.Digest, want)
	}
	if expect != "" && expect != p.Digest {
		return fmt.Errorf("%w: --expect-digest %s differs from the plan's digest %s", ErrRefused, expect, p.Digest)
	}
	return nil
}

// ClientToken is the idempotency token of one step: "upgp-" and the first 32 hex digits of
// SHA-256(digest NUL step id). It depends only on what the digest covers (created_at
// included), so every retry and resume of one plan file sends the same token, while two plan
// files, even of the same content made at different times, never share one (the cloud would
// answer the second with the first's result). 37 ASCII characters, under the 64 allowed.
func ClientToken(p *planner.Plan, stepID string) string {
	h := sha256.New()
	h.Write([]byte(p.Digest))
	h.Write([]byte{0})
	h.Write([]byte(stepID))
	return "upgp-" + hex.EncodeToString(h.Sum(nil))[:32]
}

// BudgetOf turns settings.max_failures into a count of failures allowed before no new step
// starts (failures > budget stops the run); -1 means no budget. A percentage is of the plan's
// steps, rounded down.
func BudgetOf(maxFailures string, steps int) (int, error) {
	if maxFailures == "" {
		return -1, nil
	}
	var n float64
	if len(maxFailures) > 1 && maxFailures[len(maxFailures)-1] == '%' {
		if _, err := fmt.Sscanf(maxFailures[:len(maxFailures)-1], "%g", &n); err != nil || n < 0 {
			return 0, fmt.Errorf("max_failures %q is not a percentage", maxFailures)
		}
		return int(n * float64(steps) / 100), nil
	}
	var c int
	if _, err := fmt.Sscanf(maxFailures, "%d", &c); err != nil || c < 0 {
		return 0, fmt.Errorf("max_failures %q is not a count or a percentage", maxFailures)
	}
	return c, nil
}
