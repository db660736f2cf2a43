package reliability

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/cloudsim/sim"
	"github.com/upgradeplan/upgradeplan/planner"
)

// checkScenario checks a scenario's history against the invariants of issue 12, from the
// simulator's applied record (ground truth) and the runs' records. It returns one line per
// violation.
//
//  1. At most one change applied by the tool per planned change (both runs together), each
//     one a change some step plans, sent while the instance still showed the step's from
//     (unless another actor's change became visible within lookRace before the call: the
//     look a call goes out on may be up to --look-freshness old; actorRace).
//  2. Every planned change ends at its `to`, or its record says why (a status other than
//     succeeded/noop, with a reason or an error).
//  3. Each run's record agrees with what the simulator applied for it: succeeded steps
//     made exactly one change (and show at `to` unless someone changed them since), noop,
//     drifted, skipped and not-started steps none; the request ids the cloud answered for
//     a step's change are in its record; no step is left pending or running; exit 0 only
//     when every step succeeded or had nothing to do.
//  4. No mutating call arrives after a SIGTERM, after the window's cutoff, or after the
//     failure budget was exceeded (beyond stopGrace, for a call already on its way).
//  5. The journal and run.json parse after every segment, kills included; a second apply
//     of the same plan (a copy, the same file, a same-digest re-plan) into another run
//     directory is refused: exit 5 while a segment of the first holds the plan's lock,
//     exit 4 once the first has claimed the plan (a plan is applied once), and it changes
//     nothing.
func checkScenario(sc *scenario, h *history) []string {
	v := append([]string(nil), h.problems...)
	c := newChecker(h)
	for key, d := range sc.listLag {
		c.listLag[productOf[key]] = d
	}
	v = append(v, c.oneChangePerStep()...)
	v = append(v, c.endsAtTo()...)
	if h.record == nil {
		v = append(v, "the main run left no readable run.json")
	} else {
		last := h.segments[len(h.segments)-1]
		v = append(v, c.recordAgrees("main run", h.record, false, last)...)
	}
	if h.second != nil && h.second.code != 5 && h.secondRecord != nil && h.secondRecord.Outcome.Result != "refused" {
		v = append(v, c.recordAgrees("second apply", h.secondRecord, true, *h.second)...)
	}
	v = append(v, c.noCallAfterStops(sc)...)
	if h.pg != nil {
		return append(v, c.secondPlanRan(sc)...)
	}
	return append(v, c.secondRefused(sc)...)
}

// checker holds a history indexed for the checks.
type checker struct {
	h      *history
	steps  map[string]planner.Step
	byStep map[string][]sim.AppliedChange // the tool's changes, by the step they carry out
	actors map[string][]sim.AppliedChange // actors' changes by instance
	strays []sim.AppliedChange            // the tool's changes no step plans
	// listLag is the scenario's list lag by simulator product name: a list shows an
	// actor's change up to this long after it became visible to describes.
	listLag map[string]time.Duration
}

// productOf names each state key's simulated product, as the applied record does.
var productOf = map[string]string{"kafka": "alikafka", "mongodb": "dds", "rabbitmq": "amqp-open", "computenest": "computenestsupplier", "redis": "redis"}

func newChecker(h *history) *checker {
	c := &checker{h: h, steps: map[string]planner.Step{}, byStep: map[string][]sim.AppliedChange{}, actors: map[string][]sim.AppliedChange{},
		listLag: map[string]time.Duration{}}
	for _, s := range h.plan.Steps {
		c.steps[s.ID] = s
	}
	for _, a := range h.applied {
		if a.Actor != "" {
			c.actors[a.Instance] = append(c.actors[a.Instance], a)
			continue
		}
		if id := c.stepOf(a); id != "" {
			c.byStep[id] = append(c.byStep[id], a)
		} else {
			c.strays = append(c.strays, a)
		}
	}
	return c
}

// stepOf names the plan step an applied change carries out: one of the instance's steps
// whose `to` holds every value the change set, and that the change makes in full.
func (c *checker) stepOf(a sim.AppliedChange) string {
	for _, s := range c.h.plan.Steps {
		if s.Instance == a.Instance && subset(a.To, s.To) && subset(changes(s), a.To) {
			return s.ID
		}
	}
	return ""
}

// changes are the values a step changes: those of its `to` that differ from its `from`
// (a chained step's `to` restates the fields the next step changes). MongoDB's
// maintenanceWindow in `to` says when the change is made (SwitchMode=1), not a value.
func changes(s planner.Step) map[string]any {
	out := map[string]any{}
	for k, v := range s.To {
		if k == "maintenanceWindow" {
			continue
		}
		if w, ok := s.From[k]; !ok || !same(v, w) {
			out[k] = v
		}
	}
	return out
}

