package main

import (
	"fmt"
	"time"
)

// profile is one named workload of `make bench` and the targets it is held to.
type profile struct {
	name      string
	mix       mix
	timeScale float64
	// planFaults is the faults file of the simulator plan reads from; faults that of the
	// simulator apply runs against (both start from the same state file: plan changes
	// nothing). They differ only in the error rules: a 5xx on a Compute Nest DryRun
	// preflight fails the plan by design, so errors start with apply.
	planFaults, faults string
	seed               uint64
	spread             float64       // durationSpread "*"
	latMin             time.Duration // the fastest request of the latency rule (0: none)
	maxPolling         float64
	// planTargets: whether plan CPU/RSS/read calls are held to their targets here, and which.
	planCPU   time.Duration
	planRSS   int64
	planReads int // 0: not a target
	describe  string
}

// realisticFaults: every request takes 50–300 ms (uniform, 30% of it on the way in, so
// requests sent evenly can arrive bunched), every upgrade 50–150% of its typical time,
// and 1% of calls fail: 0.4% InternalError before anything happens, 0.3% a 503 after the
// change was made, 0.3% a dropped connection after the change was made.
const realisticSpreads = `seed: 15
latencies:
  - {product: "*", action: "*", min: 50ms, max: 300ms, inbound: 0.3}
durationSpread: {"*": 0.5}
`

const realisticErrors = `rules:
  - {rate: 0.004, fault: internal-error}
  - {rate: 0.003, fault: unavailable, apply: true}
  - {rate: 0.003, fault: drop}
`

var idealMix = mix{kafka: 90, mongo: 250, rabbit: 250, nest: 500, nestChange: 25, redisChange: 300, redisSame: 1110,
	kafkaCanary: 1, parallelism: 2000}

var realisticMix = mix{kafka: 90, mongo: 100, rabbit: 100, nest: 500, nestChange: 100, redisChange: 150, redisSame: 850,
	bigRedis: 5000, kafkaCanary: 1, dependsOn: true, parallelism: 50, pollInterval: 25 * time.Millisecond}

func profiles() []profile {
	large := idealMix.scaled(10)
	large.parallelism, large.qpsFactor = 20000, 10
	return []profile{
		{name: "ideal", mix: idealMix, timeScale: 600, maxPolling: 0.05,
			planCPU: 2 * time.Second, planRSS: 200 << 20, planReads: 200,
			describe: "today's workload, bound by the rate caps: parallelism 2,000, no latency, every upgrade exactly its typical time, no faults, the default 15 s poll interval at 600× (150 simulated minutes between slow polls)."},
		{name: "realistic", mix: realisticMix, timeScale: 600, maxPolling: 0.10,
			planFaults: realisticSpreads, faults: realisticSpreads + realisticErrors, seed: 15, spread: 0.5, latMin: 50 * time.Millisecond,
			describe: "parallelism 50; every request 50–300 ms (uniform, seeded, 30% of it before the server sees it); upgrade durations 50–150% of the typical time (seeded per instance); pollInterval 25 ms, which at 600× is 15 simulated seconds (its real-world meaning); rabbit-X dependsOn mongo-X and cache-tc-a-guangzhou on cache-tc-a-shanghai; cache-tc-a-shanghai has 5,000 instances; 20% of Compute Nest instances change; 1% of apply's calls fail (0.4% InternalError, 0.3% 503 after the change was made, 0.3% dropped after the change was made)."},
		{name: "large", mix: large, timeScale: 600, maxPolling: 0.05,
			planCPU: 3 * time.Second, planRSS: 300 << 20,
			describe: "the ideal mix ×10 (100,000 instances), every cap ×10 in the simulator and settings.qps so the bound stays near 90 s, parallelism 20,000."},
	}
}

func findProfile(name string) (profile, error) {
	for _, p := range profiles() {
		if p.name == name {
			return p, nil
		}
	}
	return profile{}, fmt.Errorf("unknown profile %q (ideal, realistic, large)", name)
}

// baselineSize is the instance count of the realistic workload the Terraform-style
// baseline and upgradeplan both run on.
const baselineSize = 2000

// atSize is p's workload scaled to about n instances.
func (p profile) atSize(n int) profile {
	full := generate(p.mix).instances
	p.mix = p.mix.scaled(float64(n) / float64(full))
	return p
}
