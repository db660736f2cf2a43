package executor

// This file keeps the run record (run.json): each step's record follows its machine, every
// change is journaled, and the outcome says truthfully how the segment ended.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/upgradeplan/upgradeplan/planner"
	"github.com/upgradeplan/upgradeplan/provider"
)

// statusOfMachine is the record status of a machine state.
func statusOfMachine(m machine) Status {
	switch m.Phase {
	case PhaseFinal:
		return m.Status
	case PhaseSending, PhaseMaybeSent, PhaseAccepted:
		return StatusRunning
	}
	return StatusPending
}

// syncRecord copies the step's machine into its record (caller holds r.mu) and reports
// whether anything a reader sees changed.
func (r *run) syncRecord(s *stepState) bool {
	m, rec := s.m, s.rec
	st := statusOfMachine(m)
	state := m.Phase
	if state == PhaseFinal {
		state = ""
	}
	changed := rec.Status != st || rec.Reason != m.Reason || rec.State != state || (m.Error != nil) != (rec.Error != nil)
	rec.Status, rec.Reason, rec.State, rec.Error = st, m.Reason, state, m.Error
	if m.Before != nil && rec.Before == nil {
		rec.Before = m.Before
	}
	if m.After != nil {
		rec.After = m.After
	}
	now := time.Now().UTC()
	if st == StatusRunning && rec.StartedAt == nil {
		rec.StartedAt = &now
	}
	if m.Phase == PhaseFinal && changed && rec.StartedAt != nil {
		rec.FinishedAt = &now
		rec.DurationSeconds = now.Sub(*rec.StartedAt).Seconds()
	}
	r.recount(s)
	return changed
}

// snapshot journals the step's whole record (dry runs journal too: no intents though).
func (r *run) snapshot(s *stepState) {
	r.mu.Lock()
	c := cloneStep(*s.rec)
	r.mu.Unlock()
	if err := r.write(Entry{Type: EntryStep, StepID: c.ID, Step: &c}); err != nil {
		r.journalFailed(err)
	}
}

func cloneStep(c StepRecord) StepRecord {
	c.RequestIDs = append([]string(nil), c.RequestIDs...)
	if c.Error != nil {
		e := *c.Error
		c.Error = &e
	}
	return c
}

// writeRecord writes run.json as it stands.
func (r *run) writeRecord() error {
	rec := r.snapshotRecord()
	if r.opts.OnRecord != nil {
		r.opts.OnRecord(rec)
	}
	return r.state.WriteRecord(context.Background(), rec)
}

func (r *run) snapshotRecord() *Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := *r.rec
	rec.Steps = make([]StepRecord, len(r.rec.Steps))
	for i := range r.rec.Steps {
		rec.Steps[i] = cloneStep(r.rec.Steps[i])
	}
	seg := r.segment
	rec.Segments = append(append([]Segment(nil), r.rec.Segments...), seg)
	rec.Counts = map[Status]int{}
	for i, s := range rec.Steps {
		if !r.steps[i].foreign {
			rec.Counts[s.Status]++
		}
	}
	rec.Buckets = mergeBuckets(r.prior, r.limiter.Stats())
	return &rec
}

// finish sets the outcome, journals the segment's end and writes run.json.
func (r *run) finish() (*Record, error) {
	now := time.Now().UTC()
	why, stoppedEarly := r.stopped()
	r.mu.Lock()
	notRun, bad, cancelled, sent := 0, 0, 0, 0
	for i, s := range r.rec.Steps {
		if r.steps[i].foreign {
			continue
		}
		switch s.Status {
		case StatusCancelled:
			cancelled++
			if s.Attempts > 0 {
				sent++
			}
			notRun++
		case StatusNotStarted, StatusPending, StatusRunning:
			notRun++
		case StatusFailed, StatusSkipped, StatusDrifted:
			bad++
		}
	}
	why = stopReason(why, r.hardWhy(), r.hard, cancelled, sent, r.stopTimeout)
	var out Outcome
	switch {
	case notRun > 0:
		out = Outcome{Result: "stopped", Reason: orDefault(why, "stopped"), ExitCode: ExitStopped}
	case bad > 0:
		out = Outcome{Result: "failed", ExitCode: ExitFailed}
	default:
		out = Outcome{Result: "succeeded", ExitCode: ExitOK}
	}
	if !stoppedEarly || notRun == 0 {
		why = ""
	}
	r.segment.FinishedAt = now
	r.segment.Stop = why
	r.rec.Outcome = out
	r.rec.FinishedAt = now
	r.mu.Unlock()
	rec := r.snapshotRecord()
	r.write(Entry{Type: EntryEnd, Time: now, Stop: why})
	if err := r.state.WriteRecord(context.Background(), rec); err != nil {
		return rec, fmt.Errorf("%w: %w", ErrRecordNotWritten, err)
	}
	return rec, nil
}

