package executor

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
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
