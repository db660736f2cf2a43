package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
)

// An SSH session sets XDG_RUNTIME_DIR (and may set the other XDG variables); cron does not.
// Both applies of one plan must take the same lock and read the same applied-once ledger,
// so the default lock directory depends on the user's home only, and never lies in
// XDG_RUNTIME_DIR, a tmpfs emptied at logout.
func TestTheDefaultLockDirIsTheSameInEverySessionOfAUser(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no XDG session variables")
	}
	cron := map[string]string{"HOME": "/home/ops"}
	ssh := map[string]string{"HOME": "/home/ops", "XDG_RUNTIME_DIR": "/run/user/1000",
		"XDG_STATE_HOME": "/home/ops/.xdg-state", "XDG_CACHE_HOME": "/home/ops/.xdg-cache"}
	a := LockDir(func(k string) string { return cron[k] })
	b := LockDir(func(k string) string { return ssh[k] })
	if a != b {
		t.Errorf("cron's lock directory %s, an SSH session's %s: two applies of one plan would not see each other", a, b)
	}
	if strings.HasPrefix(b, "/run/user") || !strings.HasPrefix(a, "/home/ops"+string(filepath.Separator)) {
		t.Errorf("lock directory %s; want one under the user's home, which outlives the session", b)
	}
	if got := LockDir(func(k string) string { return map[string]string{LockDirEnv: "/runs/locks", "HOME": "/home/ops"}[k] }); got != "/runs/locks" {
		t.Errorf("with %s set: %s, want /runs/locks", LockDirEnv, got)
	}
}

// An earlier version kept the locks and the ledger in $XDG_RUNTIME_DIR/upgradeplan/locks
// when the session set it. An apply at the default still sees them: a plan that version
// applied into another run directory is refused (exit 4), and while that version's apply
// holds the plan's lock there, this one is locked out (exit 5).
func TestAnEarlierVersionsSessionLockDirIsStillHonoured(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(1, "a", "1"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		base := t.TempDir()
		old := filepath.Join(base, "run-user", "upgradeplan", "locks")
		env := map[string]string{"HOME": filepath.Join(base, "home"), "XDG_RUNTIME_DIR": filepath.Join(base, "run-user")}
		getenv := func(k string) string { return env[k] }
		viaOld := func(o *Options) { o.LockDir = old } // the earlier version's choice
		atDefault := func(o *Options) { o.Getenv, o.LockDir = getenv, "" }

		first := filepath.Join(base, "run-old")
		if rec, err := runApply(t, t.Context(), plan, cloud.registry(), first, viaOld); err != nil || rec.Outcome.ExitCode != ExitOK {
			t.Fatalf("the earlier version's apply: %v %+v", err, rec)
		}
		if dirs := LegacyLockDirs(getenv); len(dirs) != 1 || dirs[0] != old {
			t.Fatalf("LegacyLockDirs = %v, want [%s]", dirs, old)
		}
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), filepath.Join(base, "run-new"), atDefault)
		if ExitCode(rec, err) != ExitRefused || !strings.Contains(fmt.Sprint(err), first) {
			t.Errorf("the same plan at the default lock directory: exit %d (%v); want 4 naming %s", ExitCode(rec, err), err, first)
		}

		other := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "2", "3", 0)})
		held, err := acquireLock(filepath.Join(old, "plan-"+other.Digest+".lock"), "the plan")
		if err != nil {
			t.Fatal(err)
		}
		defer held.release()
		rec, err = runApply(t, t.Context(), other, cloud.registry(), filepath.Join(base, "run-other"), atDefault)
		if ExitCode(rec, err) != ExitLocked {
			t.Errorf("while an earlier version holds the plan's lock in its directory: exit %d (%v); want 5", ExitCode(rec, err), err)
		}
		if n := cloud.sends("a-1"); n != 1 {
			t.Errorf("a-1 received %d calls, want the earlier version's one", n)
		}
	})
}

// The default lock directory under another name (a home reached through a symlink, and
// XDG_CACHE_HOME naming its real path) is one directory: taking the plan's lock in it
// twice would lock the apply out of its own run (exit 5 every time). An earlier version's
// directory that is a directory of its own gets the ledger of the run too, so that
// version's apply, which reads only it, sees the run.
func TestALegacyLockDirIsLockedOnceAndGetsTheLedger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cloud := newFakeCloud(10*time.Second, fleetOf(1, "a", "1"))
		plan := planOf(t, planner.Settings{}, oneTarget(), []planner.Step{versionStep("t", "a-1", "1", "2", 0)})
		base := t.TempDir()
		real := filepath.Join(base, "real-home")
		if err := os.MkdirAll(filepath.Join(real, ".cache", "upgradeplan", "locks"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, filepath.Join(base, "home")); err != nil {
			t.Skip("no symlinks here:", err)
		}
		old := filepath.Join(base, "run-user", "upgradeplan", "locks")
		if err := os.MkdirAll(old, 0o755); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"HOME": filepath.Join(base, "home"), "XDG_CACHE_HOME": filepath.Join(real, ".cache"),
			"XDG_RUNTIME_DIR": filepath.Join(base, "run-user")}
		getenv := func(k string) string { return env[k] }
		if dirs := LegacyLockDirs(getenv); len(dirs) != 1 || dirs[0] != old {
			t.Fatalf("LegacyLockDirs = %v; want only %s (XDG_CACHE_HOME is the default by another name)", dirs, old)
		}
		out := filepath.Join(base, "run")
		rec, err := runApply(t, t.Context(), plan, cloud.registry(), out, func(o *Options) { o.Getenv, o.LockDir = getenv, "" })
		if err != nil || rec.Outcome.ExitCode != ExitOK {
			t.Fatalf("apply at the default: %v %+v; want it done", err, rec)
		}
		b, err := os.ReadFile(filepath.Join(old, "plan-"+plan.Digest+".run"))
		if abs, _ := filepath.Abs(out); err != nil || string(b) != abs {
			t.Errorf("the earlier version's ledger: %q %v; want it to name %s", b, err, abs)
		}
	})
}
