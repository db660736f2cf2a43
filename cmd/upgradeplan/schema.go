package main

import (
	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/schema"
)

func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:      "schema",
		Usage:     "print the fleet manifest's JSON Schema (draft 2020-12)",
		ArgsUsage: " ",
		Description: "Point an editor at it for completion and inline errors, e.g. with a first line\n" +
			"   # yaml-language-server: $schema=fleet.schema.json",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return exitError(ExitInvalid, usageError{errTooManyArgs(c)})
			}
			_, err := c.App.Writer.Write(schema.JSON())
			return err
		},
	}
}
