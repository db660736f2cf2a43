package executor

// This file is the local run-state backend: a run directory (journal.jsonl, run.json, the
// run's lock) and the lock directory (the plan-digest locks and the applied-once ledger).

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// DirState keeps runs in local run directories; LockDir holds the plan-digest locks and the
// applied-once ledger ("" means LockDir(os.Getenv)).
type DirState struct {
	LockDir string
	// Legacy are lock directories of earlier versions (LegacyLockDirs) whose plan locks
	// this apply takes too and whose ledgers it reads; nil when LockDir was named.
	Legacy []string
}

// Open creates the run directory if need be and takes the plan's and the directory's locks.
func (d DirState) Open(ctx context.Context, digest, out string) (RunState, error) {
	if out == "" {
		return nil, fmt.Errorf("%w: no run directory", ErrNothingAttempted)
	}
	lockDir := d.LockDir
	if lockDir == "" {
		lockDir = LockDir(nil)
	}
	_, statErr := os.Stat(out)
	created := errors.Is(statErr, fs.ErrNotExist)
	_, journalErr := os.Stat(filepath.Join(out, JournalFile))
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("%w: run directory: %w", ErrNothingAttempted, err)
	}
	locks, err := acquireRunLocks(lockDir, d.Legacy, digest, out)
	if err != nil {
		if created {
			os.Remove(out)
		}
		return nil, err
	}
	var legacy []string
	for _, dir := range d.Legacy {
		legacy = append(legacy, filepath.Join(dir, "plan-"+digest+".run"))
	}
	return &dirRun{out: out, digest: digest, ledger: filepath.Join(lockDir, "plan-"+digest+".run"),
		legacyLedgers: legacy, locks: locks, created: created, hadRun: journalErr == nil}, nil
}

// dirRun is one apply's hold on a run directory.
type dirRun struct {
	out, digest, ledger string
	legacyLedgers       []string // earlier versions' ledgers of the digest, read too
	locks               *runLocks
	created, hadRun     bool

	mu      sync.Mutex
	j       *journal
	claimed bool
}

func (d *dirRun) Where() string { return d.out }
func (d *dirRun) Existed() bool { return d.hadRun }
func (d *dirRun) Close() error  { d.closeJournal(); d.locks.release(); return nil }
func (d *dirRun) closeJournal() { d.mu.Lock(); defer d.mu.Unlock(); d.closeLocked() }
func (d *dirRun) closeLocked() {
	if d.j != nil {
		d.j.close()
		d.j = nil
	}
}
func (d *dirRun) String() string { return "run directory " + d.out }

// CheckApplied refuses a plan whose digest already has a run in another run directory. The
// ledger, PLAN-DIGEST.run in the lock directory, names the run directory of the digest's
// run; it is read and written under the digest's lock.
func (d *dirRun) CheckApplied(context.Context) error {
	here, _ := filepath.Abs(d.out)
	for _, ledger := range append([]string{d.ledger}, d.legacyLedgers...) {
		b, err := os.ReadFile(ledger)
		if err != nil {
			continue
		}
		prior := string(b)
		if prior == here {
			continue
		}
		if _, err := os.Stat(filepath.Join(prior, JournalFile)); err != nil {
			continue // that run directory is gone: the plan was never applied from it
		}
		return fmt.Errorf("%w: plan %s was already applied in %s; a plan is applied once: continue that run with `upgradeplan apply PLAN --out %s`, or re-plan", ErrRefused, d.digest, prior, prior)
	}
	return nil
}

func (d *dirRun) Claim(context.Context) error {
	here, _ := filepath.Abs(d.out)
	if err := writeFileAtomic(d.ledger, []byte(here)); err != nil {
		return fmt.Errorf("lock directory: %w", err)
	}
	d.claimed = true
	// An earlier version's apply in a session that chose a legacy directory reads only
	// that directory's ledger: it must see this run too.
	for _, ledger := range d.legacyLedgers {
		if err := writeFileAtomic(ledger, []byte(here)); err != nil {
			return fmt.Errorf("lock directory: %w", err)
		}
	}
	return nil
}

func (d *dirRun) ReadJournal(context.Context) ([]Entry, error) { return ReadJournal(d.out) }

func (d *dirRun) Append(_ context.Context, e Entry) error {
	d.mu.Lock()
	if d.j == nil {
		j, err := openJournal(d.out)
		if err != nil {
			d.mu.Unlock()
			return err
		}
		d.j = j
	}
	j := d.j
	d.mu.Unlock()
	return j.write(e)
}

func (d *dirRun) WriteRecord(_ context.Context, rec *Record) error { return WriteRecord(d.out, rec) }
func (d *dirRun) ReadRecord(context.Context) (*Record, error)      { return ReadRecord(d.out) }

// Lease grants every lease at once: a run directory knows of no other run. Two plans over
// one instance on one machine are kept apart by the PostgreSQL state only.
func (d *dirRun) Lease(context.Context, InstanceKey, string) (func(), string, error) {
	return func() {}, "", nil
}

func (d *dirRun) Discard(context.Context) {
	d.closeJournal()
	if !d.hadRun {
		os.Remove(filepath.Join(d.out, JournalFile))
		os.Remove(filepath.Join(d.out, RecordFile))
	}
	if d.claimed {
		os.Remove(d.ledger)
		for _, ledger := range d.legacyLedgers {
			os.Remove(ledger)
		}
	}
	d.locks.release()
	os.Remove(filepath.Join(d.out, RunLockFile))
	if d.created {
		os.Remove(d.out)
	}
}
