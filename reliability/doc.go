// Package reliability holds the end-to-end reliability suite of upgradeplan: tests that run
// the real command line (built once per test run) against the loopback simulator and assert
// what an operator would notice when things go wrong. It owns no production code.
//
// What the suite proves, each in its own test file:
//
//   - crash_test.go: a 500-instance apply killed with SIGKILL at 20 seeded points (before any
//     call, between a journaled intent and its result, while completion is polled) and
//     resumed after each kill upgrades every instance with exactly one mutating call per
//     change; the journal and run.json parse after every kill.
//   - torn_test.go: a journal whose last line was torn by a crash mid-write is resumed, and
//     can be resumed again after that.
//   - faults_test.go: 503s, throttles and answers dropped after the change was applied, on
//     reads and upgrades alike, still end with every step succeeded and one effective
//     upgrade per change.
//   - tamper_test.go: a plan file with one byte changed in a step's parameters, from/to,
//     depends_on or the settings is refused with exit 4 before anything is sent.
//   - credentials_test.go: an unknown access key or an unset {fromEnv} credential variable
//     fails fast with exit 1 and a message naming the problem, before any mutating call.
//   - secrets_test.go: a {fromEnv} parameter value is sent to the cloud but appears in no
//     plan file, run directory file or log line, also when the call fails.
//   - checker_test.go (with checker_run_test.go and checker_check_test.go): the randomized
//     checker. Seeded scenarios of a mixed fleet of all five kinds (chains, a canary,
//     dependsOn) against a simulator with visibility lag, lost answers, 5xx, throttles and
//     other actors changing instances, while the CLI is killed and resumed, applied a
//     second time concurrently, stopped with SIGTERM, cut off by its window or stopped by
//     its failure budget; the invariants are checked against the simulator's own applied
//     record (GET /_sim/applied): at most one applied change per planned change, every
//     change at its `to` or its record saying why, run.json agreeing with what was applied,
//     no call after a stop, journal and run.json always parsing, and a second apply of
//     the same plan refused (exit 5 while the first holds it, exit 4 once the plan was
//     applied in another run directory: a plan is applied once) without changing anything.
//     `make test` runs -checker.runs scenarios (6, about a minute with -race) from a fresh
//     seed; `make soak` runs them for -soak.duration (SOAK=30m, `SOAK=4h make soak`);
//     -checker.seed=N replays one; -checker.keep=DIR keeps a failing scenario's directory
//     (plans, journals, run.json) for a look.
//   - checker_pg_test.go: the same randomized checker with the PostgreSQL run state: every
//     segment of the main run is `apply plan.json --state URL` from a fresh working
//     directory holding only a copy of the plan (a runner elsewhere, killed with SIGKILL
//     and continued by the next), and the second apply is a second plan over the same
//     instances applied at once through the same database: zero double upgrades in the
//     simulator's applied record, every lease wait naming the other plan's step, every
//     step that gave up (InstanceLeased) naming its holder. -checker.pgruns scenarios (2)
//     in `make test`. Beside it, a step waiting past its stepTimeout for another plan's
//     lease fails naming the holder, having sent nothing.
//   - checker_shard_test.go: a scenario's fleet, one account per target, applied by four
//     shards at once (`--shard 0/4` … `3/4`, one working directory each) and by one runner
//     into a run directory: the merged `report --state --run` run.json, report.md and
//     junit.xml equal the one runner's after the normalisation the file describes
//     (times, segments, request and order ids, read buckets), and the shards' applied
//     changes are the plan's and the one runner's. -checker.shardruns scenarios (1) in
//     `make test`; `make soak` runs both kinds for SOAK_PG each after the local ones.
//   - pgstate_test.go: the PostgreSQL state's own end-to-end tests (take-over, exit 5
//     naming the holder, two plans, shards, the auditors' views).
//
// The plan file fuzz target lives with the plan format (planner.FuzzDecode), the manifest one
// with the manifest (manifest.FuzzParse).
//
// Every test prints the seed it used; REL_SEED=N reruns the crash test with the same kill
// points, -checker.seed=N one checker scenario (the same fleet, faults, kill and stop times;
// process scheduling may still differ).
package reliability
