package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/executor/pgstate"
	// Aliased: this package's report func maps errors to exit codes.
	reports "github.com/upgradeplan/upgradeplan/report"
)

// reportFormats are the --format values of report and what each renders.
var reportFormats = map[string]func(io.Writer, *executor.Record) error{
	"markdown": reports.Markdown,
	"junit":    reports.JUnit,
	"json":     reports.JSON,
}

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "render a run's report.md, junit.xml or run.json from its run.json",
		ArgsUsage: "DIR/run.json",
		Description: "Writes to stdout exactly what apply wrote into the run directory: report.md\n" +
			"   (--format markdown), junit.xml (--format junit) or run.json (--format json).\n" +
			"   A run directory may be named instead of its run.json. For a run that has not\n" +
			"   finished (killed, or still running), whose run.json can lag its journal, the\n" +
			"   steps are as the journal beside it records them, and the outcome says so.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "markdown", Usage: "markdown, junit or json"},
			&cli.StringFlag{Name: "state", EnvVars: []string{pgstate.Env}, Usage: "read the run from the PostgreSQL state `postgres://USER@HOST:PORT/DB` (with --run) instead of a run.json; a sharded run's shards are merged into one record"},
			&cli.StringFlag{Name: "run", Usage: "with --state: the run's `ID` (its plan's digest, or a unique prefix of it)"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersedArgs(c)
			format := c.String("format")
			if err != nil {
				return exitError(ExitInvalid, usageError{fmt.Errorf("report: %w", err)})
			}
			render, ok := reportFormats[format]
			if !ok {
				return exitError(ExitInvalid, usageError{fmt.Errorf("report: --format %q: must be markdown, junit or json", format)})
			}
			if c.String("run") != "" {
				if len(args) != 0 {
					return exitError(ExitInvalid, usageError{errors.New("report: --run reads the run from --state: name no run.json")})
				}
				rec, err := stateRecord(c)
				if err != nil {
					return err
				}
				return renderTo(c, render, rec)
			}
			if len(args) != 1 {
				return exitError(ExitInvalid, usageError{fmt.Errorf("report: name one run.json (or run directory), got %d arguments", len(args))})
			}
			path := args[0]
			if fi, err := os.Stat(path); err == nil && fi.IsDir() {
				path = filepath.Join(path, reports.RunFile)
			}
			rec, err := reports.ReadRecord(path)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					return exitError(ExitInvalid, fmt.Errorf("report: %s does not exist; apply writes run.json into its --out directory", path))
				}
				return exitError(ExitInvalid, err)
			}
			return renderTo(c, render, folded(c, rec, filepath.Dir(path)))
		},
	}
}

// folded is rec brought up to date with the journal in dir when the journal says more than
// rec (executor.FoldJournal): a run that has not finished, or a resumed segment killed
// before it wrote run.json. The journal is read every time: file times are too coarse on
// some file systems to tell which was written last. A journal that cannot be read leaves
// rec as it is, with a warning.
func folded(c *cli.Context, rec *executor.Record, dir string) *executor.Record {
	entries, err := executor.ReadJournal(dir)
	if err != nil {
		fmt.Fprintf(c.App.ErrWriter, "report: warning: the journal beside the record cannot be read (%v): the steps are as run.json last recorded them\n", err)
		return rec
	}
	return executor.FoldJournal(rec, entries)
}

// renderTo renders fully before writing, so a failure never leaves half a report on stdout.
func renderTo(c *cli.Context, render func(io.Writer, *executor.Record) error, rec *executor.Record) error {
	var buf bytes.Buffer
	if err := render(&buf, rec); err != nil {
		return exitError(ExitInvalid, err)
	}
	_, err := c.App.Writer.Write(buf.Bytes())
	return err
}

// stateRecord reads --run's record from --state, its shards merged.
func stateRecord(c *cli.Context) (*executor.Record, error) {
	url := c.String("state")
	if url == "" {
		return nil, exitError(ExitInvalid, usageError{errors.New("report: --run needs --state (or UPGRADEPLAN_STATE)")})
	}
	st, err := openStateURL(c, "report", url)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	digest, err := st.ResolveRun(c.Context, c.String("run"))
	if err != nil {
		return nil, exitError(ExitInvalid, fmt.Errorf("report: %w", err))
	}
	recs, err := st.Records(c.Context, digest)
	if err != nil {
		return nil, exitError(ExitInvalid, fmt.Errorf("report: %w", err))
	}
	rec, err := executor.MergeShards(recs)
	if err != nil {
		return nil, exitError(ExitInvalid, fmt.Errorf("report: %w", err))
	}
	return rec, nil
}
