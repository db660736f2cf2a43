package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/products"
	reports "github.com/upgradeplan/upgradeplan/report"
)

// hardExitGrace is how long apply waits for the executor to write its record after a second
// signal before exiting regardless; the journal is fsynced entry by entry, so nothing a
// resume needs is lost either way.
const hardExitGrace = 2 * time.Second

func applyCommand() *cli.Command {
	return &cli.Command{
		Name:      "apply",
		Usage:     "apply a reviewed plan within the APIs' rate limits; resumable after a crash",
		ArgsUsage: "PLAN.json",
		Description: "Runs the plan's steps (dependencies, canary waves, parallelism, change window,\n" +
			"   failure budget) and writes DIR/journal.jsonl, DIR/run.json, DIR/report.md and DIR/junit.xml.\n" +
			"   Exit 0 all succeeded or had nothing to do, 1 nothing attempted, 2 a step failed or was\n" +
			"   skipped, 3 stopped early (resume with --resume DIR), 4 plan refused, 5 plan locked.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "run directory (default runs/<plan name>-<UTC time>)"},
			&cli.IntFlag{Name: "parallelism", Usage: "steps in flight at once, overriding the plan's settings.parallelism"},
			&cli.BoolFlag{Name: "dry-run", Usage: "read, order and rate-limit everything, send no mutating call"},
			&cli.StringFlag{Name: "resume", Usage: "continue the run recorded in `DIR`"},
			&cli.StringFlag{Name: "expect-digest", Usage: "refuse the plan unless its digest is `SHA`"},
			&cli.StringFlag{Name: "window", Usage: "with --resume: a later change window `START/END` (RFC 3339) in place of the plan's; its cutoff still applies"},
			&cli.StringFlag{Name: "log-format", Value: reports.LogText, Usage: "progress lines when stderr is not a terminal: text or json"},
			maxPlanAgeFlag(),
		}, timeoutFlags()...),
		Action: applyAction,
	}
}

func applyAction(c *cli.Context) error {
	args, err := interspersedArgs(c) // `apply PLAN --out DIR` as DESIGN.md writes it
	if err != nil {
		return exitError(ExitInvalid, usageError{fmt.Errorf("apply: %w", err)})
	}
	if len(args) != 1 {
		return exitError(ExitInvalid, usageError{errors.New("apply: name exactly one plan file")})
	}
	if err := reports.CheckLogFormat(c.String("log-format")); err != nil {
		return exitError(ExitInvalid, usageError{err})
	}
	planPath := args[0]
	if err := setTimeouts(c); err != nil {
		return exitError(ExitInvalid, usageError{err})
	}
	reg := products.Registry()
	plan, _, err := readPlan("apply", planPath, reg)
	if err != nil {
		return err
	}
	printWarnings(c, planWarnings(c, plan, reg))
	// Every secret the plan needs is read before the first call, so a missing one stops
	// apply with nothing sent instead of failing its steps halfway through the run.
	if missing := planner.MissingEnv(plan, os.Getenv); len(missing) > 0 {
		return exitError(ExitInvalid, fmt.Errorf("apply: the plan needs environment variables that are not set: %s; nothing was sent", strings.Join(missing, ", ")))
	}
	out, resume := c.String("out"), false
	if dir := c.String("resume"); dir != "" {
		if out != "" && filepath.Clean(out) != filepath.Clean(dir) {
			return exitError(ExitInvalid, usageError{errors.New("apply: --out and --resume name different directories")})
		}
		out, resume = dir, true
	}
	var window *planner.Window
	if v := c.String("window"); v != "" {
		if !resume {
			return exitError(ExitInvalid, usageError{errors.New("apply: --window moves the window of a stopped run: use it with --resume DIR; a new run keeps the reviewed plan's window")})
		}
		w, err := parseWindow(v)
		if err != nil {
			return exitError(ExitInvalid, usageError{fmt.Errorf("apply: --window %q: %w", v, err)})
		}
		window = w
	}
	if out == "" {
		out = filepath.Join("runs", runName(plan.Manifest.Name)+"-"+time.Now().UTC().Format("20060102T150405Z"))
	}

	stderr := c.App.ErrWriter
	tty := false
	if f, ok := stderr.(*os.File); ok {
		tty = term.IsTerminal(int(f.Fd()))
	}
	progress := reports.NewProgress(stderr, tty, c.String("log-format"))
	progress.Redact(secretValues(plan)...)

	opts := executor.Options{
		Registry:     reg,
		PlanPath:     planPath,
		Out:          out,
		Parallelism:  c.Int("parallelism"),
		DryRun:       c.Bool("dry-run"),
		Resume:       resume,
		ExpectDigest: c.String("expect-digest"),
		Window:       window,
		OnEvent:      progress.Event,
		ToolVersion:  versionString(),
	}
	if sig := signalsFrom(c.Context); sig != nil {
		opts.Hard = sig.Second()
		finished := make(chan struct{})
		defer close(finished)
		go func() {
			select {
			case <-sig.Second():
			case <-finished:
				return
			}
			select {
			case <-time.After(hardExitGrace):
				fmt.Fprintln(stderr, "upgradeplan: second signal: exiting now; the journal is intact, resume with --resume "+out)
				os.Exit(ExitStopped)
			case <-finished:
			}
		}()
	}

	// The reports are written while apply still holds the plan's lock, so a resume cannot
	// interleave its run.json with these reports.
	var reportErr error
	opts.Finish = func(rec *executor.Record) error {
		reportErr = reports.WriteAll(out, rec)
		return nil
	}
	rec, err := executor.Apply(c.Context, plan, opts)
	progress.Close()
	code := executor.ExitCode(rec, err)
	if err != nil {
		return exitError(code, fmt.Errorf("apply: %w", err))
	}
	if reportErr != nil {
		return exitError(ExitFailed, fmt.Errorf("apply: the run finished (%s) but its reports could not be written: %w", rec.Outcome.Result, reportErr))
	}
	fmt.Fprintf(c.App.Writer, "%s: %s\n", rec.Outcome.Result, summary(rec))
	fmt.Fprintf(c.App.Writer, "run record: %s\n", filepath.Join(out, executor.RecordFile))
	if code == ExitOK {
		return nil
	}
	msg := "apply " + rec.Outcome.Result
	if rec.Outcome.Reason != "" {
		msg += ": " + rec.Outcome.Reason
	}
	if code == ExitStopped {
		msg += "; continue with: upgradeplan apply " + planPath + " --resume " + out
	}
	return exitError(code, errors.New(msg))
}

