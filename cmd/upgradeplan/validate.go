package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/manifest"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check fleet manifests against the schema and the rules between fields",
		ArgsUsage: "FLEET.yaml...",
		Description: "Reports every problem of every file at once, sorted by position, one per line as\n" +
			"   FILE:LINE:COL: PATH: MESSAGE\n" +
			"and prints \"FILE: valid\" for each valid file. Exit 0 when all are valid, 1 otherwise.",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return exitError(ExitInvalid, usageError{errors.New("validate: name at least one manifest file")})
			}
			var all manifest.Problems
			for _, file := range c.Args().Slice() {
				_, err := manifest.Load(file)
				var problems manifest.Problems
				switch {
				case err == nil:
					fmt.Fprintf(c.App.Writer, "%s: valid\n", file)
				case errors.As(err, &problems):
					all = append(all, problems...)
				default:
					all = append(all, manifest.Problem{Pos: manifest.Pos{File: file}, Message: err.Error()})
				}
			}
			if len(all) > 0 {
				return exitError(ExitInvalid, all.Sort())
			}
			return nil
		},
	}
}

func errTooManyArgs(c *cli.Context) error {
	return fmt.Errorf("%s takes no arguments, got %q", c.Command.Name, c.Args().Slice())
}
