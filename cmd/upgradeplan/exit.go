package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/manifest"
)

// Exit codes (docs/design.md, "Exit codes"). They are mapped here and nowhere else.
const (
	ExitOK      = 0 // success; apply: every step succeeded or had nothing to do
	ExitInvalid = 1 // nothing was attempted: bad input, credentials, unreadable file; plan: error
	ExitFailed  = 2 // apply: a step failed or was skipped; plan --detailed-exitcode: changes present
	ExitStopped = 3 // apply stopped before finishing (window, failure budget, signal): resumable
	ExitRefused = 4 // the plan was refused (digest mismatch, unknown format, --expect-digest)
	ExitLocked  = 5 // another apply holds the plan's lock
)

// codedError carries an exit code through urfave/cli to run.
type codedError struct {
	code int
	err  error // nil: exit with code and print nothing
}

func (e *codedError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *codedError) Unwrap() error { return e.err }

// exitError makes a command's Action end the process with code. err is printed to stderr as
// "upgradeplan: ERR" (a manifest error: one problem per line, as FILE:LINE:COL: PATH: MESSAGE);
// a nil err prints nothing, for a command that has already said what happened
// (validate, plan --detailed-exitcode). Errors returned without exitError exit 1.
func exitError(code int, err error) error {
	return &codedError{code: code, err: err}
}

// usageError is a command line that cannot be parsed (unknown flag, missing argument).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// commandError marks an error as a subcommand's, so that a usage error points at that
// command's help rather than the whole program's.
type commandError struct {
	command string
	err     error
}

func (e *commandError) Error() string { return e.err.Error() }
func (e *commandError) Unwrap() error { return e.err }

// inCommand marks err (nil stays nil) as the error of the subcommand named command.
func inCommand(command string, err error) error {
	if err == nil {
		return nil
	}
	return &commandError{command: command, err: err}
}

// printExit prints err to stderr and returns the exit code it maps to.
func printExit(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	code := ExitInvalid
	var coded *codedError
	var exitCoder cli.ExitCoder
	switch {
	case errors.As(err, &coded):
		code = coded.code
		if coded.err == nil {
			return code
		}
	case errors.As(err, &exitCoder):
		code = exitCoder.ExitCode()
	}
	var problems manifest.Problems
	if errors.As(err, &problems) {
		// Editors and CI annotate FILE:LINE:COL lines; no prefix.
		fmt.Fprintln(stderr, problems.Error())
		return code
	}
	msg := strings.TrimRight(err.Error(), "\n")
	if msg == "" {
		return code
	}
	var usage usageError
	for _, line := range strings.Split(msg, "\n") {
		fmt.Fprintf(stderr, "upgradeplan: %s\n", line)
	}
	if errors.As(err, &usage) {
		help := "upgradeplan --help"
		var cmd *commandError
		if errors.As(err, &cmd) {
			help = "upgradeplan " + cmd.command + " --help"
		}
		fmt.Fprintf(stderr, "Run '%s' for usage.\n", help)
	}
	return code
}
