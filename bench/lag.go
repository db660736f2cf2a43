package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/executor"
	"github.com/upgradeplan/upgradeplan/planner"
)

// This file is what the polls bought: per kind, the apply's observing calls by action
// (the judgement looks before a call and the completion checks after it share them: a
// list page serves both; a per-instance read before the instance's first upgrade call is
// a judgement, after it a check) and the completion lag of each step, from the moment
// the simulator finished the upgrade to the moment the run record says the step was seen
// done. Lag is what a poll saves: at parallelism that binds, every second of it holds a
// slot another step waits for.

// kindPolls is one kind's row.
type kindPolls struct {
	kind            string
	steps           int            // steps with an applied change matched to the simulator's record
	reads           map[string]int // action → calls (non-mutating)
	judged, checked int            // per-instance reads before / after the instance's first upgrade call
	lags            []time.Duration
	held, sumD      time.Duration // Σ (finished − started) of those steps; Σ D (duration + visibility lag)
	inbound         time.Duration // Σ (arrival at the simulator − started_at): the call's way in
	mutating        int
}

// pollBreakdown matches every applied change of the tool to its call (request id) and to
// its step (the n-th change of an instance is its n-th planned step), and returns a row
// per kind, sorted by kind.
func pollBreakdown(p profile, plan *planner.Plan, calls []call, applied []applied, rec *executor.Record) []kindPolls {
	kindOfProduct := map[string]string{}
	for kind := range stateKeyOf {
		kindOfProduct[productOf(kind)] = kind
	}
	rows := map[string]*kindPolls{}
	row := func(kind string) *kindPolls {
		if rows[kind] == nil {
			rows[kind] = &kindPolls{kind: kind, reads: map[string]int{}}
		}
		return rows[kind]
	}
	byReq := map[string]call{}
	firstCall := map[string]time.Time{} // product/instance → first upgrade call's arrival
	for _, c := range calls {
		if c.mutating() {
			byReq[c.RequestID] = c
			k := c.Product + "/" + c.Instance
			if t, ok := firstCall[k]; !ok || c.Time.Before(t) {
				firstCall[k] = c.Time
			}
		}
	}
	for _, c := range calls {
		kind := kindOfProduct[c.Product]
		if kind == "" || c.mutating() {
			if kind != "" {
				row(kind).mutating++
			}
			continue
		}
		r := row(kind)
		r.reads[c.Action]++
		if c.Instance == "" {
			continue
		}
		if t, ok := firstCall[c.Product+"/"+c.Instance]; ok && c.Time.After(t) {
			r.checked++
		} else {
			r.judged++
		}
	}
	durs := stepDurations(p, plan)
	stepsOf := map[string][]int{} // product/instance → its steps in plan order
	for i, s := range plan.Steps {
		k := productOf(s.Kind) + "/" + s.Instance
		stepsOf[k] = append(stepsOf[k], i)
	}
	nth := map[string]int{}
	for _, a := range applied {
		if a.Actor != "" {
			continue
		}
		k := a.Product + "/" + a.Instance
		n := nth[k]
		nth[k] = n + 1
		c, ok := byReq[a.RequestID]
		if !ok || n >= len(stepsOf[k]) {
			continue
		}
		i := stepsOf[k][n]
		sr := rec.Steps[i]
		if sr.Status != executor.StatusSucceeded || sr.StartedAt == nil || sr.FinishedAt == nil {
			continue
		}
		visible := time.Duration(float64(a.VisibleAt.Sub(a.AcceptedAt)) / p.timeScale)
		d := durs[i] - p.latMin + visible
		r := row(plan.Steps[i].Kind)
		r.steps++
		r.lags = append(r.lags, sr.FinishedAt.Sub(c.Time.Add(d)))
		r.held += sr.FinishedAt.Sub(*sr.StartedAt)
		r.sumD += d
		r.inbound += c.Time.Sub(*sr.StartedAt)
	}
	var out []kindPolls
	for _, r := range rows {
		sort.Slice(r.lags, func(i, j int) bool { return r.lags[i] < r.lags[j] })
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].kind < out[j].kind })
	return out
}

// pollTable renders the breakdown.
func pollTable(rows []kindPolls) string {
	var sb strings.Builder
	sb.WriteString("| kind | upgrade calls | observing calls by action | per-instance reads before / after the first call | lag median / p90 / mean | slot time − D, per step |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		var acts []string
		for _, a := range sortedKeys(r.reads) {
			acts = append(acts, fmt.Sprintf("%s %d", a, r.reads[a]))
		}
		lag := "–"
		extra := "–"
		if n := len(r.lags); n > 0 {
			var sum time.Duration
			for _, l := range r.lags {
				sum += l
			}
			lag = fmt.Sprintf("%s / %s / %s", ms(r.lags[n/2]), ms(r.lags[n*9/10]), ms(sum/time.Duration(n)))
			extra = fmt.Sprintf("%s (way in %s)", ms((r.held-r.sumD)/time.Duration(n)), ms(r.inbound/time.Duration(n)))
		}
		fmt.Fprintf(&sb, "| %s | %d | %s | %d / %d | %s | %s |\n", r.kind, r.mutating, strings.Join(acts, ", "), r.judged, r.checked, lag, extra)
	}
	return sb.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }
