package main

import (
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// timeoutFlags are the flags plan and apply share: the connect and answer timeouts of every
// API request (provider.Timeouts: 5s and 10s unless UPGRADEPLAN_CONNECT_TIMEOUT and
// UPGRADEPLAN_ANSWER_TIMEOUT say otherwise). Fresh flags per command: a flag holds its value.
func timeoutFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "connect-timeout", Usage: "give up connecting to an API endpoint after `D` (default 5s, or $" + provider.ConnectTimeoutEnv + ")"},
		&cli.DurationFlag{Name: "answer-timeout", Usage: "give up waiting for an API's answer after `D` (default 10s, or $" + provider.AnswerTimeoutEnv + ")"},
	}
}

// maxPlanAgeFlag is show's and apply's --max-plan-age.
func maxPlanAgeFlag() cli.Flag {
	return &cli.DurationFlag{Name: "max-plan-age", Value: planner.DefaultMaxPlanAge, Usage: "warn about a plan older than `D` (default 7 days)"}
}

// setTimeouts passes --connect-timeout and --answer-timeout to every provider this process
// opens, through the variables the providers read.
func setTimeouts(c *cli.Context) error {
	for flag, env := range map[string]string{"connect-timeout": provider.ConnectTimeoutEnv, "answer-timeout": provider.AnswerTimeoutEnv} {
		if !c.IsSet(flag) {
			continue
		}
		d := c.Duration(flag)
		if d <= 0 {
			return fmt.Errorf("--%s %s: must be longer than zero", flag, d)
		}
		if err := os.Setenv(env, d.String()); err != nil {
			return err
		}
	}
	return nil
}

// printWarnings writes each warning to stderr as "upgradeplan: warning: ...".
func printWarnings(c *cli.Context, warnings []string) {
	for _, w := range warnings {
		fmt.Fprintf(c.App.ErrWriter, "upgradeplan: warning: %s\n", w)
	}
}

// planWarnings are the warnings show and apply print for a saved plan.
func planWarnings(c *cli.Context, p *planner.Plan, reg provider.Registry) []string {
	return planner.Warnings(p, reg, time.Now(), c.Duration("max-plan-age"))
}
