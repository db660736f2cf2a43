package main

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite the expected output in testdata/script/*.txtar")

// TestMain lets the scripts run the real command line in a child process: "upgradeplan" in a
// script is this test binary calling run.
func TestMain(m *testing.M) {
	// Applies in tests keep their plan locks and ledgers out of the user's cache directory,
	// where another test run (or a real apply) on the same machine could hold them. Only in
	// the test process itself: this binary run as the upgradeplan command (by a script or
	// the doc tests) keeps the environment it was given, so its locks outlive the process.
	if filepath.Base(os.Args[0]) != "upgradeplan" && os.Getenv("UPGRADEPLAN_LOCK_DIR") == "" {
		if dir, err := os.MkdirTemp("", "upgradeplan-cmd-locks-"); err == nil {
			os.Setenv("UPGRADEPLAN_LOCK_DIR", dir)
		}
	}
	testscript.Main(m, map[string]func(){
		"upgradeplan": func() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar: each runs the command line and compares its
// stdout, stderr and exit code. go test ./cmd/upgradeplan -update rewrites their expectations.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// The examples, as a user runs them from the repository root.
			env.Setenv("EXAMPLES", mustAbs("../../examples"))
			// Plan locks and the applied-once ledger stay inside each script's work directory.
			env.Setenv("UPGRADEPLAN_LOCK_DIR", filepath.Join(env.WorkDir, ".locks"))
			return nil
		},
	})
}

func mustAbs(rel string) string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return wd + "/" + rel
}