// reached says whether the instance shows what the step changes.
func (c *checker) reached(s planner.Step) bool { return subset(changes(s), c.h.state[s.Instance]) }

// subset says whether every key of small has an equal value in big (numbers compared by value).
func subset(small, big map[string]any) bool {
	for k, v := range small {
		w, ok := big[k]
		if !ok || !same(v, w) {
			return false
		}
	}
	return true
}

func same(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }

func describe(a sim.AppliedChange) string {
	lost := ""
	if a.Dropped {
		lost = ", answer lost (" + a.Fault + ")"
	}
	return fmt.Sprintf("%s %s %v→%v request %s by %s%s", a.Action, a.Instance, a.From, a.To, a.RequestID, a.Account, lost)
}

func (c *checker) oneChangePerStep() []string {
	var v []string
	for _, a := range c.strays {
		if c.actorRace(a) {
			continue // a planned call on a look that missed another actor's change
		}
		v = append(v, "the cloud applied a change no step plans: "+describe(a))
	}
	for _, id := range sortedKeys(c.byStep) {
		list := c.byStep[id]
		if len(list) == 2 && c.h.pg != nil && c.oneAfterTheOther(c.steps[id], list[0], list[1]) {
			list = list[:1]
		}
		if len(list) > 1 {
			var ds []string
			for _, a := range list {
				ds = append(ds, describe(a))
			}
			v = append(v, fmt.Sprintf("%s: %d changes applied for one planned change:\n      %s", id, len(list), strings.Join(ds, "\n      ")))
		}
		s := c.steps[id]
		for _, a := range list {
			for k, was := range a.From {
				if want, ok := s.From[k]; ok && !same(was, want) && !c.actorRace(a) {
					v = append(v, fmt.Sprintf("%s: sent while %s was %v, not the plan's from %v (judged on a stale view): %s", id, k, was, want, describe(a)))
				}
			}
		}
	}
	return v
}

// upgradeTime is how long an upgrade takes in the checker's simulator (checkerHeader).
const upgradeTime = 20 * time.Second

// oneAfterTheOther says whether two changes of one latestMinor step are the two plans'
// own, the second sent after the first finished: the API cannot tell before the call
// whether the minor version is the latest, so each plan sends its own, and the lease only
// keeps them from running at once. (The simulator refuses a second one that has nothing
// to upgrade, ONS_INIT_ENV_ERROR, so this allows for a cloud that takes it.)
func (c *checker) oneAfterTheOther(s planner.Step, a, b sim.AppliedChange) bool {
	if latest, _ := s.To["latestMinor"].(bool); !latest || isSecond(a.Account) == isSecond(b.Account) {
		return false
	}
	return b.AcceptedAt.After(a.VisibleAt.Add(upgradeTime))
}

func (c *checker) endsAtTo() []string {
	var v []string
	rec := map[string]stepRecord{}
	if c.h.record != nil {
		for _, s := range c.h.record.Steps {
			rec[s.ID] = s
		}
	}
	for _, s := range c.h.plan.Steps {
		if c.reached(s) {
			continue
		}
		r, ok := rec[s.ID]
		switch {
		case !ok:
			v = append(v, fmt.Sprintf("%s: ends at %v, not at %v, and run.json has no record of it", s.ID, pick(c.h.state[s.Instance], s.To), s.To))
		case r.Status == "succeeded" || r.Status == "noop" || r.Status == "pending" || r.Status == "running":
			if !c.changedByActorAfter(s.Instance, time.Time{}) {
				v = append(v, fmt.Sprintf("%s: ends at %v, not at %v, but run.json says %s", s.ID, pick(c.h.state[s.Instance], s.To), s.To, r.Status))
			}
		case r.Reason == "" && r.Error == nil:
			v = append(v, fmt.Sprintf("%s: ends at %v, not at %v; run.json says %s without a reason", s.ID, pick(c.h.state[s.Instance], s.To), s.To, r.Status))
		}
	}
	return v
}

// pick returns the values of fields keys names.
func pick(have, keys map[string]any) map[string]any {
	out := map[string]any{}
	for k := range keys {
		out[k] = have[k]
	}
	return out
}

// actorRace says whether another actor's change of the tool's change's instance became
// visible within lookRace before the tool's change was accepted, to the product's lists
// (which trail the describes by up to its list lag): its call may have gone out on a look
// that missed it (the documented race of apply's --look-freshness), so its from, its
// record's before and even what the cloud made of it (a Kafka call for the version the
// actor just set is a restart) follow the actor's change.
func (c *checker) actorRace(made sim.AppliedChange) bool {
	for _, a := range c.actors[made.Instance] {
		inLists := a.VisibleAt.Add(c.listLag[a.Product])
		if inLists.After(made.AcceptedAt.Add(-lookRace)) && !a.VisibleAt.After(made.AcceptedAt) {
			return true
		}
	}
	return false
}

