package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
	"github.com/upgradeplan/upgradeplan/provider/products"
)

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print a saved plan file (text, markdown or json)",
		ArgsUsage: "plan.json",
		Description: "Checks the plan first: a plan whose content does not match its digest (edited after it\n" +
			"   was made), of an unknown format, not in the exact form plan writes, or whose steps are not\n" +
			"   what their products build (a re-digested edit) is refused with exit 4. Warns about a\n" +
			"   closed or distant window, a plan older than --max-plan-age, and settings that stall.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, markdown or json"},
			maxPlanAgeFlag(),
		},
		Action: func(c *cli.Context) error {
			args, err := interspersedArgs(c)
			if err != nil {
				return exitError(ExitInvalid, usageError{err})
			}
			if len(args) != 1 {
				return exitError(ExitInvalid, usageError{fmt.Errorf("show: name one plan file, got %d arguments", len(args))})
			}
			format := c.String("format")
			if err := checkPlanFormat(format); err != nil {
				return exitError(ExitInvalid, usageError{err})
			}
			path := args[0]
			p, file, err := readPlan("show", path, products.Registry())
			if err != nil {
				return err
			}
			if err := renderPlan(c.App.Writer, p, file, format, path); err != nil {
				return err
			}
			printWarnings(c, planWarnings(c, p, products.Registry()))
			return nil
		},
	}
}

// readPlan reads and checks the plan at path for command (show, apply): a file of another
// kind is named (exit 1); a digest mismatch, an unknown format, a file not in the exact form
// plan writes, or steps that are not what their products build are refused (exit 4).
func readPlan(command, path string, reg provider.Registry) (*planner.Plan, []byte, error) {
	file, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, exitError(ExitInvalid, fmt.Errorf("%s: %w", command, err))
	}
	// A gzip-compressed plan (plan -o plan.json.gz) is read as the plan inside it.
	if file, err = planner.Gunzip(file); err != nil {
		return nil, nil, exitError(ExitInvalid, fmt.Errorf("%s: %s: %w", command, path, err))
	}
	if err := wrongKind(command, path, file, kindPlan); err != nil {
		return nil, nil, exitError(ExitInvalid, err)
	}
	p, err := planner.DecodeBytes(file)
	if err != nil && fileKind(file) != kindPlan {
		// No format_version: some other JSON, YAML, or nothing; not a damaged plan.
		if len(bytes.TrimSpace(file)) == 0 {
			err = errors.New("the file is empty")
		}
		return nil, nil, exitError(ExitInvalid, fmt.Errorf("%s: %s is not a plan file (the JSON that upgradeplan plan -o writes): %w", command, path, err))
	}
	if errors.Is(err, planner.ErrDigestMismatch) || errors.Is(err, planner.ErrFormatVersion) || errors.Is(err, planner.ErrNotStrict) {
		return nil, nil, exitError(ExitRefused, fmt.Errorf("%s: refusing %s: %w", command, path, err))
	}
	if err != nil {
		if notAPlan(err) {
			return nil, nil, exitError(ExitInvalid, fmt.Errorf("%s: %s is not a plan file (the JSON that upgradeplan plan -o writes): %w", command, path, err))
		}
		return nil, nil, exitError(ExitInvalid, fmt.Errorf("%s: %s: %w", command, path, err))
	}
	if err := planner.Recheck(p, reg); err != nil {
		return nil, nil, exitError(ExitRefused, fmt.Errorf("%s: refusing %s: %w", command, path, err))
	}
	return p, file, nil
}

// notAPlan reports whether a decoding error means the file is no plan at all (YAML, some
// other JSON, a truncated file) rather than a plan with a bad value.
func notAPlan(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typ) ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "json: unknown field")
}
