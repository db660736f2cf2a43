package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// The scale curve (`make bench-scale`): the ideal mix at each size, every cap and the
// parallelism scaled with the size above 10,000 instances so the bound stays near 90 s.

type scalePoint struct {
	size int
	r    result
	err  error
}

func scaleProfile(n int) profile {
	p, _ := findProfile("ideal")
	p = p.atSize(n)
	f := float64(n) / 10000
	if f > 1 {
		p.mix.qpsFactor, p.mix.parallelism = f, int(2000*f)
	}
	p.name = fmt.Sprintf("scale-%d", n)
	p.planCPU, p.planReads = 0, 0
	return p
}

func runScale(ctx context.Context, bin string, sizes []int, keep bool) string {
	start := time.Now()
	var pts []scalePoint
	for _, n := range sizes {
		r, _, err := runProfile(ctx, bin, scaleProfile(n), keep, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: scale:", err)
		}
		pts = append(pts, scalePoint{n, r, err})
	}
	var sb strings.Builder
	sb.WriteString("## Scale curve (`make bench-scale`)\n\n")
	sb.WriteString(stamp(time.Since(start)))
	sb.WriteString("\nThe ideal mix at each size; above 10,000 instances every cap and the parallelism grow with the size so the bound stays near 90 s.\n\n")
	sb.WriteString("| instances | steps | plan CPU | plan RSS | plan calls | plan file | apply CPU / step | apply RSS | apply calls | makespan / bound | outcome | wall |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range pts {
		if p.err != nil {
			fmt.Fprintf(&sb, "| %d | – | failed: %v |||||||||\n", p.size, p.err)
			continue
		}
		r := p.r
		perStep := time.Duration(0)
		if r.steps > 0 {
			perStep = r.apply.cpu / time.Duration(r.steps)
		}
		fmt.Fprintf(&sb, "| %d | %d | %s | %s | %d | %s | %.3f ms | %s | %d | %s / %s | %s | %s |\n",
			r.instances, r.steps, secs(r.plan.child.cpu), mb(r.plan.child.maxRSS), len(r.plan.calls), mb(r.plan.fileSize),
			float64(perStep)/1e6, mb(r.apply.maxRSS), r.applyCalls, secs(r.makespan), secs(r.bound.total), r.outcome, r.wall.Round(time.Second))
	}
	return sb.String()
}
