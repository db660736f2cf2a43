package sim

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// This file is the faults file's spreads: a seeded per-request latency drawn from a range
// (per product and action), and upgrade durations drawn from a spread around the state
// file's typical time. They make a workload look like a real fleet's: answers that take
// 50–300 ms and differ from call to call, upgrades that take a different time on every
// instance.
//
//	seed: 7
//	latencies:
//	  - {product: "*", action: "*", min: 50ms, max: 300ms, inbound: 0.3}
//	  - {product: redis, action: DescribeInstances, min: 80ms, max: 400ms}
//	durationSpread: {"*": 0.5}     # or per state key: {kafka: 0.5, redis: 0.2}
//
// A latency is drawn uniformly in [min, max] (real time, not scaled) for every request
// from the first rule that matches it; inbound (0 to 1, default 0) is the share spent on
// the request's way in, before the server sees it: the rate window and CallRecord.Time
// count from its arrival, so jitter on the way in can bunch requests sent evenly, as the
// internet does. The rest is spent on the answer's way back, after the action ran. Both
// are slept without the server lock.
//
// A duration spread s makes each upgrade take d × u, u drawn uniformly in [1 − s, 1 + s],
// d the state file's duration (or the product's default); the draw depends only on the
// seed, the state key, the instance and how many upgrades of it came before
// (SpreadDuration), so a tool's bound can be computed from the plan.

// latencyRule is one entry of the faults file's latencies.
type latencyRule struct {
	Product string        `yaml:"product"` // "" or "*" = any
	Action  string        `yaml:"action"`  // "" or "*" = any
	Min     time.Duration `yaml:"min"`
	Max     time.Duration `yaml:"max"`
	Inbound float64       `yaml:"inbound"`
}

// spreadsFile is the part of the faults file this file reads (inlined into faultsFile).
type spreadsFile struct {
	Latencies      []latencyRule      `yaml:"latencies"`
	DurationSpread map[string]float64 `yaml:"durationSpread"` // state key or "*" → s
}

// spreads is the parsed spreadsFile with its own seeded source, so adding spreads does not
// change which calls the fault rules hit.
type spreads struct {
	latencies []latencyRule
	durations map[string]float64
	seed      uint64
	rng       *rand.Rand
	upgrades  map[string]int // state key + "/" + instance → durations drawn so far
}

func parseSpreads(file spreadsFile, seed uint64) (*spreads, error) {
	sp := &spreads{latencies: file.Latencies, durations: file.DurationSpread, seed: seed,
		rng: rand.New(rand.NewPCG(seed^0x5851f42d4c957f2d, seed)), upgrades: map[string]int{}}
	for i, l := range file.Latencies {
		switch {
		case l.Min < 0 || l.Max < l.Min || l.Max == 0:
			return nil, fmt.Errorf("sim: faults: latencies[%d]: want 0 ≤ min ≤ max and max > 0, like {min: 50ms, max: 300ms}", i)
		case l.Inbound < 0 || l.Inbound > 1:
			return nil, fmt.Errorf("sim: faults: latencies[%d]: inbound %v is not between 0 and 1", i, l.Inbound)
		}
	}
	for k, s := range file.DurationSpread {
		if s < 0 || s >= 1 {
			return nil, fmt.Errorf("sim: faults: durationSpread: %s: %v is not in [0, 1)", k, s)
		}
	}
	return sp, nil
}

// delays draws the latency of one request: the part before the server sees it and the
// part after it answers.
func (sp *spreads) delays(product, action string) (in, out time.Duration) {
	for _, l := range sp.latencies {
		if !matches(l.Product, product) || !matches(l.Action, action) {
			continue
		}
		d := l.Min
		if l.Max > l.Min {
			d += time.Duration(sp.rng.Int64N(int64(l.Max-l.Min) + 1))
		}
		in = time.Duration(float64(d) * l.Inbound)
		return in, d - in
	}
	return 0, 0
}

// duration spreads an upgrade duration d of the state key's instance.
func (sp *spreads) duration(stateKey, instance string, d time.Duration) time.Duration {
	s, ok := sp.durations[stateKey]
	if !ok {
		s, ok = sp.durations["*"]
	}
	if !ok || s == 0 || instance == "" {
		return d
	}
	key := stateKey + "/" + instance
	n := sp.upgrades[key]
	sp.upgrades[key] = n + 1
	return SpreadDuration(sp.seed, stateKey, instance, n, d, s)
}

// SpreadDuration is the duration of the n-th (from 0) upgrade of an instance under a
// duration spread s with the faults file's seed: d × u, u uniform in [1 − s, 1 + s],
// computed from its arguments alone.
func SpreadDuration(seed uint64, stateKey, instance string, n int, d time.Duration, s float64) time.Duration {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%d", stateKey, instance, n)
	r := rand.New(rand.NewPCG(seed, h.Sum64()))
	return time.Duration(float64(d) * (1 - s + 2*s*r.Float64()))
}

// networkDelay draws a request's latency under the server lock (the draws share one
// source).
func (s *Server) networkDelay(c *call) (in, out time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.spreads.delays(c.rec.Product, c.rec.Action)
}
