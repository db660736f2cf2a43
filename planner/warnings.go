package planner

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/upgradeplan/upgradeplan/provider"
)

// Thresholds of Warnings.
const (
	// DefaultMaxPlanAge is how old a plan may be before show and apply warn: live state a
	// week old has likely moved on (`--max-plan-age` changes it).
	DefaultMaxPlanAge = 7 * 24 * time.Hour
	// FarWindow is how far ahead a window's start may be before a warning: a plan made for a
	// window more than a day away is likely meant for another one.
	FarWindow = 24 * time.Hour
	// SlowQPS is one call a minute: a bucket slower than that makes a step wait minutes.
	SlowQPS = 1.0 / 60
)

// Warnings are what a reviewer must hear about a plan that is valid but likely not what was
// meant: a window already closed or starting more than a day away, a plan older than
// maxAge (0: DefaultMaxPlanAge), a stepTimeout below a product's shortest operation, a qps
// under one call a minute. plan prints them, show and apply print them again.
func Warnings(p *Plan, reg provider.Registry, now time.Time, maxAge time.Duration) []string {
	var out []string
	if maxAge <= 0 {
		maxAge = DefaultMaxPlanAge
	}
	if w := p.Settings.Window; w != nil {
		last := w.End.Add(-time.Duration(w.Cutoff))
		switch {
		case !now.Before(last):
			out = append(out, fmt.Sprintf("the change window closed at %s (end %s minus cutoff %s): apply will start no step",
				last.Format(time.RFC3339), w.End.Format(time.RFC3339), time.Duration(w.Cutoff)))
		case w.Start.Sub(now) > FarWindow:
			out = append(out, fmt.Sprintf("the change window starts at %s, %s from now: apply waits until then; is this the window you meant?",
				w.Start.Format(time.RFC3339), roundDuration(w.Start.Sub(now))))
		}
	}
	if !p.CreatedAt.IsZero() {
		if age := now.Sub(p.CreatedAt); age > maxAge {
			out = append(out, fmt.Sprintf("the plan was made %s ago (%s), more than %s: live state may have moved on; run plan again (or raise --max-plan-age)",
				roundDuration(age), p.CreatedAt.Format(time.RFC3339), roundDuration(maxAge)))
		}
	}
	kinds := map[string]bool{}
	for _, s := range p.Steps {
		kinds[s.Kind] = true
	}
	for _, kind := range slices.Sorted(maps.Keys(kinds)) {
		if min := reg[kind].ShortestOperation; min > 0 && time.Duration(p.Settings.StepTimeout) < min {
			out = append(out, fmt.Sprintf("stepTimeout %s is shorter than the shortest %s upgrade (%s): every %s step will time out",
				time.Duration(p.Settings.StepTimeout), kind, min, kind))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(p.Settings.QPS)) {
		if q := p.Settings.QPS[key]; q < SlowQPS {
			out = append(out, fmt.Sprintf("qps %s is %g, under one call a minute: each of its requests may wait %s for a token",
				key, q, roundDuration(time.Duration(float64(time.Second)/q))))
		}
	}
	return out
}

// roundDuration prints a duration for people: days past two days, else to the minute or
// second.
func roundDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return d.Round(time.Minute).String()
	}
	return d.Round(time.Second).String()
}

// MissingEnv lists, sorted, every environment variable the plan needs that getenv does not
// have: the {fromEnv} of every step's parameters and of the accounts its steps use. apply
// calls it before sending anything, so a missing secret stops the run before the first
// call instead of failing its steps in the middle of it.
func MissingEnv(p *Plan, getenv func(string) string) []string {
	need := map[string]bool{}
	accounts := map[string]bool{}
	for _, s := range p.Steps {
		walkSecretRefs(map[string]any(s.Params), func(name string) { need[name] = true })
		if s.Account != "" {
			accounts[s.Account] = true
		}
	}
	for name := range accounts {
		a := p.Accounts[name]
		for _, ref := range []provider.SecretRef{a.KeyID, a.Secret} {
			if ref.FromEnv != "" {
				need[ref.FromEnv] = true
			}
		}
	}
	for _, n := range p.Settings.Notify {
		if n.URL.FromEnv != "" {
			need[n.URL.FromEnv] = true
		}
	}
	var missing []string
	for name := range need {
		if getenv(name) == "" {
			missing = append(missing, name)
		}
	}
	slices.Sort(missing)
	return missing
}
