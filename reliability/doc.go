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
//
// The plan file fuzz target lives with the plan format (planner.FuzzDecode), the manifest one
// with the manifest (manifest.FuzzParse).
//
// Every test prints the seed it used; REL_SEED=N reruns the crash test with the same kill
// points.
package reliability
