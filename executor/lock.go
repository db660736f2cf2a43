package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// LockDirEnv names the environment variable that points the plan-digest locks elsewhere.
const LockDirEnv = "UPGRADEPLAN_LOCK_DIR"

// RunLockFile is the run directory's lock file.
const RunLockFile = "lock"

// LockDir is where the plan-digest locks and the applied-once ledger live:
// $UPGRADEPLAN_LOCK_DIR, else a directory of the user's that every session of theirs
// agrees on and that outlives it: $HOME/.local/state/upgradeplan/locks on Linux and other
// Unix systems, ~/Library/Application Support/upgradeplan/locks on macOS,
// %LocalAppData%\upgradeplan\locks on Windows; else the temporary directory's
// upgradeplan-locks. Session variables (XDG_RUNTIME_DIR, XDG_STATE_HOME, XDG_CACHE_HOME)
// are not read: an SSH session sets them and cron does not, so two applies of one plan
// would take two different locks, and XDG_RUNTIME_DIR, a tmpfs emptied at logout, would
// lose the ledger. Never next to the plan, which may sit on a read-only volume (a
// Kubernetes ConfigMap); a pod's home is as short-lived as the pod, so a CronJob sets
// $UPGRADEPLAN_LOCK_DIR on its run volume (docs/scheduled-apply.md).
func LockDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv(LockDirEnv); d != "" {
		return d
	}
	switch runtime.GOOS {
	case "windows":
		if d := getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "upgradeplan", "locks")
		}
	case "darwin", "ios":
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, "Library", "Application Support", "upgradeplan", "locks")
		}
	default:
		if h := getenv("HOME"); h != "" {
			return filepath.Join(h, ".local", "state", "upgradeplan", "locks")
		}
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
