// Package atomicfile owns replacing a file so that a reader, a crash or a power loss never
// sees half of it, and a write that returned nil is still there after a power loss: the
// content goes to a temporary file beside the target, is synced, renamed over the target,
// and then the directory is synced, which makes the rename itself durable.
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StaleAge is how long a temporary file of a target must have gone unmodified, before a
// write of that target begins, to be removed as left behind by a killed write. A live
// writer touches its temporary file at every buffer flush, so one that has not changed for
// a minute belongs to no write; a younger one may be another process's write in progress,
// whose rename must not be made to fail.
const StaleAge = time.Minute

// syncDir makes a directory's entries durable; a variable so a test can watch when it runs.
var syncDir = func(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// WriteFile replaces path with data, like os.WriteFile but atomically (see Write).
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write replaces path with what write writes (buffered), with mode perm. On every error the
// temporary file is removed and path is left as it was. After the rename it removes the
// target's temporary files (".NAME.tmp-*") older than StaleAge: those of writes that were
// killed, which no error path could remove.
func Write(path string, perm os.FileMode, write func(io.Writer) error) error {
	began := time.Now()
	dir, base := filepath.Dir(path), filepath.Base(path)
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	bw := bufio.NewWriterSize(f, 256<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	// Best effort: where a directory cannot be synced (Windows, some network file systems)
	// the rename is as durable as the system makes it, and the write has still happened.
	syncDir(dir)
	removeStale(dir, base, began.Add(-StaleAge))
	return nil
}

// tempPrefix is how the temporary files of base are named: hidden, and recognisable as
// base's.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// removeStale removes base's temporary files in dir last modified before cutoff. It is
// best effort: a file it cannot read or remove is left for the next write.
func removeStale(dir, base string, cutoff time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := tempPrefix(base)
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		if info, err := e.Info(); err == nil && info.ModTime().Before(cutoff) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
