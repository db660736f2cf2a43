package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/upgradeplan/upgradeplan/internal/peakrss"
)

// startProfiles starts the hidden profiling hooks for measuring the tool itself (bench/):
// UPGRADEPLAN_CPUPROFILE=path writes a CPU profile of the whole command to path.<command>,
// UPGRADEPLAN_MEMPROFILE=path a heap profile to path.<command> at its end and one to
// path.<command>.peak whenever the heap in use reached a new peak (looked at every second).
// UPGRADEPLAN_PEAKRSS=path writes the process's own peak RSS to path as the command ends
// (internal/peakrss: the rusage a parent reads is not the child's alone).
// The returned func ends them.
func startProfiles(command string) func() {
	cpu, mem := os.Getenv("UPGRADEPLAN_CPUPROFILE"), os.Getenv("UPGRADEPLAN_MEMPROFILE")
	if cpu == "" && mem == "" {
		return writePeakRSS
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
		writePeakRSS()
	}
}

// writePeakRSS is the UPGRADEPLAN_PEAKRSS hook.
func writePeakRSS() {
	if err := peakrss.WriteIfAsked(); err != nil {
		fmt.Fprintln(os.Stderr, "upgradeplan: peak rss:", err)
	}
}

func writeHeapProfile(path string) {
	if f, err := os.Create(path); err == nil {
		pprof.WriteHeapProfile(f)
		f.Close()
	}
}
