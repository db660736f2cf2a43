package executor

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// LockedError says another apply holds the plan's lock (exit 5).
type LockedError struct {
	Path   string
	Holder string // "pid 1234 since 2026-11-28T01:00:00Z on host", as the holder wrote it
}

func (e *LockedError) Error() string {
	h := e.Holder
	if h == "" {
		h = "an unknown process"
	}
	return fmt.Sprintf("another apply holds %s: %s", e.Path, h)
}

// planLock is an exclusive flock on PLAN.lock, held for the whole apply. The kernel releases
// it when the process dies, so a crashed apply never leaves a stale lock behind.
type planLock struct{ f *os.File }

func acquireLock(path string) (*planLock, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			b, _ := os.ReadFile(path)
			return nil, &LockedError{Path: path, Holder: strings.TrimSpace(string(b))}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	host, _ := os.Hostname()
	holder := fmt.Sprintf("pid %d since %s on %s\n", os.Getpid(), time.Now().UTC().Format(time.RFC3339), host)
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(holder), 0)
		f.Sync()
	}
	return &planLock{f: f}, nil
}

func (l *planLock) release() {
	if l == nil {
		return
	}
	l.f.Truncate(0)
	syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
}
