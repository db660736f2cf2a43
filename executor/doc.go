// Package executor owns `apply`: it schedules a plan's steps (dependencies, canary waves,
// parallelism), takes a token from a per-(account, action) bucket for every request, retries
// what is safe to retry, polls completion in batches, keeps the change window and failure
// budget, and writes a crash-safe journal and the run record. It never switches on a kind.
//
// Where to look: machine.go is the step machine (phases pending, waiting, sending,
// maybe-sent, accepted, final; one pure function advance(state, input) returning the next
// state, the journal entries and what to do; machine_test.go has a row per transition);
// driver.go runs one goroutine per step that persists each transition and then acts;
// scheduler.go holds dependencies, slots and gates; reconcile.go rebuilds the machines on
// resume; window.go the window, budget and stop; runrecord.go run.json; progress.go the ETA;
// limiter.go the buckets; observe.go the batched polls; lock.go the locks; state.go the
// run-state backend (journal, record, locks, ledger, leases) that statedir.go keeps in a
// local directory and executor/pgstate in PostgreSQL; lease.go the instance leases.
//
// Choices where docs/design.md is silent:
//
//   - Rate limits: a bucket of burst 1 refilling at cap·(1−SafetyMargin) (1%), and a window
//     guard: request n+⌊cap⌋ of a bucket is sent only once request n was sent more than
//     WindowGuard (1 s + 2 ms) plus its jitter ago, its jitter being how much longer its
//     round trip was than the bucket's fastest (the whole round trip until 16 were
//     measured). The server stamps a request somewhere between our send and its answer,
//     and the fixed part of a round trip delays every stamp alike, so no sliding second at
//     the server sees more than the cap under jittered latency (limiter_latency_test.go:
//     50–300 ms, 0 throttles), while a long constant latency costs nothing: the rate does
//     not depend on the round trip (the guard used to count from the answer: 1.25× slower
//     at +250 ms). On a throttling answer the bucket halves (down to cap/32) and climbs
//     back by cap/8 after each quiet second. Plan's Limiter (LimiterOptions.Lump,
//     PlanLump) ends every wait of a request, the guard's and its token's, on the next
//     50 ms of the wall clock, and lets a bucket keep 50 ms of its rate as tokens, so
//     plan's many kernel reads wake and leave in lumps and the process wakes once per
//     lump (limiter_lump_test.go); apply sends each request as soon as it may (burst 1).
//   - Scheduling: parallelism and maxConcurrent slots hand a free place to the work that
//     bounds the makespan: the bucket with the most rate-limited time left (unsent calls at
//     its rate; for a kind whose verdicts cost a read each, its remaining reads at the read
//     cap if that is longer), plus the waiter's remaining chain (its own upgrade and all that
//     waits for it: next steps, later waves, dependent targets, in ShortestOperation units,
//     scaled by the action's duration estimate over its ShortestOperation once a completion
//     was seen, so both terms are in the seconds this run sees), plus the largest
//     rate-limited time of another bucket among the targets that wait for the waiter's
//     target through dependsOn (afterwork.go: a dependent target of 1,000 steps outranks its
//     short chain of operations); within a
//     bucket the longest chain, then plan order (slots.go). Plan order ran accounts one
//     after another. Waves and target dependsOn are barriers that count their unfinished
//     steps (barrier.go), never pairs of steps; a step gets a goroutine once its
//     dependencies finished, and at most 2×parallelism ready steps wait for slots with one
//     (admission.go). The gate per bucket of mutating calls hands out in chain order. The gate admits ⌈cap⌉ steps of a bucket at a time (about a second of its calls)
//     to judge their instance and wait for their tokens, and is left once the call is
//     answered. A step takes its maxConcurrent and parallelism slots last, in the send
//     guard after its token (sendslot.go), and waits for them only while its verdict is
//     within the look freshness bound (it renews the verdict, without a slot, and queues
//     again), so parallelism counts the steps between their call and their seen
//     completion and nothing before: a step waiting for its lease, its look (a MongoDB
//     look reads a kernel from a 10/s bucket) or its token holds no slot, except where a
//     verdict costs a read of its own (provider.Spec.ReadPerWatch): such a step takes its
//     slot before its look, at its bucket's gate, and holds it through the look and its
//     token, since a verdict that ages while it waits for the slot is a read thrown away
//     and renewing it reads the instance again (driver.go, sendslot.go; at parallelism 1
//     a look before the slot was read again for 15 of 24 MongoDB steps). Its gate
//     therefore admits only what the pace of its reads needs (readgate.go: half its read
//     cap a second, over three of its round trips, at least half a second, at most ⌈cap⌉):
//     a gate of ⌈cap⌉ queued 10 MongoDB steps, slot held, at the 10/s kernel reads, 1.2 s
//     each (bench realistic: 1.44× → 1.36× the bound). Taking the slot
//     before the look and the token left 10–30% of the slots idle at parallelism 50
//     (bench realistic, -size 3000: 1.79× → 1.64× the bound with this alone). The call's
//     record starts there too (started_at is the first call). A step whose instance is
//     busy gives back its slot and gate place while it waits (polled at the slow cadence)
//     and queues again once a poll shows the instance ready.
//   - Polling: a group is polled only while it has steps queued for a look. A step about to
//     start (judge, reconcile) is answered by an immediate poll. A started step is checked at
//     the slow cadence (settings.pollInterval) unless something waits on it: a step waiting
//     for a parallelism or maxConcurrent slot, or its bucket having no other step ready to
//     send (canary waves, chains, target dependencies and the end of a bucket's work all look
//     like this), because only then does completion lag stretch the run. A step awaited only
//     by its bucket's idle rate takes its slack (slack.go): the run's remaining time by the
//     rate caps and estimates (the ETA's largest bucket) less its bucket's remaining work and
//     the chain after it (rank, scaled as slotScore scales it); with slack left its group is
//     checked half the slack apart (at most the poll interval, at least d/4), so the end of
//     a bucket that finishes long before the run (Compute Nest, RabbitMQ in the ideal bench)
//     is seen late at no cost, while the bucket that is the run's end, a canary whose wave
//     waits, or a chain whose rest is the tail is checked every d/4. A slot waiter always
//     makes every step in flight eager (at parallelism that binds every second of lag holds
//     a slot another step waits for). Before its action's first completion a step has no
//     slack (its probes learn the duration). For a ReadPerWatch kind (MongoDB) the remaining
//     work counts its two reads per unsent step and one per accepted step at its read cap,
//     since verdicts and confirmations share that bucket, and its checks always take their
//     slack (a confirmation put off piles up behind the verdicts); a started MongoDB step
//     rides another's poll (a DescribeDBInstances page, and a kernel read once Running) only
//     while it has no slack or is due, not on every verdict read of its group. The
//     observer looks at its queue's timing at least every second, since slack changes
//     without anyone telling. An awaited step is
//     checked when it is due: at since + d, where d is the shortest time from an accepted
//     call to a seen completion of the same kind/action (every sample is the duration plus a
//     lag, so the minimum is closest), then d/4, d/2, d, … after each previous check; polls asked for this way
//     are at least d/4 apart, so a burst of steps sent over the last d costs about four
//     polls. A step that becomes awaited long after it was due starts that series when it
//     becomes awaited, not from its call. A step nothing waits on is checked at the slow
//     cadence but never before the series says it is due, and the series' slow end is the
//     longer of the poll interval and d (probes stop growing at 2 s): a poll interval far
//     below the durations (the realistic bench's 25 ms, 15 s at its time scale) no longer
//     polls every group at that fixed cadence. Before any completion of that action, checks probe at 0.5 s × 1.25^k after the
//     call, up to the poll interval; a poll counts as a probe of every step it covers, so
//     a covered step's next probe is its series' spacing at its age after that poll (never
//     further apart than its own series), and the probes of steps sent a moment apart do
//     not interleave into a poll every 100 ms (observe_probe_test.go: 28 → 21 polls for
//     eight steps 200 ms apart). Why the list-polled kinds still poll about twice per step
//     in the realistic bench: at parallelism 50 a step always waits for a slot, so every
//     step in flight is awaited and its group is checked every d/4 once it is due, d being
//     the shortest completion seen; with durations spread ±50% most steps are due well
//     before they end (kafka: 24 steps per group, 54 polls, 21 of them showing an end).
//     Fewer would need longer gaps, that is more lag on a slot a waiting step needs. Lag then stays under d/4 where it matters, and polling
//     stays a few percent of the calls where it does not (bench/RESULTS.md).
//   - Judge before every send: a step's call goes out only on an observation at most
//     DefaultLookFreshness (5 s; Options.LookFreshness, `apply --look-freshness`) old at the
//     moment its rate-limit token comes; an older verdict is replaced by a look right
//     before the call (in the send guard, before the intent), and the call goes out only if
//     the instance still shows ready (otherwise it is judged from that look: noop, drifted,
//     busy; the record's `before` is what the call was judged on). A throttled call's
//     resends inside the Limiter are not judged again. The looks are shared: every poll of a
//     group carries, as riders, as many watches as its bucket sends in half the bound (at
//     least 50: a fixed 50 held RabbitMQ at 100,000 instances, 25 list pages a poll at
//     10/s, to about 20 sends a second; riders.go), first of its steps waiting for their
//     tokens or slots (their verdict is then the poll's), then of its steps about to start
//     (past their gate, waiting for the window), in both cases only those whose verdict is
//     older than half the bound, lowest plan index first (a watch can cost a read of its
//     own: every MongoDB token waiter riding every poll, and every step queued at the gate
//     every 2.5 s, took more than the 10/s of kernel reads, and each completion check of
//     MongoDB waited seconds behind them); a chained step rides in its predecessor's completion check. A step
//     passing its last wait uses such a verdict if it is within the bound. So one look of a
//     group covers the calls whose tokens come in the next few seconds, where a look per
//     call (the 20 ms bound of issue 12) made polls as many as sends and put a read's round
//     trip of a rate-capped describe in front of every call. Why 5 s: a look never shows
//     an instance as it is, only as the cloud's list shows it, and the lists lag by
//     seconds (the products declare 1-2 minutes of VisibilityGrace for that lag); another
//     actor's change made within that lag before our call is missed by any look, so a
//     verdict 5 s old widens the blind spot by under a tenth of the shortest declared
//     grace. It is longer than a bucket's gate lets a step wait for its token (about a
//     second of calls), so a gate's token waiters share one look; at kafka's 2/s an
//     account sends at most 10 calls per look. It bounds only another actor's race: our
//     own calls are never repeated on a guess (maybe-sent waits for the visibility grace).
//     Products whose list lacks the planned field pay for every rider
//     (provider.Spec.ReadPerWatch: MongoDB reads each not-started instance's kernel with
//     DescribeDBInstanceAttribute, one call per watch): there nothing rides, and a step
//     takes its slot first and then the one look its call needs, since a verdict taken
//     while a step may still wait longer than the bound is a read thrown away (the
//     realistic bench read MongoDB kernels up to five times per call; now one judgement
//     and one confirmation per step).
//   - The refresh at the start judges one step per group, not the whole fleet nor what its
//     bucket sends in the first second: it proves every group can be read before any call
//     (a refresh that cannot read a group ends the segment before any call, exit 1), a
//     verdict older than the bound is taken again anyway, and every kind's first call waits
//     for the slowest group's refresh (MongoDB reads a kernel per watch at 10/s, shared by
//     an account's regions: a second's worth of steps held every kind 2.4 s, the whole
//     fleet minutes). The steps it leaves are judged by the looks before their calls (noop,
//     drifted and missing steps end there, without a call).
//   - Progress ETA (Counters.ETA): for every bucket of mutating calls, its unsent calls at the
//     bucket's current rate plus the duration estimate above (or, once all are sent, what is
//     left of the last one's), the largest of these; a best case that leaves out dependencies,
//     slots and polling lag. Before any completion only the rate part is known.
//   - Refresh: one Observe per (kind, account, region) for every step that can be judged at
//     once; its noop, drifted and failed verdicts end steps at once. A chain whose instance
//     already shows the chain's final `to` is noop as a whole, so re-applying a plan that
//     succeeded exits 0.
//   - Dependencies: a step starts when every step it depends on, every step of every target
//     its target depends on, and every step of a lower canary wave of its target succeeded or
//     was a noop. A failed, skipped or drifted dependency skips it (a drifted step was not
//     applied, so what was planned after it must be re-planned); a dependency that did not
//     run (window, budget, signal) leaves it not-started, so a resume runs it.
//   - Missing instances at refresh are drifted; an instance already in a failed state fails
//     its step without a call.
//   - Exit 2 for any failed, skipped or drifted step; exit 3 whenever a step is left
//     not-started or cancelled, even if others failed (the run can be resumed).
//   - Failure budget: the run stops starting steps once failures exceed max_failures ("3": the
//     fourth failure stops; "5%": of the plan's steps, rounded down). It counts the failures of
//     the current segment, so that a resume, after a person looked at them, finishes the rest.
//   - Window: no step starts before start (apply waits) or after end−cutoff. The plan's window
//     is what was reviewed, so a resume after it closed starts nothing and exits 3 again —
//     unless the operator names the next window (Options.Window, `--resume DIR --window
//     START/END`), which replaces the plan's for that segment, keeps its cutoff, and is
//     journaled and recorded in the segment (run.json segments[].window_override).
//   - Mutating calls: token taken → intent journaled (fsync, by the send guard the Limiter
//     runs right before the request; refused once the run stopped) → call → result journaled
//     (written; the next intent's fsync makes it durable). A journal write that fails stops the run (exit 3): the call whose intent could
//     not be written is not sent, the steps not started are not-started.
//   - Maybe sent: a 5xx or an unknown outcome (timeout, dropped connection; on resume an
//     intent without a result, or such a result) makes the step maybe-sent. Any sign of the
//     change (busy, `to`) makes it accepted or succeeded, recorded "the call's answer was
//     lost (request id unknown)", never noop. Only an instance still untouched once the
//     product's visibility grace (provider.Spec.VisibilityGrace; Options.VisibilityGrace,
//     `apply --visibility-grace`) has passed since the call gets the call again, with the
//     same ClientToken ("upgp-" + 32 hex of SHA-256(digest, step id); the digest covers
//     created_at), within the attempt bound. An in-place change (below) shows nothing once
//     it is over, nor does a failed change of a product whose failures roll back without a
//     trace (provider.Spec.FailureLeavesNoTrace: MongoDB), so such a call is sent again only
//     if this segment watched the instance over the whole grace, no two looks (the call
//     counting as the first) further apart than the product's ShortestOperation (the
//     shortest busy spell; Options.ShortestOperation, `--shortest-operation`), for a restart
//     in place also twice settings.pollInterval; otherwise (a crash between the call and its
//     answer and a resume later than that, reads failing) it fails in doubt, never made
//     twice on a guess. What remains: a busy spell shorter than the declared shortest
//     operation can be missed; the APIs in use carry no task or order id that would show a
//     lost call (RabbitMQ's orderId and Redis's DealId come only in the answer that was
//     lost; RabbitMQ and Compute Nest dedupe a resend by ClientToken instead). A change the
//     cloud carries out later than its call (provider.Spec.Deferred: a MongoDB upgrade in
//     the maintenance window) is never sent again: untouched proves nothing before the
//     window, so the step is looked at until the change shows, and fails in doubt at
//     stepTimeout.
//   - Nothing to change: a call refused as having nothing to do (provider.ClassNoChange:
//     alikafka's ONS_INIT_ENV_ERROR) ends an in-place step noop, or succeeded when an
//     earlier attempt's answer was lost; for any other step it is a permanent failure, since
//     the look right before the call showed `from`.
//   - Busy refusals: a call the cloud refused because the instance is busy with an earlier
//     change (provider.ClassBusy, RabbitMQ's …TopicMigrating while its list shows it
//     serving) did nothing: the step waits as for a busy instance (no slot held), is judged
//     afresh at the next poll that shows it ready, and is sent again; refusals count as no
//     attempt, and stepTimeout from the first refusal bounds the wait.
//   - In place: a change whose `to` shows nothing its `from` does not (Kafka's latestMinor)
//     is done once the instance was seen busy after the call and then done, or, never seen
//     busy, once done after the visibility grace (noted in the record).
//   - Resume: only with the very plan file (digest) the run began. Finished steps keep their
//     record; an accepted step is judged from a fresh observation before stepTimeout (which
//     counts from the call) applies, and seen done it succeeded whenever seen; maybe-sent
//     steps are reconciled as above; a step whose last call the journal shows refused
//     (permanent, or nothing to change) ends as that segment ended it, even when a kill
//     came before its own record; everything else runs afresh.
//   - Locks: an exclusive lock per plan digest in the lock directory (LockDir:
//     $UPGRADEPLAN_LOCK_DIR, else ~/.cache/upgradeplan/locks or the platform's
//     equivalent, from the home directory alone, plus earlier versions' session
//     directories where they exist, LegacyLockDirs; `apply --lock-dir`) and one per run directory (DIR/lock), through
//     gofrs/flock; nothing is written next to the plan. A second apply gets *LockedError
//     (exit 5) naming the holder's pid, host and start time.
//   - Instance leases: before a step judges its instance for its call (and before a resumed
//     step follows its call), it takes the state's lease on (cloud, region, instance), held
//     until the step ends in this segment. While another run holds it the step waits,
//     saying who holds it, without a slot; once it waited for stepTimeout it fails
//     (InstanceLeased, nothing sent). The local directory grants every lease (it knows no
//     other run); the PostgreSQL state keeps runs that share a database apart. A step
//     keeps the verdict it holds when it takes its lease unless the state says
//     (ForeignChanges) that another run's step changed the instance: then it waits until
//     that change can show (the kind's visibility grace from it) and judges afresh.
//   - Shards (Options.Shard, a state runners share): a runner runs the steps of the
//     accounts dealt to its shard (ShardOf: sorted accounts, round-robin, so an account's
//     rate limits stay with one runner); another shard's step is followed through the state
//     (ShardedRunState.StepRecords, every second) and ends a dependency once final there.
//     Each shard has its own journal, record and plan lock; MergeShards makes the run's
//     record. A step whose lease came from a shared state is judged afresh (no verdict
//     ridden in before the lease), since another run may have changed the instance.
//   - Nothing attempted (exit 1) in a new run leaves no journal, record or directory behind.
//   - Dry run: steps end `succeeded` with reason "dry run: not sent" (or "dry run: the API's
//     own dry run accepted the call" where Spec.DryRun); a chained step is judged as if its
//     predecessors had reached their `to`; no intents are journaled and a dry run cannot be
//     resumed.
//   - Signals: the context passed to Apply is the first signal (stop starting, also ending
//     waits for tokens, gates and busy instances; follow the steps in flight; exit 3). Steps in
//     flight whose polls keep failing are followed for Options.StopTimeout (`--stop-timeout`,
//     default 3 minutes) after the stop, then recorded cancelled, in doubt, for a resume.
//     Options.Hard is the second signal, or apply's --stop-deadline passed since the first
//     (Options.HardWhy says which: abandon the steps in flight, recorded cancelled
//     saying whether their call was sent, and the answer of a call in flight kept when it
//     came back; the outcome names how many).
package executor
