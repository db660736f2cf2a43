package executor

// The executor at scale without a network: a lean fake product answering every request in
// O(1) per instance, so what BenchmarkApplyScale measures is the executor's own cost per
// step (scheduling, the step machine, the journal, the record, the progress counters).
// `make bench` runs it at 10,000 and 100,000 steps (issue 15: ≤ 0.2 ms CPU per step, the
// 100k figure within 1.2× of the 10k one, ≤ 600 MB RSS).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

const scaleKind = "scale.db"

// scaleCloud upgrades an instance at once: the first poll after the call shows it done.
type scaleCloud struct {
	fresh    bool // a new map for every observation, as a real product's answers are
	mu       sync.Mutex
	version  map[string]string
	observed map[string]provider.Values
	calls    int
	polls    int
}

func (c *scaleCloud) registry() provider.Registry {
	return provider.Registry{scaleKind: provider.Spec{
		Kind: scaleKind, Cloud: "fake", IdempotencyToken: true, VisibilityGrace: time.Second,
		Actions: []provider.ActionSpec{{Name: "Upgrade", Mutating: true, QPS: 1e6}, {Name: "List", QPS: 1e6}},
		New: func(cfg provider.Config) (provider.Provider, error) {
			return &scaleProvider{c: c, cfg: cfg}, nil
		},
	}}
}

// values is the observed version as Values, one shared map per version (read only), so
// that the fake's own allocations do not stand in for the executor's.
func (c *scaleCloud) values(version string) provider.Values {
	v, ok := c.observed[version]
	if !ok || c.fresh {
		v = provider.Values{"version": version}
		c.observed[version] = v
	}
	return v
}

type scaleProvider struct {
	c   *scaleCloud
	cfg provider.Config
}

func (p *scaleProvider) List(context.Context, provider.Selection) ([]provider.Instance, error) {
	return nil, nil
}

func (p *scaleProvider) Plan(context.Context, provider.Instance, provider.Desired) ([]provider.Change, error) {
	return nil, nil
}

func (p *scaleProvider) Apply(ctx context.Context, call provider.Call) (provider.Receipt, error) {
	req := provider.Request{Kind: scaleKind, Account: p.cfg.Account.Name, Region: p.cfg.Region, Action: call.Action, Mutating: true, Instance: call.Instance}
	var n int
	err := p.cfg.Doer.Do(ctx, req, func(context.Context) error {
		p.c.mu.Lock()
		defer p.c.mu.Unlock()
		p.c.calls++
		n = p.c.calls
		p.c.version[call.Instance], _ = call.Params["version"].(string)
		return nil
	})
	return provider.Receipt{RequestID: "req-" + strconv.Itoa(n)}, err
}

func (p *scaleProvider) Observe(ctx context.Context, ws []provider.Watch) ([]provider.Progress, error) {
	req := provider.Request{Kind: scaleKind, Account: p.cfg.Account.Name, Region: p.cfg.Region, Action: "List"}
	out := make([]provider.Progress, len(ws))
	err := p.cfg.Doer.Do(ctx, req, func(context.Context) error {
		p.c.mu.Lock()
		defer p.c.mu.Unlock()
		p.c.polls++
		for i, w := range ws {
			have := p.c.version[w.Instance]
			pr := provider.Progress{Instance: w.Instance, Observed: p.c.values(have), Status: "ready"}
			atTo, atFrom := have == w.To["version"], have == w.From["version"]
			switch {
			case atTo:
				pr.State = provider.StateDone
			case w.Started:
				pr.State = provider.StateFailed
			case atFrom:
				pr.State = provider.StatePending
			default:
				pr.State = provider.StateDrifted
			}
			out[i] = pr
		}
		return nil
	})
	return out, err
}

// scalePlan is n steps over four targets: "base" (1% canary, then the rest), "mid" and
// "top" depending on it (each half of the rest, mid with a canary wave too), and a tenth of
// top's instances get a second, chained step.
func scalePlan(tb testing.TB, n int) (*planner.Plan, *scaleCloud) {
	cloud := &scaleCloud{version: map[string]string{}, observed: map[string]provider.Values{}}
	targets := []planner.Target{
		{Name: "base", Kind: scaleKind, Region: "r1", Canary: 1},
		{Name: "mid", Kind: scaleKind, Region: "r1", DependsOn: []string{"base"}, Canary: 1},
		{Name: "top", Kind: scaleKind, Region: "r1", DependsOn: []string{"base"}},
	}
	steps := make([]planner.Step, 0, n)
	add := func(target, inst, from, to string, wave int, deps ...string) {
		steps = append(steps, planner.Step{ID: target + "/" + inst + "/" + to, Target: target, Instance: inst,
			Kind: scaleKind, Region: "r1", Action: "Upgrade", Params: map[string]any{"version": to},
			From: provider.Values{"version": from}, To: provider.Values{"version": to}, Wave: wave, DependsOn: deps})
	}
	for i := 0; len(steps) < n; i++ {
		inst := fmt.Sprintf("i-%07d", i)
		cloud.version[inst] = "1"
		switch {
		case i < n/3:
			add("base", inst, "1", "2", min(1, i/max(1, n/300)))
		case i < 2*n/3:
			add("mid", inst, "1", "2", min(1, (i-n/3)/max(1, n/300)))
		default:
			add("top", inst, "1", "2", 0)
			if i%10 == 0 && len(steps) < n {
				add("top", inst, "2", "3", 0, steps[len(steps)-1].ID)
			}
		}
	}
	p := &planner.Plan{FormatVersion: planner.FormatVersion, ToolVersion: "bench", CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Manifest: planner.Source{Path: "fleet.yaml", Name: "scale"}, Targets: targets, Steps: steps,
		Settings: planner.Settings{Parallelism: 5000, PollInterval: planner.Duration(time.Second), StepTimeout: planner.Duration(time.Hour)}}
	d, err := planner.ComputeDigest(p)
	if err != nil {
		tb.Fatal(err)
	}
	p.Digest = d
	return p, cloud
}

