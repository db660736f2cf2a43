package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/upgradeplan/upgradeplan/cloudsim/amqp"
	"github.com/upgradeplan/upgradeplan/cloudsim/computenest"
	"github.com/upgradeplan/upgradeplan/cloudsim/dds"
	"github.com/upgradeplan/upgradeplan/cloudsim/kafka"
	"github.com/upgradeplan/upgradeplan/cloudsim/redis"
	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/planner"
)

// TestPlanScripts runs testdata/script/plan_sim/*.txtar against a simulator: a script with a
// sim-state.yaml file gets a simulator loaded with it, its endpoints and the demo
// credentials in the environment. Two commands are added:
//
//	exits N PROGRAM ARGS...   run PROGRAM and require exit status N (plan's 0/1/2, show's 4)
//	replace FILE OLD NEW      replace the first OLD in FILE with NEW (to tamper with a plan)
//	redigest FILE             give an edited plan a fresh digest
func TestPlanScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script/plan_sim",
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			state, err := os.ReadFile(filepath.Join(env.WorkDir, "sim-state.yaml"))
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			srv, err := sim.NewServer(state, sim.Options{}, kafka.New(), dds.New(), amqp.New(), computenest.New(), redis.New())
			if err != nil {
				return err
			}
			hs := httptest.NewServer(srv)
			env.Defer(hs.Close)
			addr := strings.TrimPrefix(hs.URL, "http://")
			for k, v := range map[string]string{
				"UPGRADEPLAN_ALIBABA_ENDPOINT":    addr,
				"UPGRADEPLAN_TENCENT_ENDPOINT":    addr,
				"ALIBABA_CLOUD_ACCESS_KEY_ID":     "demo-ak",
				"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "demo-sk",
				"TENCENTCLOUD_SECRET_ID":          "demo-id",
				"TENCENTCLOUD_SECRET_KEY":         "demo-key",
			} {
				env.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: exits N PROGRAM ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				var exitErr *exec.ExitError
				if err := ts.Exec(args[1], args[2:]...); errors.As(err, &exitErr) {
					got = exitErr.ExitCode()
				} else if err != nil {
					ts.Fatalf("%v", err)
				}
				if got != want {
					ts.Fatalf("%s exited %d, want %d", args[1], got, want)
				}
			},
			"replace": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 3 {
					ts.Fatalf("usage: replace FILE OLD NEW")
				}
				path := ts.MkAbs(args[0])
				data, err := os.ReadFile(path)
				ts.Check(err)
				if !strings.Contains(string(data), args[1]) {
					ts.Fatalf("%s does not contain %q", args[0], args[1])
				}
				ts.Check(os.WriteFile(path, []byte(strings.Replace(string(data), args[1], args[2], 1)), 0o644))
			},
			// redigest FILE: give an edited plan a fresh digest, as anyone who edits a plan
			// can, so that only the meaning of its content can refuse it.
			"redigest": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: redigest FILE")
				}
				path := ts.MkAbs(args[0])
				data, err := os.ReadFile(path)
				ts.Check(err)
				var p planner.Plan
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.UseNumber()
				ts.Check(dec.Decode(&p))
				ts.Check(planner.WriteFile(path, &p))
			},
		},
	})
}
