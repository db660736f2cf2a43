package main

// notes is the explanation RESULTS.md carries under the table.
const notes = `
## Workload

10,000 instances in four accounts (ali-a, ali-b on Alibaba; tc-a, tc-b on Tencent) and two
regions per cloud; one target per (kind, account, region), 20 in all, each selecting by tag.
Per (account, region):

- alibaba.kafka: 90 instances 0.10.2 → 2.2.0, canary 1. Each Alibaba account's
  UpgradeInstanceVersion bucket (documented cap 2/s) carries 180 calls: about 90 s, the
  longest bucket, so the run is bound by a rate cap.
- tencent.redis: 300 instances 4096 MB × 2 shards × 2 replicas → 8192 MB × 4 × 3 (three
  chained UpgradeInstance steps each: 1,800 calls per account at 20/s, about 90 s), and 1,110
  instances already at those sizes (read, no step).
- alibaba.mongodb and alibaba.rabbitmq: 250 instances each (500 calls per account at the
  default 10/s, about 50 s).
- alibaba.computenest: 500 instances, 25 at version 2 (the rest already at 3). Every Compute
  Nest change costs a DryRun preflight in plan (DESIGN.md), rate-limited at 10/s per account,
  so the mix keeps those changes few.

The simulator runs at 600× (durations: kafka, mongodb, computenest 20 min → 2 s; rabbitmq,
redis 10 min → 1 s). settings.parallelism is 2,000, so that the number of steps in flight does
not bind before the rate caps do; settings.pollInterval is the default 15 s.

## How the numbers are taken

- plan and apply run as child processes of the built binary; CPU is the child's rusage
  user + system time, peak RSS its ru_maxrss.
- Read calls, DryRun preflights, throttling answers and mutating calls come from the
  simulator's own log (GET /_sim/calls): plan calls are those logged before apply started.
- Makespan is run.json finished_at − started_at (refresh included).
- Polling share is run.json's polls (calls made to observe completion, summed over buckets)
  divided by every call the simulator received during apply.
- Mutating calls per change: the simulator's upgrade calls (Compute Nest DryRun excluded)
  per instance, divided by that instance's planned steps.
- Lower bound: see lowerBound in bench/measure.go. Release time r(s) of a step is when its
  dependencies (depends_on, lower canary waves, dependency targets) could all be done with no
  waiting: r(s) = max r(d) + D(d). Then bound = max of: every bucket of mutating calls,
  max_j (r_j + (n − j)/cap) + D (n calls at the bucket's cap, releases sorted); the longest
  chain, max r(s) + D(s); and Σ D / parallelism. Caps are the executor's: documented ones
  (kafka 2/s, redis 20/s), 10/s where undocumented.

## What moved the numbers

The first run of this bench, against the executor as the first wave left it, missed three
targets: 290 throttling answers (kafka and redis UpgradeInstance: the server stamps a request
late when it is busy, so token spacing with a 4% margin did not keep its sliding second under
the cap), a makespan 1.26× the bound (steps queued for kafka's and mongodb's tokens held the
parallelism slots, so redis started 12 s late, and chained redis steps each waited for a
15 s poll), and polling at 25% of all calls (slot pressure, and every chained step asking for
an immediate poll of its own). The executor now has a sliding-window guard per bucket, plan
order and per-bucket gates for slots, polls timed by an observed duration estimate only while
something waits on a step, and chained steps judged from their predecessor's poll: see the
package doc of executor.

Above the bound, the makespan spends: the refresh (one bulk read per group, under a second),
the kafka canary's completion lag (checks probe at 0.5 s × 1.25^k before any duration is
known), the 1% rate margin, and the last completion's lag (checks every d/4 once due).
`
