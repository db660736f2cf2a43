package executor

// This file is the run-state backend: where a run keeps what must outlive the apply process
// that runs it (its journal, its run record, the locks that keep two applies apart, the
// applied-once ledger and the instance leases). The local directory (statedir.go) is the
// default; executor/pgstate keeps the same in PostgreSQL, so a run can outlive its machine.

import (
	"context"
	"fmt"
	"os"
	"time"
)

// State is a run-state backend. Open is called once per apply, before anything is read.
type State interface {
	// Open takes the locks of one apply of the plan with digest into run (the run directory
	// for the local state; backends that key runs by digest may ignore it) and returns the
	// run's state, held until its Close. Another apply holding the plan or the run gets a
	// *LockedError naming the holder (exit 5). Open writes nothing a later apply could
	// mistake for a run.
	Open(ctx context.Context, digest, run string) (RunState, error)
}

// RunState is one apply's hold on one run. Its methods may be called from many goroutines.
type RunState interface {
	// Where names the run in messages ("runs/x" for a run directory).
	Where() string
	// Existed reports whether the run held a journal before this apply opened it.
	Existed() bool
	// CheckApplied is the applied-once ledger: it refuses (ErrRefused, exit 4) a plan whose
	// digest already has a run elsewhere, saying how to continue that run. A plan is applied
	// once, as Terraform refuses a stale saved plan.
	CheckApplied(ctx context.Context) error
	// Claim records in the ledger that this run holds the digest's run.
	Claim(ctx context.Context) error
	// ReadJournal returns every entry appended to the run so far, in order. A torn last
	// entry (a crash while writing it) is left out.
	ReadJournal(ctx context.Context) ([]Entry, error)
	// Append adds e to the journal and returns once it is durable (fsynced, committed): the
	// executor sends a mutating call only after its intent's Append returned nil, and goes
	// on after a result or a step entry only once it returned. A backend may return from a
	// step or result entry once it is written but before it is durable, when every later
	// intent and the segment's end make it durable with themselves (the run directory
	// does: journal_commit.go). An error stops the run.
	Append(ctx context.Context, e Entry) error
	// WriteRecord replaces the run record (run.json) atomically; ReadRecord reads it.
	WriteRecord(ctx context.Context, rec *Record) error
	ReadRecord(ctx context.Context) (*Record, error)
	// Lease takes the lease on one instance for one step of this run, held until release is
	// called (when the step ends) or the runner dies. While another run holds it, Lease
	// returns a nil release and the holder ("step S of plan P, pid N on host since T"); the
	// executor waits and asks again.
	Lease(ctx context.Context, key InstanceKey, step string) (release func(), holder string, err error)
	// Discard removes what this apply created, when it attempted nothing and the run did not
	// exist before, so the same command can run again.
	Discard(ctx context.Context)
	// Close releases the locks.
	Close() error
}

// Fenced is a RunState whose hold on the run can be lost while the apply runs (the
// PostgreSQL state: its lock's connection can die, and another runner take the lock).
// Append fences every intent; Confirm is the same check for a call that writes none of its
// own, a resend after a throttling answer, whose intent was written before the throttle:
// it returns an error once this apply no longer holds the run, and the call is not sent.
type Fenced interface {
	Confirm(ctx context.Context) error
}

// ForeignChanges is a RunState whose leases other runs share (the PostgreSQL state): after
// a Lease, ForeignChange says when a step of another run that had sent a call to the
// instance let its lease go (zero: no such change is known), so the step waits out the
// kind's visibility grace from then before it judges the instance, and judges it afresh.
// Without a known change the verdict the step already holds stands.
type ForeignChanges interface {
	ForeignChange(key InstanceKey) time.Time
}

// InstanceKey names one cloud instance wherever it is planned: two plans that name it
// share its lease.
type InstanceKey struct {
	Cloud    string // "alibaba", "tencent": the kind's first part
	Account  string // the plan's account name ("" for the default chain)
	Region   string
	Instance string
}

func (k InstanceKey) String() string {
	acct := k.Account
	if acct == "" {
		acct = "default"
	}
	return fmt.Sprintf("%s/%s/%s/%s", k.Cloud, acct, k.Region, k.Instance)
}

// Holder says who holds a lock or a lease: "pid 1234 on host since 2026-11-28T01:00:00Z".
func Holder(pid int, host string, since time.Time) string {
	return fmt.Sprintf("pid %d on %s since %s", pid, host, since.UTC().Format(time.RFC3339))
}

// thisHolder is Holder for this process, now.
func thisHolder() string {
	host, _ := os.Hostname()
	return Holder(os.Getpid(), host, time.Now())
}
