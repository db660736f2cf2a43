// Command bench is `make bench`: for each named profile (profile.go) it generates a
// simulator state and a matching fleet, plans the fleet against `upgradeplan sim` and
// applies the plan against a fresh simulator with the same state (plan changes nothing;
// the apply's simulator adds the profile's error faults), running `upgradeplan plan` and
// `upgradeplan apply` as child processes of the built binary (CPU seconds and peak RSS
// come from their rusage). It reads the simulator's call log (/_sim/calls), its applied
// record (/_sim/applied) and the run record, and prints one table per profile against the
// targets of docs/design.md ("Targets that the benchmarks and tests hold"). Beside them it runs
// a Terraform-style baseline (baseline.go) and upgradeplan on the realistic workload at
// 2,000 instances. Every section is written to bench/RESULTS.md with its workload, date
// and commit; sections not run this time are kept.
//
// Missed targets are reported, not fatal: bench exits non-zero for them only with -strict.
//
// With -state postgres every profile's plan is applied a second time with `--state
// postgres://…` into a PostgreSQL the bench starts (state.go), beside the run directory.
//
// Usage: go run ./bench -bin bin/upgradeplan [-profiles ideal,realistic,large] [-baseline=false]
//
//	[-scale 1000,10000,50000,100000 [-plan-only]] [-state postgres [-repeat N]] [-out bench/RESULTS.md] [-keep] [-strict]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	bin := flag.String("bin", "bin/upgradeplan", "the upgradeplan binary to measure")
	out := flag.String("out", "bench/RESULTS.md", "where to write the results (empty: do not write)")
	keep := flag.Bool("keep", false, "keep the temporary directories (state, fleet, plan, run)")
	names := flag.String("profiles", "ideal,realistic,large", "comma-separated profiles to run (ideal, realistic, large; empty for none)")
	baseline := flag.Bool("baseline", true, "also run the Terraform-style baseline beside upgradeplan (realistic workload, 2,000 instances)")
	scale := flag.String("scale", "", "comma-separated instance counts for the scale curve instead of the profiles, e.g. 1000,10000,50000,100000")
	flag.BoolVar(&scalePlanOnly, "plan-only", false, "with -scale: plan each size without applying it (the curve's plan columns, section scale-plan)")
	strict := flag.Bool("strict", false, "exit 1 when any target is missed")
	flag.StringVar(&stateMode, "state", "", "postgres: also apply each profile's plan with --state into a durable PostgreSQL on loopback and write the comparison (the \"postgres\" section)")
	flag.IntVar(&stateRepeat, "repeat", 1, "with -state postgres: apply each profile's plan this many times into each state (alternating)")
	flag.IntVar(&trySize, "size", 0, "scale every profile to about this many instances (a quick try; do not publish its numbers)")
	flag.Parse()
	keepLogs = *keep
	missed, err := run(*bin, *out, *names, *scale, *baseline, *keep)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	if len(missed) > 0 {
		fmt.Fprintf(os.Stderr, "bench: missed targets: %s\n", strings.Join(missed, "; "))
		if *strict {
			os.Exit(1)
		}
	}
}

// trySize is -size; scalePlanOnly is -plan-only.
var (
	trySize       int
	scalePlanOnly bool
)

func run(bin, resultsPath, names, scale string, baseline, keep bool) (missed []string, err error) {
	ctx := context.Background()
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s: build it first (make build): %w", bin, err)
	}
	bin, _ = filepath.Abs(bin)
	fresh := map[string]string{}
	save := func() error {
		if resultsPath == "" {
			return nil
		}
		if err := writeResults(resultsPath, fresh); err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "bench: wrote", resultsPath)
		return nil
	}
	if scale != "" {
		var sizes []int
		for _, s := range strings.Split(scale, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("-scale: %q is not an instance count", s)
			}
			sizes = append(sizes, n)
		}
		if scalePlanOnly {
			fresh["scale-plan"] = runScalePlan(ctx, bin, sizes, keep)
			fmt.Println(fresh["scale-plan"])
			return nil, save()
		}
		fresh["scale"] = runScale(ctx, bin, sizes, keep)
		fmt.Println(fresh["scale"])
		return nil, save()
	}
	var profs []profile
	for _, name := range strings.Split(names, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		p, err := findProfile(name)
		if err != nil {
			return nil, err
		}
		if trySize > 0 {
			p = p.atSize(trySize)
		}
		profs = append(profs, p)
	}
	var pg *pgBench
	switch stateMode {
	case "":
	case "postgres":
		if pg, err = startPG(); err != nil {
			return nil, err
		}
		defer pg.stop()
	default:
		return nil, fmt.Errorf("-state %q: want postgres (or nothing: the run directory only)", stateMode)
	}
	var stateRuns []stateRun
	stateStart := time.Now()
	for _, p := range profs {
		r, sr, err := runProfile(ctx, bin, p, keep, pg)
		if err != nil {
			return missed, err
		}
		fresh[p.name] = r.section()
		fmt.Println(fresh[p.name])
		for _, m := range r.missed() {
			missed = append(missed, p.name+": "+m)
		}
		if sr != nil {
			stateRuns = append(stateRuns, *sr)
			fresh["postgres"] = stateSection(stateRuns, time.Since(stateStart), "")
			fmt.Println(fresh["postgres"])
			missed = append(missed, sr.missed()...)
		}
		if err := save(); err != nil { // after each profile, so a long run keeps what it measured
			return missed, err
		}
	}
	if len(stateRuns) > 0 {
		fmt.Fprintln(os.Stderr, "bench: BenchmarkStepCost")
		fresh["postgres"] = stateSection(stateRuns, time.Since(stateStart), stepCost(ctx))
		fmt.Println(fresh["postgres"])
	}
	if baseline {
		c, err := runComparison(ctx, bin, keep)
		if err != nil {
			return missed, fmt.Errorf("baseline: %w", err)
		}
		fresh["baseline"] = c.section()
		fmt.Println(fresh["baseline"])
		if c.base.makespan <= c.ours.makespan {
			missed = append(missed, "baseline: upgradeplan is not faster than the Terraform-style executor")
		}
	}
	return missed, save()
}
