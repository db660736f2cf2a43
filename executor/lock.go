package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// LockDirEnv names the environment variable that points the plan-digest locks elsewhere.
const LockDirEnv = "UPGRADEPLAN_LOCK_DIR"

// RunLockFile is the run directory's lock file.
const RunLockFile = "lock"

// LockDir is where the plan-digest locks live: $UPGRADEPLAN_LOCK_DIR, else
// $XDG_RUNTIME_DIR/upgradeplan/locks, else the user's cache directory's upgradeplan/locks
// (~/.cache on Linux, ~/Library/Caches on macOS, %LocalAppData% on Windows), else the
// temporary directory's upgradeplan-locks. Never next to the plan, which may sit on a
// read-only volume (a Kubernetes ConfigMap).
func LockDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv(LockDirEnv); d != "" {
		return d
	}
	if d := getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "upgradeplan", "locks")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "upgradeplan", "locks")
	}
	return filepath.Join(os.TempDir(), "upgradeplan-locks")
}

// LockedError says another apply holds a lock this apply needs (exit 5).
type LockedError struct {
	Path   string
	What   string // "the plan" or "the run directory"
	Holder string // "pid 1234 on host since 2026-11-28T01:00:00Z", as the holder wrote it
}

func (e *LockedError) Error() string {
	h := e.Holder
	if h == "" {
		h = "an unknown process"
	}
	what := e.What
	if what == "" {
		what = "the lock"
	}
	return fmt.Sprintf("another apply holds %s (%s): %s", what, e.Path, h)
}

// fileLock is an exclusive advisory lock (flock(2), LockFileEx on Windows) held for the whole
// apply. The kernel releases it when the process dies, so a crashed apply leaves no stale
// lock. Who holds it is written to PATH.holder: a locked file cannot be read on Windows.
type fileLock struct{ fl *flock.Flock }

func acquireLock(path, what string) (*fileLock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	fl := flock.New(path)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		b, _ := os.ReadFile(path + ".holder")
		return nil, &LockedError{Path: path, What: what, Holder: strings.TrimSpace(string(b))}
	}
	host, _ := os.Hostname()
	holder := fmt.Sprintf("pid %d on %s since %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	writeFileAtomic(path+".holder", []byte(holder))
	return &fileLock{fl: fl}, nil
}

func (l *fileLock) release() {
	if l == nil {
		return
	}
	os.Remove(l.fl.Path() + ".holder")
	l.fl.Unlock()
}

// runLocks are the two locks of an apply: one on the plan's digest (so copies of one plan
// file conflict wherever they sit) and one on the run directory (so two plans never write
// one run).
type runLocks struct{ plan, run *fileLock }

func acquireRunLocks(lockDir, digest, runDir string) (*runLocks, error) {
	pl, err := acquireLock(filepath.Join(lockDir, "plan-"+digest+".lock"), "the plan")
	if err != nil {
		return nil, err
	}
	rl, err := acquireLock(filepath.Join(runDir, RunLockFile), "the run directory")
	if err != nil {
		pl.release()
		return nil, err
	}
	return &runLocks{plan: pl, run: rl}, nil
}

func (l *runLocks) release() {
	if l == nil {
		return
	}
	l.run.release()
	l.plan.release()
	l.run, l.plan = nil, nil
}
