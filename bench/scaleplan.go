package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// runScalePlan is the plan side of the scale curve alone (`make bench-scale-plan`): each
// size's workload planned as in `make bench-scale`, without the apply, so the plan's
// columns can be measured in minutes. Its section is scale-plan.
func runScalePlan(ctx context.Context, bin string, sizes []int, keep bool) string {
	start := time.Now()
	var sb strings.Builder
	sb.WriteString("The ideal mix at each size, as in `make bench-scale` (above 10,000 instances every cap and the parallelism grow with the size), planned only. Bulk reads and kernel reads as bench/planreads.go counts them; the wall bound is the largest account's kernel reads at their cap.\n\n")
	sb.WriteString("| instances | steps | plan CPU | plan RSS | bulk reads | kernel reads | throttled | plan wall (bound) | plan file |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, n := range sizes {
		p := scaleProfile(n)
		pl, w, err := planOnly(ctx, bin, p, keep)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: scale-plan:", err)
			fmt.Fprintf(&sb, "| %d | – | failed: %v |||||||\n", n, err)
			continue
		}
		r := result{profile: p, instances: w.instances, byKind: w.byKind, steps: len(pl.plan.Steps), plan: pl}
		kernel, _ := kernelReads(pl.calls)
		bulk, throttled := 0, 0
		for _, c := range pl.calls {
			if c.throttled() {
				throttled++
			}
			if !c.kernelRead() && !c.dryRun() && !c.mutating() && !c.throttled() {
				bulk++
			}
		}
		fmt.Fprintf(&sb, "| %d | %d | %s | %s | %d | %d | %d | %s (%s) | %s |\n", r.instances, r.steps, secs(pl.child.cpu), mb(pl.child.maxRSS),
			bulk, kernel, throttled, secs(pl.child.wall), secs(planWallBound(r)), mb(pl.fileSize))
	}
	return "## Scale curve, plan side (`make bench-scale-plan`)\n\n" + stamp(time.Since(start)) + "\n" + sb.String()
}

// planOnly writes p's workload to a temporary directory and plans it.
func planOnly(ctx context.Context, bin string, p profile, keep bool) (planned, workload, error) {
	w, f, done, err := prepare(p, keep)
	if err != nil {
		return planned{}, w, err
	}
	defer done()
	fmt.Fprintf(os.Stderr, "bench: %s: %d instances; plan\n", p.name, w.instances)
	pl, err := runPlan(ctx, bin, f, p)
	return pl, w, err
}

// prepare generates p's workload and writes its files into a temporary directory, which
// done removes unless keep.
func prepare(p profile, keep bool) (w workload, f files, done func(), err error) {
	w = generate(p.mix)
	dir, err := os.MkdirTemp("", "upgradeplan-bench-"+p.name+"-")
	if err != nil {
		return w, files{}, nil, err
	}
	done = func() { os.RemoveAll(dir) }
	if keep {
		fmt.Fprintln(os.Stderr, "bench: keeping", dir)
		done = func() {}
	}
	if f, err = writeFiles(dir, w, p); err != nil {
		done()
		return w, files{}, nil, err
	}
	return w, f, done, nil
}