// racedCall says whether step r's call (one of its request ids) landed as a change no
// step plans, on an actor's change its look had missed (actorRace): a Kafka upgrade to
// the version an actor had just set is a restart. The instance is at the step's `to`.
func (c *checker) racedCall(r stepRecord) bool {
	for _, a := range c.strays {
		if a.Instance == r.Instance && slices.Contains(r.RequestIDs, a.RequestID) && c.actorRace(a) {
			return true
		}
	}
	return false
}

// changedByActorAfter says whether an actor changed the instance after t (zero: ever).
func (c *checker) changedByActorAfter(instance string, t time.Time) bool {
	for _, a := range c.actors[instance] {
		if a.AcceptedAt.After(t) {
			return true
		}
	}
	return false
}

// recordAgrees checks one run's record against the changes its account made.
func (c *checker) recordAgrees(label string, rec *runRecord, second bool, last segment) []string {
	var v []string
	mine := func(id string) []sim.AppliedChange {
		var out []sim.AppliedChange
		for _, a := range c.byStep[id] {
			if isSecond(a.Account) == second {
				out = append(out, a)
			}
		}
		return out
	}
	allSettled := true
	for _, r := range rec.Steps {
		made := mine(r.ID)
		n := len(made)
		switch r.Status {
		case "succeeded":
			if n == 0 && strings.Contains(r.Reason, "answer was lost") && c.actorMade(r.ID) {
				// A call whose answer was lost, then the instance seen at `to`, which an
				// actor made: the tool cannot tell who made it, and issue 12 has it
				// recorded succeeded with the note that the answer was lost (no request id).
				break
			}
			if n == 0 && c.racedCall(r) {
				break
			}
			if n != 1 {
				v = append(v, fmt.Sprintf("%s: %s is succeeded, but %d of the changes the cloud applied for this run carry it out", label, r.ID, n))
			}
			if s, ok := c.steps[r.ID]; ok && n == 1 && !c.reached(s) && !c.changedByActorAfter(r.Instance, made[0].AcceptedAt) {
				v = append(v, fmt.Sprintf("%s: %s is succeeded, but the instance shows %v, not %v", label, r.ID, pick(c.h.state[r.Instance], s.To), s.To))
			}
		case "noop", "drifted", "skipped", "not-started":
			if n != 0 {
				v = append(v, fmt.Sprintf("%s: %s is %s (%s), but this run's call changed it: %s", label, r.ID, r.Status, r.Reason, describe(made[0])))
			}
		case "pending", "running":
			allSettled = false
			if !last.killed {
				v = append(v, fmt.Sprintf("%s: %s is left %s after the run ended (%s)", label, r.ID, r.Status, last))
			}
		}
		if r.Status != "succeeded" && r.Status != "noop" {
			allSettled = false
		}
		ids := append(slices.Clone(r.RequestIDs), "")
		if r.Error != nil {
			ids = append(ids, r.Error.RequestID)
		}
		for _, a := range made {
			if !a.Dropped && !slices.Contains(ids, a.RequestID) && !c.answeredToTheKilled(a.RequestID) {
				v = append(v, fmt.Sprintf("%s: %s: the cloud answered request %s with success, the record names %v", label, r.ID, a.RequestID, r.RequestIDs))
			}
		}
		for _, rid := range r.RequestIDs {
			for _, a := range c.h.applied {
				if a.RequestID == rid && a.Instance != r.Instance {
					v = append(v, fmt.Sprintf("%s: %s names request %s, which changed %s", label, r.ID, rid, a.Instance))
				}
			}
		}
		if r.Status == "succeeded" && n == 1 && r.Before != nil {
			for k, was := range made[0].From {
				if b, ok := r.Before[k]; ok && !same(b, was) && !c.actorRace(made[0]) {
					v = append(v, fmt.Sprintf("%s: %s records before %s=%v, the cloud changed it from %v", label, r.ID, k, b, was))
				}
			}
		}
	}
	if last.code == 0 && !allSettled {
		v = append(v, fmt.Sprintf("%s exited 0 with steps not succeeded or noop", label))
	}
	return v
}

// actorMade says whether an actor's change made what the step changes.
func (c *checker) actorMade(id string) bool {
	s, ok := c.steps[id]
	if !ok {
		return false
	}
	for _, a := range c.actors[s.Instance] {
		if subset(changes(s), a.To) {
			return true
		}
	}
	return false
}

