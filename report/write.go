package report

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/internal/atomicfile"
)

// File names in a run directory.
const (
	RunFile      = "run.json"
	MarkdownFile = "report.md"
	JUnitFile    = "junit.xml"
)

// WriteAll writes run.json, report.md and junit.xml into dir, each with atomicfile (a
// temporary file in dir, synced, renamed, then the directory synced), so a reader or a
// crash never sees half a report and a power loss after it returned loses none; temporary
// files a killed write left behind are removed. run.json is written last: a run.json always
// has reports that match it or older ones.
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
		err := atomicfile.Write(filepath.Join(dir, f.name), 0o644, func(w io.Writer) error {
			renderErr = f.render(w, rec)
			return renderErr
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
