package main

// This file is -state postgres: each profile's plan is applied twice on the same commit,
// into a run directory (the default state) and with `--state postgres://…` into a durable
// PostgreSQL on loopback (started the way internal/pgtest starts the tests' server, but with
// fsync and synchronous commits on, as in production), each against a fresh simulator with
// the same state and faults. The "postgres" section of RESULTS.md puts the two side by side;
// issue 16's target is a PostgreSQL makespan less than 5% above the run directory's on
// `realistic`.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/internal/pgtest"
)

// stateMode is -state: "" applies into a run directory only; "postgres" applies each
// profile's plan a second time with --state.
var stateMode string

// maxStateOverhead is issue 16's target: PostgreSQL adds less than 5% to the makespan.
const maxStateOverhead = 0.05

// pgBench is the PostgreSQL the bench applies into, one database per apply.
type pgBench struct {
	srv *pgtest.Server
	dbs int
}

func startPG() (*pgBench, error) {
	srv, err := pgtest.Run(pgtest.Options{Durable: true})
	if err != nil {
		return nil, fmt.Errorf("-state postgres: %w", err)
	}
	return &pgBench{srv: srv}, nil
}

func (p *pgBench) stop() { p.srv.Stop() }

// database creates a fresh database and returns its state URL (no password in it).
func (p *pgBench) database(profile string) (string, error) {
	p.dbs++
	name := fmt.Sprintf("bench_%s_%d", profile, p.dbs)
	if err := p.srv.CreateDatabase(name); err != nil {
		return "", err
	}
	return p.srv.URL(name), nil
}

// stateRepeat is -repeat: how many applies of each kind -state postgres makes per profile.
var stateRepeat = 1

// stateRun is one profile applied both ways, stateRepeat times each, alternating (the run
// directory first, as runProfile applies it), so a drift of the machine's load over the run
// weighs on both alike.
type stateRun struct {
	name      string
	steps     int
	local, pg []result
}

// compareStates applies the plan with --state and into a run directory in turn until each
// ran stateRepeat times; first is runProfile's apply into a run directory.
func compareStates(ctx context.Context, bin string, f files, p profile, pg *pgBench, w workload, pl planned, first result) (*stateRun, error) {
	sr := &stateRun{name: p.name, steps: first.steps, local: []result{first}}
	for len(sr.pg) < stateRepeat || len(sr.local) < stateRepeat {
		withPG := len(sr.pg) < len(sr.local)
		r, err := applyAgain(ctx, bin, f, p, w, pl, fmt.Sprint(len(sr.local)+len(sr.pg)), pg, withPG)
		if err != nil {
			return nil, err
		}
		kind := "a run directory"
		if withPG {
			kind = "--state postgres"
			sr.pg = append(sr.pg, r)
		} else {
			sr.local = append(sr.local, r)
		}
		fmt.Fprintf(os.Stderr, "bench: %s: makespan into %s %.1f s\n", p.name, kind, r.makespan.Seconds())
	}
	return sr, nil
}

// applyAgain applies the plan once more against a fresh simulator: with --state into a
// fresh database (only the reports land in its run directory), or into a run directory of
// its own with a lock directory of its own (a ledger applies a plan once).
func applyAgain(ctx context.Context, bin string, f files, p profile, w workload, pl planned, label string, pg *pgBench, withPG bool) (result, error) {
	g := f
	g.run = filepath.Join(f.dir, "run-"+label)
	extra := []string{"UPGRADEPLAN_LOCK_DIR=" + filepath.Join(f.dir, "locks-"+label)}
	var more []string
	if withPG {
		url, err := pg.database(p.name)
		if err != nil {
			return result{}, err
		}
		more, extra = []string{"--state", url}, pg.srv.Env()
	}
	out, err := runApplyWith(ctx, bin, g, p, "apply-"+label+".log", extra, more...)
	if err != nil {
		return result{}, err
	}
	if out.child.exit != 0 {
		fmt.Fprintf(os.Stderr, "bench: %s: apply exited %d (%s); see %s (-keep keeps it)\n", p.name, out.child.exit, out.rec.Outcome.Result, out.log)
	}
	return measure(p, w, pl, out), nil
}

