package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider/products"
	render "github.com/upgradeplan/upgradeplan/report"
)

// planFormats are the renderings plan and show print; json is the plan file itself.
var planFormats = []string{"text", "markdown", "json"}

func planCommand() *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "read live state and write the ordered upgrade plan for a fleet",
		ArgsUsage: "FLEET.yaml",
		Description: "Reads every target's instances with one bulk read per (kind, account, region), diffs them\n" +
			"   against the manifest's desired state under each product's rules, writes the plan file\n" +
			"   (-o) and prints it (--format text for terminals, markdown for a pull request, json).\n" +
			"   Every problem of the manifest is reported at once, one per line as\n" +
			"   FILE:LINE:COL: PATH: TARGET/INSTANCE: MESSAGE, with exit 1.\n" +
			"   --detailed-exitcode: exit 0 when there is nothing to do, 2 when there are changes.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write the plan file to `FILE` (not saved without it)"},
			&cli.StringFlag{Name: "format", Value: "text", Usage: "stdout rendering: text, markdown or json"},
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 0 for no changes, 1 for an error, 2 for changes (as Terraform)"},
			&cli.StringFlag{Name: "digest-file", Usage: "with -o: also write the plan's digest alone to `FILE`, for apply --expect-digest \"$(cat FILE)\""},
		}, timeoutFlags()...),
		Action: func(c *cli.Context) error {
			args, err := interspersedArgs(c)
			if err != nil {
				return exitError(ExitInvalid, usageError{err})
			}
			if len(args) != 1 {
				return exitError(ExitInvalid, usageError{fmt.Errorf("plan: name one fleet manifest, got %d arguments", len(args))})
			}
			format := c.String("format")
			if err := checkPlanFormat(format); err != nil {
				return exitError(ExitInvalid, usageError{err})
			}
			out := c.String("out")
			if err := checkPlanOut(out, args[0]); err != nil {
				return exitError(ExitInvalid, usageError{err})
			}
			digestFile := c.String("digest-file")
			if digestFile != "" && out == "" {
				return exitError(ExitInvalid, usageError{errors.New("plan: --digest-file needs -o: the digest names a saved plan file")})
			}
			if digestFile != "" && (sameFile(digestFile, args[0]) || sameFile(digestFile, out)) {
				return exitError(ExitInvalid, usageError{fmt.Errorf("plan: --digest-file %s would overwrite the manifest or the plan file", digestFile)})
			}
			if err := checkDigestFile(digestFile); err != nil {
				return exitError(ExitInvalid, usageError{err})
			}
			if err := setTimeouts(c); err != nil {
				return exitError(ExitInvalid, usageError{err})
			}
			defer tunePlanRuntime(os.Getenv)()
			fleet, err := loadManifest(c, args[0])
			if err != nil {
				return exitError(ExitInvalid, err)
			}
			reg := products.Registry()
			// Reads take tokens from the same per-(account, action) buckets as apply, so a plan
			// of a large fleet never trips the clouds' rate limits.
			limiter := executor.NewLimiter(reg, planner.ResolveSettings(fleet.Settings), executor.LimiterOptions{Lump: executor.PlanLump,
				SharedBuckets: executor.SharedBuckets(planner.Accounts(fleet), os.Getenv)})
			p, err := planner.Build(c.Context, fleet, reg, planner.Options{
				Doer:         limiter,
				Getenv:       os.Getenv,
				Now:          time.Now,
				ToolVersion:  versionString(),
				ManifestPath: args[0],
			})
			var problems planner.Problems
			if errors.As(err, &problems) {
				return exitError(ExitInvalid, problems.Manifest())
			}
			if err != nil {
				return exitError(ExitInvalid, fmt.Errorf("plan %s: %w", args[0], err))
			}
			// One encoding of the plan: the file's when it is saved (setting the digest),
			// otherwise the digest alone; --format json encodes it again to stdout.
			if out == "" {
				if p.Digest, err = planner.ComputeDigest(p); err != nil {
					return exitError(ExitInvalid, err)
				}
			}
			if out != "" {
				if err := planner.WriteFile(out, p); err != nil {
					return exitError(ExitInvalid, fmt.Errorf("plan: write %s: %w", out, err))
				}
				if digestFile != "" {
					if err := planner.WriteDigestFile(digestFile, p.Digest); err != nil {
						return exitError(ExitInvalid, fmt.Errorf("plan: write %s: %w", digestFile, err))
					}
				}
			} else if format != "json" {
				fmt.Fprintln(c.App.ErrWriter, "upgradeplan: the plan was not saved; -o FILE saves it for apply")
			}
			if err := renderPlan(c.App.Writer, p, nil, format, out); err != nil {
				return exitError(ExitInvalid, err)
			}
			printWarnings(c, planner.Warnings(p, reg, time.Now(), 0))
			if c.Bool("detailed-exitcode") && len(p.Steps) > 0 {
				return exitError(ExitFailed, nil)
			}
			return nil
		},
	}
}

// checkPlanOut refuses an -o that would overwrite the manifest being read, that is a
// format word (`plan -o json`, a kubectl habit, would save a plan file named json), that is
// "-" (standard output is where --format prints; --format json without -o prints the plan
// file there), or that is no file a plan can be written to (planner.OutputPath: a directory,
// a device, a FIFO), before any live state is read.
func checkPlanOut(out, manifestPath string) error {
	if out == "" {
		return nil
	}
	for _, f := range planFormats {
		if out == f {
			return fmt.Errorf("plan: -o %s would write a plan file named %q; -o names the file to save, --format %s picks what is printed", out, out, out)
		}
	}
	if out == "-" {
		return errors.New(`plan: -o - would write a plan file named "-"; -o names the file to save: to print the plan file on standard output, leave -o out and use --format json`)
	}
	if sameFile(out, manifestPath) {
		return fmt.Errorf("plan: -o %s is the manifest plan reads; writing the plan there would overwrite it: name another file, e.g. -o plan.json", out)
	}
	if _, err := planner.OutputPath(out); err != nil {
		return fmt.Errorf("plan: -o %w", err)
	}
	return nil
}

// checkDigestFile refuses a --digest-file of "-" and one that is no file the digest can be
// written to, as checkPlanOut does for -o.
func checkDigestFile(path string) error {
	if path == "" {
		return nil
	}
	if path == "-" {
		return errors.New(`plan: --digest-file - would write a file named "-"; name a file, e.g. --digest-file plan.digest (the digest is also the plan file's "digest" field)`)
	}
	if _, err := planner.OutputPath(path); err != nil {
		return fmt.Errorf("plan: --digest-file %w", err)
	}
	return nil
}

// sameFile reports whether a and b name one file (the same path, or the same inode).
func sameFile(a, b string) bool {
	if absA, errA := filepath.Abs(a); errA == nil {
		if absB, errB := filepath.Abs(b); errB == nil && absA == absB {
			return true
		}
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

func checkPlanFormat(format string) error {
	for _, f := range planFormats {
		if f == format {
			return nil
		}
	}
	return fmt.Errorf("unknown --format %q: use %s", format, strings.Join(planFormats, ", "))
}

// renderPlan prints p in format; json prints file, the plan file's bytes as read, or p
// encoded when file is nil.
func renderPlan(w io.Writer, p *planner.Plan, file []byte, format, planPath string) error {
	switch format {
	case "markdown":
		return render.PlanMarkdown(w, p, planPath)
	case "json":
		if file == nil {
			return planner.Encode(w, p)
		}
		_, err := w.Write(file)
		return err
	default:
		return render.PlanText(w, p, planPath)
	}
}