// readBack is p written to a plan file and read back, as `upgradeplan apply` reads it.
func readBack(tb testing.TB, p *planner.Plan) *planner.Plan {
	var file bytes.Buffer
	if err := planner.Encode(&file, p); err != nil {
		tb.Fatal(err)
	}
	back, err := planner.Decode(&file)
	if err != nil {
		tb.Fatal(err)
	}
	return back
}

// memPeak is the largest heap and goroutine-stack use seen while sampling.
type memPeak struct{ heap, stack, goroutines uint64 }

func sampleMem(p *memPeak) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > p.heap && os.Getenv("SCALE_HEAP_PROFILE") != "" {
				if f, err := os.Create(os.Getenv("SCALE_HEAP_PROFILE")); err == nil {
					pprof.WriteHeapProfile(f)
					f.Close()
				}
			}
			p.heap, p.stack = max(p.heap, ms.HeapInuse), max(p.stack, ms.StackInuse)
			p.goroutines = max(p.goroutines, uint64(runtime.NumGoroutine()))
			select {
			case <-t.C:
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxRSS() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

// scaleCPU is BenchmarkApplyScale's CPU per step (µs) by size, for the ratio.
var scaleCPU = map[int]float64{}

// BenchmarkApplyScale applies n steps against the fake product and reports the process
// CPU per step (user+system, the journal's fsyncs included; cpu-vs-10k is the 100k figure
// over the 10k one), the bytes allocated per step and held per step at the peak (heap in use
// and goroutine stacks), the peak RSS and the polls.
func BenchmarkApplyScale(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("steps=%d", n), func(b *testing.B) {
			var cpu time.Duration
			var polls int
			var alloc uint64
			var peak memPeak
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				plan, cloud := scalePlan(b, n)
				plan = readBack(b, plan) // as apply holds it: decoded from its file
				dir := b.TempDir()
				events := 0
				stopSampling := sampleMem(&peak)
				b.StartTimer()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				allocStart := ms.TotalAlloc
				start := cpuTime()
				rec, err := Apply(context.Background(), plan, Options{Registry: cloud.registry(), Out: dir + "/run", LockDir: dir + "/locks", Seed: 1,
					OnEvent: func(Event) { events++ }})
				cpu += cpuTime() - start
				runtime.ReadMemStats(&ms)
				alloc += ms.TotalAlloc - allocStart
				stopSampling()
				if err != nil {
					b.Fatal(err)
				}
				if rec.Outcome.ExitCode != ExitOK || rec.Counts[StatusSucceeded] != n {
					b.Fatalf("outcome %+v, counts %v", rec.Outcome, rec.Counts)
				}
				polls += cloud.polls
			}
			perStep := float64(cpu.Microseconds()) / float64(b.N*n)
			b.ReportMetric(perStep*1000, "cpu-ns/step")
			b.ReportMetric(float64(alloc)/float64(b.N*n), "alloc-B/step")
			// What a step holds at the peak: heap in use and goroutine stacks, over the steps.
			b.ReportMetric(float64(peak.heap+peak.stack)/float64(n), "peak-B/step")
			if base := scaleCPU[10_000]; n > 10_000 && base > 0 {
				// Issue 15: the cost per step at 100,000 within 1.2× of the cost at 10,000.
				ratio := perStep / base
				b.ReportMetric(ratio, "cpu-vs-10k")
				if ratio > 1.2 {
					b.Logf("MISSED: CPU per step at %d steps is %.2f× that at 10,000 (target ≤ 1.2×)", n, ratio)
				}
			}
			scaleCPU[n] = perStep
			b.ReportMetric(float64(maxRSS())/(1<<20), "maxrss-MB")
			b.ReportMetric(float64(polls)/float64(b.N), "polls/op")
			b.ReportMetric(float64(peak.heap)/(1<<20), "heap-MB")
			b.ReportMetric(float64(peak.stack)/(1<<20), "stacks-MB")
			b.ReportMetric(float64(peak.goroutines), "goroutines")
		})
	}
}

// BenchmarkJournal writes the entries of many steps at once, as a run does (each step's
// five in order: running, intent, result, accepted, succeeded); an intent's writer waits
// for it to be on disk. Reported: transitions per second, entries per fsync and fsyncs per
// step (issue 15: >= 5,000 transitions/s on this machine).
func BenchmarkJournal(b *testing.B) {
	j, err := openJournal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer j.close()
	b.SetParallelism(256) // 256 × GOMAXPROCS writers: steps in flight at parallelism 500 and more
	var n atomic.Int64
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for _, e := range stepEntries(fmt.Sprintf("target/instance-%06d", n.Add(1))) {
				if err := j.write(e); err != nil {
					b.Error(err)
					return
				}
			}
		}
	})
	el := time.Since(start)
	b.ReportMetric(float64(j.lines)/el.Seconds(), "transitions/s")
	b.ReportMetric(float64(j.lines)/float64(max(1, j.syncs)), "entries/fsync")
	b.ReportMetric(float64(j.syncs)/float64(b.N), "fsyncs/step")
}