// hardWhy says why Options.Hard was closed: Options.HardWhy's answer, else the second signal.
func (r *run) hardWhy() string {
	if r.opts.HardWhy != nil {
		if why := r.opts.HardWhy(); why != "" {
			return why
		}
	}
	return "second signal"
}

// stopReason completes the reason the run stopped with what became of the steps in
// flight: followed to the end, or how many were cancelled and whether their calls were sent.
func stopReason(why, hardWhy string, hard bool, cancelled, sent int, stopTimeout time.Duration) string {
	if why == "" {
		return ""
	}
	switch {
	case hard:
		why = strings.TrimSuffix(why, ": exited without waiting for the steps in flight")
		if !strings.HasPrefix(why, hardWhy) {
			if hardWhy == "second signal" {
				hardWhy = "a second signal"
			}
			why += "; then " + hardWhy
		}
		return fmt.Sprintf("%s: exited without waiting for the steps in flight; %d cancelled (%d with a call sent: resume reconciles them)", why, cancelled, sent)
	case cancelled > 0:
		return fmt.Sprintf("%s; %d steps in flight cancelled, in doubt: their polls failed for --stop-timeout %s (%d with a call sent: resume reconciles them)", why, cancelled, stopTimeout, sent)
	case strings.Contains(why, "no new steps started"):
		return why + "; the steps in flight were followed to the end"
	}
	return why
}

func mergeBuckets(prior, now []BucketStats) []BucketStats {
	type key struct{ a, b string }
	m := map[key]*BucketStats{}
	var out []BucketStats
	for _, list := range [][]BucketStats{prior, now} {
		for _, b := range list {
			k := key{b.Account, b.Action}
			if have, ok := m[k]; ok {
				have.Calls += b.Calls
				have.Throttles += b.Throttles
				have.Polls += b.Polls
				have.MinRate = min(have.MinRate, b.MinRate)
				have.Rate = b.Rate
				continue
			}
			c := b
			m[k] = &c
		}
	}
	for _, b := range m {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].Action < out[j].Action
	})
	return out
}

func planRef(p *planner.Plan, opts Options) PlanRef {
	if p == nil {
		return PlanRef{Path: opts.PlanPath}
	}
	return PlanRef{Path: opts.PlanPath, Digest: p.Digest, Name: p.Manifest.Name,
		ManifestPath: p.Manifest.Path, ManifestSHA256: p.Manifest.SHA256, CreatedAt: p.CreatedAt}
}

func refusedRecord(p *planner.Plan, opts Options, err error) *Record {
	now := time.Now().UTC()
	rec := &Record{Schema: RecordSchema, Tool: opts.ToolVersion, Plan: planRef(p, opts), DryRun: opts.DryRun,
		StartedAt: now, FinishedAt: now, Counts: map[Status]int{},
		Outcome: Outcome{Result: "refused", Reason: err.Error(), ExitCode: ExitRefused}}
	if p != nil {
		rec.Settings = p.Settings
	}
	return rec
}

// stepError turns a call's error into the record's StepError.
func stepError(err error) *StepError {
	se := &StepError{Class: provider.ClassOf(err), Message: err.Error()}
	if pe, ok := provider.AsError(err); ok {
		se.Code = pe.Code
		se.RequestID = pe.RequestID
		if pe.Message != "" {
			se.Message = pe.Message
		}
	}
	return se
}

// String renders a StepError for a log line: "Code: message (class, request id X)".
func (e *StepError) String() string {
	var b strings.Builder
	if e.Code != "" {
		b.WriteString(e.Code + ": ")
	}
	b.WriteString(e.Message)
	b.WriteString(" (" + string(e.Class))
	if e.RequestID != "" {
		b.WriteString(", request id " + e.RequestID)
	}
	b.WriteString(")")
	return b.String()
}

func describe(v provider.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, v[k])
	}
	return strings.Join(parts, ", ")
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