func total(rs []result) (d time.Duration) {
	for _, r := range rs {
		d += r.makespan
	}
	return d
}

// overhead is what PostgreSQL adds to the makespan: Σ pg / Σ run directory - 1.
func (s stateRun) overhead() float64 {
	return total(s.pg).Seconds()/total(s.local).Seconds() - 1
}

func (s stateRun) missed() []string {
	var out []string
	if s.name == "realistic" && s.overhead() >= maxStateOverhead {
		out = append(out, fmt.Sprintf("postgres: the PostgreSQL state adds %.1f%% to the makespan (target < 5%%)", 100*s.overhead()))
	}
	for _, r := range s.pg {
		if !r.appliedOK() {
			out = append(out, "postgres: not exactly one applied change per planned change with --state")
			break
		}
	}
	return out
}

// stateSection is the "postgres" section: the profiles' makespans both ways, then cost, the
// BenchmarkStepCost table (stepcost.go; "" while the profiles run).
func stateSection(runs []stateRun, took time.Duration, cost string) string {
	var sb strings.Builder
	sb.WriteString("## The PostgreSQL run state beside the run directory (`-state postgres`)\n\n")
	sb.WriteString(stamp(took))
	sb.WriteString("\nEach profile's plan applied into each state in turn on the same commit (with -repeat N, N times each, alternating: directory, PostgreSQL, directory, …), each against a fresh simulator with the same state and faults: into a run directory (the default state: journal fsynced by group commit) and with `--state postgres://…` into a PostgreSQL on loopback (Debian's server, initdb into a temporary directory, fsync and synchronous commits on; one transaction per journal entry, instance leases and the plan's advisory lock). Target (issue 16): PostgreSQL adds less than 5% to the `realistic` makespan. The per-step cost of the state alone is BenchmarkStepCost (`go test -run '^$' -bench BenchmarkStepCost ./executor/pgstate`, below).\n\n")
	sb.WriteString("| profile | steps | makespan, run directory | makespan, PostgreSQL | Σ PostgreSQL / Σ directory | apply calls (dir / pg) | apply CPU per step (dir / pg) | outcome (dir / pg) | applied changes | target | |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, s := range runs {
		target, ok := "", ""
		if s.name == "realistic" {
			target, ok = "< 1.05", "ok"
			if s.overhead() >= maxStateOverhead {
				ok = "MISSED"
			}
		}
		list := func(rs []result, f func(result) string) string {
			var out []string
			for _, r := range rs {
				out = append(out, f(r))
			}
			return strings.Join(out, ", ")
		}
		span := func(r result) string { return secs(r.makespan) }
		calls := func(r result) string { return fmt.Sprint(r.applyCalls) }
		cpu := func(r result) string {
			return fmt.Sprintf("%.3f ms", float64(r.apply.cpu.Microseconds())/1000/float64(max(1, r.steps)))
		}
		applied := "every apply: exactly the planned changes"
		for _, r := range append(append([]result(nil), s.local...), s.pg...) {
			if !r.appliedOK() {
				applied = appliedString(r)
			}
		}
		fmt.Fprintf(&sb, "| %s | %d | %s | %s | %.3f | %s / %s | %s / %s | %s / %s | %s | %s | %s |\n", s.name, s.steps,
			list(s.local, span), list(s.pg, span), 1+s.overhead(), list(s.local, calls), list(s.pg, calls),
			list(s.local, cpu), list(s.pg, cpu), list(s.local, func(r result) string { return r.outcome }),
			list(s.pg, func(r result) string { return r.outcome }), applied, target, ok)
	}
	if cost != "" {
		sb.WriteString("\nWhat the state costs per step alone (its lease, six journal appends: four transitions, the intent and the result, and the release), on a loopback server:\n\n" + cost)
	}
	return sb.String()
}
