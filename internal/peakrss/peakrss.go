// Package peakrss owns how a process reports its own peak resident set size to the bench
// that started it.
//
// The bench used to take a child's peak RSS from the rusage wait4 returns (ru_maxrss), but
// on Linux that figure is not the child's alone: exec records the high-water mark of the
// memory it replaces, and os/exec starts a child with vfork over the parent's memory, so
// every child "peaked" at least at the bench's own RSS when it was started (a 2,000-instance
// plan measured 538 MB after the bench had generated a 100,000-instance state). The child's
// own mm starts afresh at exec, so its VmHWM in /proc/self/status is the figure wanted; the
// binary writes it, when the environment names a file, as its command ends.
package peakrss

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// Env names the file a process writes its peak RSS to (decimal bytes) when its command ends.
const Env = "UPGRADEPLAN_PEAKRSS"

// Self returns this process's peak resident set size in bytes (VmHWM in /proc/self/status).
func Self() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parseHWM(b)
}

// parseHWM reads the VmHWM line of a /proc/<pid>/status file ("VmHWM:   12345 kB").
func parseHWM(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmHWM:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, errors.New("peakrss: unexpected VmHWM line " + strconv.Quote(string(line)))
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, err
		}
		return kb * 1024, nil
	}
	return 0, errors.New("peakrss: no VmHWM line in /proc/self/status")
}

// WriteIfAsked writes Self to the file Env names, if it names one; what cannot be read or
// written is returned (the caller is a measuring hook: it reports, it does not fail the
// command).
func WriteIfAsked() error {
	path := os.Getenv(Env)
	if path == "" {
		return nil
	}
	n, err := Self()
	if err != nil {
		return err
	}
	return os.WriteFile(path, strconv.AppendInt(nil, n, 10), 0o600)
}

// Read returns the peak a child wrote to path, and false when it wrote none.
func Read(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	return n, err == nil && n > 0
}
