package executor

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
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
// agrees on: $HOME/.cache/upgradeplan/locks on Linux and other Unix systems,
// ~/Library/Caches/upgradeplan/locks on macOS, %LocalAppData%\upgradeplan\locks on Windows
// (where earlier versions kept them for a session without XDG variables, as cron's is);
// else the temporary directory's upgradeplan-locks. Session variables are not read: an SSH
// session sets XDG_RUNTIME_DIR (earlier versions' first choice, a tmpfs emptied at logout)
// and cron does not, so two applies of one plan would take two different locks.
// LegacyLockDirs names where earlier versions may have kept them instead. Never next to the
// plan, which may sit on a read-only volume (a Kubernetes ConfigMap); a pod's home is as
// short-lived as the pod, so a CronJob sets $UPGRADEPLAN_LOCK_DIR on its run volume
// (docs/scheduled-apply.md).
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
			return filepath.Join(h, "Library", "Caches", "upgradeplan", "locks")
		}
	default:
		h := getenv("HOME")
		if h == "" {
			// A bare environment (some schedulers): the account's home from the user database,
			// not the temporary directory, which $TMPDIR moves between sessions.
			if u, err := user.Current(); err == nil {
				h = u.HomeDir
			}
		}
		if h != "" {
			return filepath.Join(h, ".cache", "upgradeplan", "locks")
		}
	}
	return filepath.Join(os.TempDir(), "upgradeplan-locks")
}

// LegacyLockDirs are the lock directories an earlier version chose in this session instead
// of LockDir's default ($XDG_RUNTIME_DIR/upgradeplan/locks, $XDG_CACHE_HOME/upgradeplan/locks),
// those that exist: an apply at the default also takes the plan's lock in each and reads
// its ledger, so an apply of an earlier version, or the run it recorded there, is still
// seen. None when $UPGRADEPLAN_LOCK_DIR names the directory.
func LegacyLockDirs(getenv func(string) string) []string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if getenv(LockDirEnv) != "" {
		return nil
	}
	var seen []os.FileInfo // the default and the directories taken: one lock file each
	if fi, err := os.Stat(LockDir(getenv)); err == nil {
		seen = append(seen, fi)
	}
	var out []string
	for _, env := range []string{"XDG_RUNTIME_DIR", "XDG_CACHE_HOME"} {
		d := getenv(env)
		if d == "" {
			continue
		}
		dir := filepath.Join(d, "upgradeplan", "locks")
		fi, err := os.Stat(dir)
		if err != nil || !fi.IsDir() || slices.ContainsFunc(seen, func(o os.FileInfo) bool { return os.SameFile(o, fi) }) {
			continue // absent, or the default (or one taken) by another name: locked once
		}
		seen = append(seen, fi)
		out = append(out, dir)
	}
	return out
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
type runLocks struct {
	plan, run *fileLock
	legacy    []*fileLock // the plan's lock in LegacyLockDirs
}

func acquireRunLocks(lockDir string, legacy []string, digest, runDir string) (*runLocks, error) {
	pl, err := acquireLock(filepath.Join(lockDir, "plan-"+digest+".lock"), "the plan")
	if err != nil {
		return nil, err
	}
	locks := &runLocks{plan: pl}
	for _, dir := range legacy {
		l, err := acquireLock(filepath.Join(dir, "plan-"+digest+".lock"), "the plan")
		if err != nil {
			locks.release()
			return nil, err
		}
		locks.legacy = append(locks.legacy, l)
	}
	rl, err := acquireLock(filepath.Join(runDir, RunLockFile), "the run directory")
	if err != nil {
		locks.release()
		return nil, err
	}
	locks.run = rl
	return locks, nil
}

func (l *runLocks) release() {
	if l == nil {
		return
	}
	l.run.release()
	for _, x := range l.legacy {
		x.release()
	}
	l.plan.release()
	l.run, l.plan, l.legacy = nil, nil, nil
}
