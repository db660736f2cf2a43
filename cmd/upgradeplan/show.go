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
)

func showCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print a saved plan file (text, markdown or json)",
		ArgsUsage: "plan.json",
		Description: "Checks the plan's format version and digest first: a plan whose content does not match\n" +
			"   its digest (edited after it was made) or of an unknown format is refused with exit 4.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, markdown or json"},
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
			file, err := os.ReadFile(path)
			if err != nil {
				return exitError(ExitInvalid, fmt.Errorf("show: %w", err))
			}
			p, err := planner.Decode(bytes.NewReader(file))
			if errors.Is(err, planner.ErrDigestMismatch) || errors.Is(err, planner.ErrFormatVersion) {
				return exitError(ExitRefused, fmt.Errorf("show: refusing %s: %w", path, err))
			}
			if err != nil {
				if len(bytes.TrimSpace(file)) == 0 {
					err = errors.New("the file is empty")
				}
				if len(bytes.TrimSpace(file)) == 0 || notAPlan(err) {
					return exitError(ExitInvalid, fmt.Errorf("show: %s is not a plan file (the JSON that upgradeplan plan -o writes): %w", path, err))
				}
				return exitError(ExitInvalid, fmt.Errorf("show: %s: %w", path, err))
			}
			return renderPlan(c.App.Writer, p, file, format, path)
		},
	}
}

// notAPlan reports whether a decoding error means the file is no plan at all (YAML, some
// other JSON, a truncated file) rather than a plan with a bad value.
func notAPlan(err error) bool {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &syntax) || errors.As(err, &typ) ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "json: unknown field")
}
