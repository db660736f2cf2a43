package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/manifest"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check fleet manifests against the schema and the rules between fields",
		ArgsUsage: "FLEET.yaml... (- reads standard input)",
		Description: "Reports every problem of every file at once, sorted by position, one per line as\n" +
			"   FILE:LINE:COL: PATH: MESSAGE\n" +
			"and prints \"FILE: valid\" for each valid file. Exit 0 when all are valid, 1 otherwise.\n" +
			"   - reads a manifest from standard input (named <stdin> in positions).\n" +
			"   --format github prints each problem as a GitHub Actions ::error annotation on stdout;\n" +
			"   --format json prints {\"valid\", \"files\", \"problems\": [{file, line, column, path, message}]}.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, github (Actions annotations) or json"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return exitError(ExitInvalid, usageError{errors.New("validate: name at least one manifest file")})
			}
			format := c.String("format")
			if err := checkValidateFormat(format); err != nil {
				return exitError(ExitInvalid, usageError{err})
			}
			var all manifest.Problems
			var files []validateResult
			for _, file := range c.Args().Slice() {
				_, err := loadManifest(c, file)
				name := file
				if file == "-" {
					name = stdinName
				}
				var problems manifest.Problems
				switch {
				case err == nil:
					files = append(files, validateResult{File: name, Valid: true})
					if format != "json" {
						fmt.Fprintf(c.App.Writer, "%s: valid\n", name)
					}
					continue
				case errors.As(err, &problems):
					all = append(all, problems...)
				default:
					all = append(all, manifest.Problem{Pos: manifest.Pos{File: name}, Message: err.Error()})
				}
				files = append(files, validateResult{File: name})
			}
			all = all.Sort()
			switch format {
			case "json":
				if err := writeValidateJSON(c.App.Writer, files, all); err != nil {
					return exitError(ExitInvalid, err)
				}
				if len(all) > 0 {
					return exitError(ExitInvalid, nil)
				}
				return nil
			case "github":
				writeGitHubAnnotations(c.App.Writer, all)
			}
			if len(all) > 0 {
				return exitError(ExitInvalid, all)
			}
			return nil
		},
	}
}

// stdinName is the file name of a manifest read from standard input (`validate -`).
const stdinName = "<stdin>"

// loadManifest reads the manifest at path ("-": standard input), refusing a file of another
// kind by name (a plan file, a run record, a simulator state) instead of listing the schema
// errors such a file makes.
func loadManifest(c *cli.Context, path string) (*manifest.Fleet, error) {
	var data []byte
	var err error
	if path == "-" {
		path = stdinName
		data, err = io.ReadAll(io.LimitReader(c.App.Reader, manifest.MaxFileSize+1))
	} else {
		data, err = readLimited(path, manifest.MaxFileSize+1)
	}
	if err != nil {
		return nil, manifest.Problems{{Pos: manifest.Pos{File: path}, Message: "cannot read: " + unwrapPath(err).Error()}}
	}
	if msg := kindMismatch(path, data, kindManifest); msg != "" {
		return nil, manifest.Problems{{Pos: manifest.Pos{File: path}, Message: msg}}
	}
	return manifest.Parse(path, data)
}

// readLimited reads at most limit bytes of path, so /dev/zero or a huge file is never read
// whole.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func errTooManyArgs(c *cli.Context) error {
	return fmt.Errorf("%s takes no arguments, got %q", c.Command.Name, c.Args().Slice())
}