// summary is "3 succeeded, 1 failed, 2 not-started" in a fixed order.
func summary(rec *executor.Record) string {
	order := []executor.Status{executor.StatusSucceeded, executor.StatusNoop, executor.StatusFailed, executor.StatusSkipped,
		executor.StatusDrifted, executor.StatusNotStarted, executor.StatusCancelled}
	var parts []string
	for _, st := range order {
		if n := rec.Counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if len(parts) == 0 {
		return "no steps"
	}
	s := parts[0]
	for _, p := range parts[1:] {
		s += ", " + p
	}
	return s
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func runName(name string) string {
	if n := unsafeName.ReplaceAllString(name, "-"); n != "" && n != "-" {
		return n
	}
	return "run"
}

// secretValues resolves every {fromEnv} reference in the plan so the progress display can
// redact the values should an API echo one in an error message.
func secretValues(p *planner.Plan) []string {
	names := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		if ref, ok := provider.AsSecretRef(v); ok {
			names[ref.FromEnv] = true
			return
		}
		switch x := v.(type) {
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, s := range p.Steps {
		walk(map[string]any(s.Params))
	}
	for _, a := range p.Accounts {
		names[a.Secret.FromEnv] = true
	}
	var out []string
	for n := range names {
		if v := os.Getenv(n); n != "" && v != "" {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

// parseWindow reads "START/END", two RFC 3339 times (an ISO 8601 interval).
func parseWindow(v string) (*planner.Window, error) {
	a, b, ok := strings.Cut(v, "/")
	if !ok {
		return nil, errors.New("want START/END, e.g. 2026-11-29T01:00:00+08:00/2026-11-29T05:00:00+08:00")
	}
	start, err := time.Parse(time.RFC3339, a)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	end, err := time.Parse(time.RFC3339, b)
	if err != nil {
		return nil, fmt.Errorf("end: %w", err)
	}
	if !end.After(start) {
		return nil, errors.New("end must be after start")
	}
	return &planner.Window{Start: start, End: end}, nil
}
