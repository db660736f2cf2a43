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
			"   A run directory may be named instead of its run.json.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "markdown", Usage: "markdown, junit or json"},
		},
		Action: func(c *cli.Context) error {
			args, err := interspersedArgs(c)
			format := c.String("format")
			if err != nil {
				return exitError(ExitInvalid, usageError{fmt.Errorf("report: %w", err)})
			}
			if len(args) != 1 {
				return exitError(ExitInvalid, usageError{fmt.Errorf("report: name one run.json (or run directory), got %d arguments", len(args))})
			}
			render, ok := reportFormats[format]
			if !ok {
				return exitError(ExitInvalid, usageError{fmt.Errorf("report: --format %q: must be markdown, junit or json", format)})
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
			// Render fully before writing, so a failure never leaves half a report on stdout.
			var buf bytes.Buffer
			if err := render(&buf, rec); err != nil {
				return exitError(ExitInvalid, err)
			}
			_, err = c.App.Writer.Write(buf.Bytes())
			return err
		},
	}
}
