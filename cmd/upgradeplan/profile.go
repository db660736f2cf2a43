package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiles starts the hidden profiling hooks for measuring the tool itself (bench/):
// UPGRADEPLAN_CPUPROFILE=path writes a CPU profile of the whole command to path.<command>,
// UPGRADEPLAN_MEMPROFILE=path a heap profile at its end. The returned func ends them.
func startProfiles(command string) func() {
	cpu, mem := os.Getenv("UPGRADEPLAN_CPUPROFILE"), os.Getenv("UPGRADEPLAN_MEMPROFILE")
	if cpu == "" && mem == "" {
		return func() {}
	}
	var cf *os.File
	if cpu != "" {
		f, err := os.Create(cpu + "." + command)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			cf = f
		} else {
			fmt.Fprintln(os.Stderr, "upgradeplan: cpu profile:", err)
		}
	}
	return func() {
		if cf != nil {
			pprof.StopCPUProfile()
			cf.Close()
		}
		if mem != "" {
			if f, err := os.Create(mem + "." + command); err == nil {
				runtime.GC()
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
	}
}