// answeredToTheKilled says whether the call with this request id came from a segment that
// was then killed: its answer may have died with the process before it was journaled.
func (c *checker) answeredToTheKilled(requestID string) bool {
	for _, call := range c.h.calls {
		if call.RequestID != requestID {
			continue
		}
		for _, seg := range c.h.segments {
			if seg.killed && !call.Time.Before(seg.start) && !call.Time.After(seg.end) {
				return true
			}
		}
	}
	return false
}

// noCallAfterStops checks the mutating calls of the apply against the stops.
func (c *checker) noCallAfterStops(sc *scenario) []string {
	var v []string
	calls := c.h.calls[c.h.planCalls:]
	// after lists the mutating calls after t (until until); mainOnly leaves out the second
	// apply's (a stop of the main run's segment is not the second plan's).
	after := func(what string, t time.Time, until time.Time, mainOnly bool) {
		var late []string
		for _, call := range calls {
			if !mutatingActions[call.Action] || call.Params["DryRun"] == "true" || mainOnly && isSecond(call.Account) {
				continue
			}
			if call.Time.After(t.Add(stopGrace)) && (until.IsZero() || !call.Time.After(until)) {
				late = append(late, fmt.Sprintf("%s %s at +%s (%s)", call.Action, call.Instance, call.Time.Sub(t).Round(time.Millisecond), orOK(call.Code)))
			}
		}
		if len(late) > 0 {
			v = append(v, fmt.Sprintf("%d mutating calls after %s: %s", len(late), what, strings.Join(late, "; ")))
		}
	}
	for _, seg := range c.h.segments {
		if !seg.stoppedAt.IsZero() {
			after("SIGTERM to "+seg.name, seg.stoppedAt, seg.end, true)
		}
	}
	if !c.h.cutoffAt.IsZero() {
		after("the window cutoff", c.h.cutoffAt, time.Time{}, false)
	}
	if sc.maxFailures >= 0 && c.h.record != nil {
		// The budget counts one segment's failures (executor/doc.go): a resume, after a
		// person looked at them, finishes the rest. So each segment is checked alone.
		for _, seg := range c.h.segments {
			var failed []time.Time
			for _, r := range c.h.record.Steps {
				if r.Status == "failed" && r.FinishedAt != nil && !r.FinishedAt.Before(seg.start) && !r.FinishedAt.After(seg.end) {
					failed = append(failed, *r.FinishedAt)
				}
			}
			sort.Slice(failed, func(i, j int) bool { return failed[i].Before(failed[j]) })
			if len(failed) > sc.maxFailures {
				after(fmt.Sprintf("the failure budget (%d) was exceeded in %s", sc.maxFailures, seg.name), failed[sc.maxFailures], seg.end, true)
			}
		}
	}
	return v
}

// secondRefused checks the second apply of the same plan, started once the main run had
// claimed it: refused with exit 5 if it ran wholly while a segment of the main run was
// alive (holding the plan's lock), with exit 4 if no segment was alive while it ran (the
// plan was applied elsewhere), with one of the two otherwise; and it changed nothing.
//
// Before the lead's decision that a plan is applied once, a second apply that got the lock
// after the first segment died was allowed to run and was checked like the main run; now a
// plan whose digest has a run in another run directory is refused (exit 4), which this
// asserts, so a latestMinor step can never run twice from two run directories.
func (c *checker) secondRefused(sc *scenario) []string {
	s := c.h.second
	if s == nil {
		return nil
	}
	var v []string
	for _, id := range sortedKeys(c.byStep) {
		for _, a := range c.byStep[id] {
			if isSecond(a.Account) {
				v = append(v, fmt.Sprintf("the second apply (%s) changed %s, but a plan is applied once: %s", sc.second, id, describe(a)))
			}
		}
	}
	within, overlaps := false, false
	for _, seg := range c.h.segments {
		if !s.start.Before(seg.start) && !s.end.After(seg.end) {
			within = true
		}
		if s.start.Before(seg.end) && seg.start.Before(s.end) {
			overlaps = true
		}
	}
	switch {
	case s.code != 4 && s.code != 5:
		v = append(v, fmt.Sprintf("the second apply (%s) exited %d; want 5 (locked) or 4 (the plan was already applied in %s)\n%s", sc.second, s.code, c.h.out, lastLines(s.stderr, 5)))
	case s.code == 4 && within:
		v = append(v, fmt.Sprintf("the second apply (%s) exited 4 while a segment of the main run held the plan; want 5", sc.second))
	case s.code == 5 && !overlaps:
		v = append(v, fmt.Sprintf("the second apply (%s) exited 5 while no segment of the main run was alive; want 4 (the plan was already applied)", sc.second))
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
