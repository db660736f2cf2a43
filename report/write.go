package report

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/upgradeplan/upgradeplan/executor"
)

// File names in a run directory.
const (
	RunFile      = "run.json"
	MarkdownFile = "report.md"
	JUnitFile    = "junit.xml"
)

// WriteAll writes run.json, report.md and junit.xml into dir, each atomically (a temporary
// file in dir, synced, then renamed), so a reader or a crash never sees half a report.
// run.json is written last: a run.json always has reports that match it or older ones.
func WriteAll(dir string, rec *executor.Record) error {
	for _, f := range []struct {
		name   string
		render func(io.Writer, *executor.Record) error
	}{
		{MarkdownFile, Markdown},
		{JUnitFile, JUnit},
		{RunFile, JSON},
	} {
		var renderErr error
		err := writeFileAtomicFunc(filepath.Join(dir, f.name), func(w io.Writer) error {
			bw := bufio.NewWriterSize(w, 64<<10)
			if renderErr = f.render(bw, rec); renderErr != nil {
				return renderErr
			}
			return bw.Flush()
		})
		if renderErr != nil {
			return renderErr
		}
		if err != nil {
			return fmt.Errorf("report: write %s: %w", f.name, err)
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	return writeFileAtomicFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeFileAtomicFunc writes what write writes to a temporary file beside path, syncs it
// and renames it to path.
func writeFileAtomicFunc(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := write(f); err != nil {
		return fail(err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
