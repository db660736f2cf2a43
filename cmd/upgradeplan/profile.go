package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// startProfiles starts the hidden profiling hooks for measuring the tool itself (bench/):
// UPGRADEPLAN_CPUPROFILE=path writes a CPU profile of the whole command to path.<command>,
// UPGRADEPLAN_MEMPROFILE=path a heap profile to path.<command> at its end and one to
// path.<command>.peak whenever the heap in use reached a new peak (looked at every second).
// The returned func ends them.
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
	done, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		if mem == "" {
			return
		}
		var peak uint64
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak {
				peak = ms.HeapInuse
				writeHeapProfile(mem + "." + command + ".peak")
			}
		}
	}()
	return func() {
		close(done)
		<-watched
		if cf != nil {
			pprof.StopCPUProfile()
			cf.Close()
		}
		if mem != "" {
			runtime.GC()
			writeHeapProfile(mem + "." + command)
		}
	}
}

func writeHeapProfile(path string) {
	if f, err := os.Create(path); err == nil {
		pprof.WriteHeapProfile(f)
		f.Close()
	}
}
