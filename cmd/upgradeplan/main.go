// Command upgradeplan upgrades fleets of managed cloud instances from a reviewed plan: it
// validates a fleet manifest, plans the upgrade calls, applies them within rate limits, and
// reports what happened.
//
// This package owns the command line only: one file per subcommand (each a func returning
// *cli.Command, listed in commands), flag parsing, exit codes (exit.go) and signals. The work
// itself lives in the packages it calls.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/urfave/cli/v2"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// commands lists the subcommands. Add yours here: one entry, one file.
func commands() []*cli.Command {
	return []*cli.Command{
		validateCommand(),
		schemaCommand(),
		planCommand(),
		showCommand(),
		reportCommand(),
		applyCommand(),
		simCommand(),
		completionCommand(),
	}
}

// newApp builds the application; run is its only caller outside tests.
func newApp(stdout, stderr io.Writer) *cli.App {
	cmds := commands()
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = usageErrorHandler
		}
		if action := c.Action; action != nil {
			name := c.Name
			c.Action = func(ctx *cli.Context) error {
				defer startProfiles(name)()
				return inCommand(name, action(ctx))
			}
		}
	}
	return &cli.App{
		Name:                 "upgradeplan",
		Usage:                "plan and apply reviewed upgrades of managed cloud instances",
		Version:              versionString(),
		Commands:             cmds,
		EnableBashCompletion: true,
		Writer:               stdout,
		ErrWriter:            stderr,
		// run maps every error to an exit code; urfave must never call os.Exit itself.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   usageErrorHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return exitError(ExitInvalid, usageError{fmt.Errorf("unknown command %q", c.Args().First())})
			}
			return cli.ShowAppHelp(c)
		},
	}
}

// usageErrorHandler reports a flag that cannot be parsed in one line instead of the help text.
func usageErrorHandler(c *cli.Context, err error, _ bool) error {
	err = exitError(ExitInvalid, usageError{err})
	if c != nil && c.Command != nil && c.Command.Name != "" && c.Command.Name != c.App.Name {
		return inCommand(c.Command.Name, err)
	}
	return err
}

// signals turns SIGINT/SIGTERM into cancellation in two stages, as apply needs them: the first
// signal cancels Context (stop starting work, finish what is in flight, write reports); the
// second closes Second (exit at once, the journal intact). Commands other than apply only use
// the context.
type signals struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	second chan struct{}
	stop   func()
	done   chan struct{}
	once   sync.Once
}

// newSignals starts watching incoming; every value received counts as one signal. stop
// releases the watcher.
func newSignals(parent context.Context, incoming <-chan os.Signal, stop func()) *signals {
	ctx, cancel := context.WithCancelCause(parent)
	s := &signals{ctx: ctx, cancel: cancel, second: make(chan struct{}), stop: stop, done: make(chan struct{})}
	go s.watch(incoming)
	return s
}

// notifySignals watches the process's SIGINT and SIGTERM.
func notifySignals(parent context.Context) *signals {
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	return newSignals(parent, ch, func() { signal.Stop(ch) })
}

func (s *signals) watch(incoming <-chan os.Signal) {
	count := 0
	for {
		select {
		case <-s.done:
			return
		case sig := <-incoming:
			count++
			switch count {
			case 1:
				s.cancel(&interruptedError{sig: sig})
			case 2:
				close(s.second)
				return
			}
		}
	}
}

// Context is cancelled at the first signal; context.Cause names the signal.
func (s *signals) Context() context.Context { return s.ctx }

// Second is closed at the second signal.
func (s *signals) Second() <-chan struct{} { return s.second }

// Close stops watching; the context is cancelled.
func (s *signals) Close() {
	s.once.Do(func() {
		s.stop()
		close(s.done)
		s.cancel(context.Canceled)
	})
}

// interruptedError is the context cause after a signal.
type interruptedError struct{ sig os.Signal }

// Error names the signal as people know it: "interrupted (SIGINT)", "terminated (SIGTERM)".
func (e *interruptedError) Error() string {
	switch e.sig {
	case os.Interrupt:
		return "interrupted (SIGINT)"
	case syscall.SIGTERM:
		return "terminated (SIGTERM)"
	}
	return "stopped by signal " + e.sig.String()
}

type signalsKey struct{}

// signalsFrom returns the two-stage signal watcher that run attached to the command's
// context (c.Context). Only apply needs it; others just use c.Context.
func signalsFrom(ctx context.Context) *signals {
	s, _ := ctx.Value(signalsKey{}).(*signals)
	return s
}

// run runs the command line args (args[0] is the program name) and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	sig := notifySignals(context.Background())
	defer sig.Close()
	return runWith(context.WithValue(sig.Context(), signalsKey{}, sig), args, stdout, stderr)
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).RunContext(ctx, args)
	return printExit(stderr, err)
}
